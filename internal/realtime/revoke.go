package realtime

import (
	"context"
	"errors"
	"time"

	"github.com/callgate/callgate/internal/store"
)

type revoked struct {
	reason Reason
	at     time.Time
}

const recentFor = time.Minute

// rememberLocked records revocations (h.mu held).
func (h *Hub) rememberLocked(reason Reason, keys ...string) {
	now := time.Now()
	if len(h.recent) > 10_000 {
		for k, r := range h.recent {
			if now.Sub(r.at) > recentFor {
				delete(h.recent, k)
			}
		}
	}
	for _, k := range keys {
		h.recent[k] = revoked{reason, now}
	}
}

func (h *Hub) recentlyRevokedLocked(hash string) Reason {
	if r, ok := h.recent[hash]; ok && time.Since(r.at) < recentFor {
		return r.reason
	}
	return ""
}

// RevokeTokens closes every connection of the given tokens of one app,
// here and on every other node.
func (h *Hub) RevokeTokens(ctx context.Context, appID string, hashes [][]byte, reason Reason) {
	set := make(map[string]bool, len(hashes))
	hexes := make([]string, len(hashes))
	for i, hs := range hashes {
		set[string(hs)] = true
		hexes[i] = HexHash(hs)
	}
	h.revokeTokenSet(set, reason)
	// NOTIFY payloads are limited to 8000 bytes and keys vary in length
	// (they begin with the uid): send them in chunks that fit.
	for len(hexes) > 0 {
		n, size := 0, 0
		for n < len(hexes) && (n == 0 || size+len(hexes[n])+3 <= maxEventKeys) {
			size += len(hexes[n]) + 3 // quotes and comma
			n++
		}
		h.publish(ctx, Event{Kind: KindRevokeTokens, AppID: appID, Hashes: hexes[:n], Reason: string(reason)})
		hexes = hexes[n:]
	}
}

// maxEventKeys is the room for keys in one event, leaving the rest of
// NOTIFY's 8000 bytes for the other fields.
const maxEventKeys = 7000

// RevokeUser closes every connection of a user, here and on every other
// node.
func (h *Hub) RevokeUser(ctx context.Context, appID, uid string, reason Reason) {
	h.revokeUserLocal(appID, uid, reason)
	h.publish(ctx, Event{Kind: KindRevokeUser, AppID: appID, UID: uid, Reason: string(reason)})
}

func (h *Hub) revokeUserLocal(appID, uid string, reason Reason) {
	key := store.UserKey(appID, uid)
	h.mu.Lock()
	victims := make([]*conn, 0, len(h.byUser[key]))
	for c := range h.byUser[key] {
		victims = append(victims, c)
	}
	inGrace := h.grace[key] != nil
	if inGrace {
		h.grace[key].timer.Stop()
	}
	h.endGraceLocked(key)
	h.mu.Unlock()
	h.revoke(victims, reason)
	if inGrace {
		h.markOffline(context.Background(), appID, uid)
	}
}

func (h *Hub) revokeTokenSet(set map[string]bool, reason Reason) {
	h.mu.Lock()
	var victims []*conn
	for hs := range set {
		h.rememberLocked(reason, hs)
		for c := range h.byToken[hs] {
			victims = append(victims, c)
		}
	}
	ended := h.revokeGraceLocked(set)
	h.mu.Unlock()
	h.revoke(victims, reason)
	for _, u := range ended {
		h.markOffline(context.Background(), u.AppID, u.UID)
	}
}

func (h *Hub) revokeWhere(match func(*conn) bool, reason Reason) {
	h.mu.Lock()
	var victims []*conn
	for _, set := range h.byUser {
		for c := range set {
			if match(c) {
				victims = append(victims, c)
			}
		}
	}
	h.mu.Unlock()
	h.revoke(victims, reason)
}

// revoke tells each connection why, closes it with 4001, and ends presence
// at once (no grace period: the session is over, not dropped).
func (h *Hub) revoke(victims []*conn, reason Reason) {
	users := map[string]Session{}
	for _, c := range victims {
		if h.unregister(c) {
			continue // already gone
		}
		c.shutdown(closeReq{msg: revokedMsg(reason), code: CloseRevoked, reason: string(reason)})
		users[c.key] = c.sess
	}
	for _, s := range users {
		h.markOffline(context.Background(), s.AppID, s.UID)
	}
}

func revokedMsg(reason Reason) []byte {
	return mustJSON(struct {
		Type   string `json:"type"`
		Reason Reason `json:"reason"`
	}{"session_revoked", reason})
}

// sessionDead says why a session is no longer valid, or "" if it is (or
// the database cannot tell).
func (h *Hub) sessionDead(ctx context.Context, hash []byte) Reason {
	tok, user, err := h.st.GetSession(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.mu.Lock()
		reason := h.recentlyRevokedLocked(string(hash))
		h.mu.Unlock()
		if reason == "" {
			reason = ReasonTokenDeleted
		}
		return reason
	case err != nil:
		return ""
	case user.DeactivatedAt != 0:
		return ReasonUserDeactivated
	case tok.ExpiresAt > 0 && h.cfg.Now().Unix() >= tok.ExpiresAt:
		return ReasonTokenExpired
	}
	return ""
}

// RevokeIssuedBefore closes the connections of an app's tokens (only uid's
// when uid is not "") issued before the second before, here and on every
// other node, and ends the presence their dropped connections hold.
func (h *Hub) RevokeIssuedBefore(ctx context.Context, appID, uid string, before int64, reason Reason) {
	h.revokeBeforeLocal(appID, uid, before, reason)
	h.publish(ctx, Event{Kind: KindRevokeBefore, AppID: appID, UID: uid, Before: before, Reason: string(reason)})
}

func (h *Hub) revokeBeforeLocal(appID, uid string, before int64, reason Reason) {
	match := func(s Session) bool {
		return s.AppID == appID && (uid == "" || s.UID == uid) && s.CreatedAt < before
	}
	h.mu.Lock()
	var victims []*conn
	pool := h.byApp[appID]
	if uid != "" {
		pool = h.byUser[store.UserKey(appID, uid)]
	}
	for c := range pool {
		if match(c.sess) {
			victims = append(victims, c)
		}
	}
	held := map[string]bool{}
	for hs, key := range h.heldBy {
		s := sessionOfKey(key)
		if dr, ok := h.drops[key][hs]; ok && match(Session{AppID: s.AppID, UID: s.UID, CreatedAt: dr.created}) {
			held[hs] = true
		}
	}
	ended := h.revokeGraceLocked(held)
	h.mu.Unlock()
	h.revoke(victims, reason)
	for _, u := range ended {
		h.markOffline(context.Background(), u.AppID, u.UID)
	}
}
