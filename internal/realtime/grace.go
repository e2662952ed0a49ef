package realtime

import (
	"context"
	"strings"
	"time"
)

// graceEntry is a user's pending offline after their last connection on
// this node dropped; it lasts while a dropped token of theirs is unrevoked.
type graceEntry struct {
	timer *time.Timer
}

// endGraceLocked forgets key's grace entry and dropped tokens (h.mu held);
// the caller stops or has fired the timer.
func (h *Hub) endGraceLocked(key string) {
	for t := range h.drops[key] {
		delete(h.heldBy, t)
	}
	delete(h.drops, key)
	delete(h.grace, key)
}

// drop is a dropped connection's token: when it dropped, and when the
// token was created (a revocation of tokens issued before a time ends it).
type drop struct {
	at      time.Time
	created int64
}

// noteDropLocked records that a connection of c's token dropped (h.mu
// held), forgetting drops older than the grace period.
func (h *Hub) noteDropLocked(c *conn, now time.Time) {
	d := h.drops[c.key]
	if d == nil {
		d = map[string]drop{}
		h.drops[c.key] = d
	}
	for t, dr := range d {
		if now.Sub(dr.at) > h.cfg.Grace {
			delete(d, t)
			delete(h.heldBy, t)
		}
	}
	d[c.hash] = drop{at: now, created: c.sess.CreatedAt}
	h.heldBy[c.hash] = c.key
}

// dropped handles a connection that ended by itself: the user goes offline
// only if no connection of theirs comes back within the grace period. It
// unregisters c and records the drop in one step: between the two, a
// revocation of the user's other dropped token would have found the user
// neither live nor in a grace period, and taken them offline.
func (h *Hub) dropped(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.unregisterLocked(c) || h.closed {
		return // a revocation removed it (its presence is already ended), or shutdown
	}
	// A token revoked while its connection was closing holds nothing: the
	// revocation found no connection, so it is applied here.
	if h.recentlyRevokedLocked(c.hash) == "" {
		h.noteDropLocked(c, time.Now())
	}
	if len(h.byUser[c.key]) > 0 {
		return // still live; the drop is remembered for the grace period
	}
	if len(h.drops[c.key]) == 0 {
		go h.markOffline(context.Background(), c.sess.AppID, c.sess.UID)
		return
	}
	g := h.grace[c.key]
	if g == nil {
		g = &graceEntry{}
		h.grace[c.key] = g
	} else {
		g.timer.Stop()
	}
	appID, uid, key := c.sess.AppID, c.sess.UID, c.key
	var t *time.Timer
	t = time.AfterFunc(h.cfg.Grace, func() {
		h.mu.Lock()
		// A timer that fired just as a reconnect stopped it is superseded:
		// it must neither remove the timer of a later drop nor end the
		// user's presence before that one's grace period (t is read under
		// h.mu, after dropped assigned it).
		cur := h.grace[key]
		mine := cur != nil && cur.timer == t
		if mine {
			h.endGraceLocked(key)
		}
		h.mu.Unlock()
		if mine {
			h.markOffline(context.Background(), appID, uid)
		}
	})
	g.timer = t
}

// revokeGraceLocked forgets revoked tokens' drops (h.mu held) and returns
// the users whose grace period they alone held, to take offline now. A user
// whose other dropped connection used a live token keeps its grace.
func (h *Hub) revokeGraceLocked(hashes map[string]bool) []Session {
	var out []Session
	for hs := range hashes {
		key, ok := h.heldBy[hs]
		if !ok {
			continue
		}
		delete(h.heldBy, hs)
		delete(h.drops[key], hs)
		if g := h.grace[key]; g != nil && len(h.drops[key]) == 0 {
			g.timer.Stop()
			h.endGraceLocked(key)
			out = append(out, sessionOfKey(key))
		}
	}
	return out
}

// sessionOfKey splits a user key (appID "/" uid; app ids hold no "/").
func sessionOfKey(key string) Session {
	appID, uid, _ := strings.Cut(key, "/")
	return Session{AppID: appID, UID: uid}
}
