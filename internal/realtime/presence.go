package realtime

import (
	"context"
	"hash/maphash"
	"sync"

	"github.com/callgate/callgate/internal/store"
)

func (h *Hub) userLock(key string) *sync.Mutex {
	return &h.userLocks[maphash.String(h.seed, key)%uint64(len(h.userLocks))]
}

func (h *Hub) markOnline(ctx context.Context, appID, uid, role string) {
	key := store.UserKey(appID, uid)
	l := h.userLock(key)
	l.Lock()
	defer l.Unlock()
	h.mu.Lock()
	// live: a revocation can unregister the connection after register's
	// session check and run its markOffline before we get the user lock;
	// marking the user online then would leave them online with no
	// connection, for good (no connection is left to end it). Nor is
	// anyone marked once Shutdown has withdrawn the node.
	already, live := h.marked[key], len(h.byUser[key]) > 0 && !h.closed
	h.mu.Unlock()
	if already || !live {
		return
	}
	now := h.cfg.Now().Unix()
	was, err := h.st.Online(ctx, appID, uid, now)
	if err != nil {
		h.log.Warn("realtime: presence read failed", "err", err)
	}
	if err := h.st.SetPresence(ctx, h.cfg.Node, appID, uid, true, now); err != nil {
		h.log.Warn("realtime: presence write failed", "err", err)
		return
	}
	h.mu.Lock()
	h.marked[key] = true
	h.mu.Unlock()
	if !was {
		h.announce(ctx, Event{Kind: KindPresence, AppID: appID, UID: uid, Role: role, Status: "online", LastActiveAt: now})
	}
}

func (h *Hub) remarkAll(ctx context.Context) {
	h.mu.Lock()
	clear(h.marked)
	for hs := range h.byToken { // the reaping dropped our live tokens too
		h.liveChangedLocked(hs, true)
	}
	var users []Session
	for _, set := range h.byUser {
		for c := range set {
			users = append(users, c.sess)
			break
		}
	}
	h.mu.Unlock()
	for _, u := range users {
		h.markOnline(ctx, u.AppID, u.UID, u.Role)
	}
}

// markOffline records that this node no longer holds the user and, if no
// other node does, tells everyone.
func (h *Hub) markOffline(ctx context.Context, appID, uid string) {
	key := store.UserKey(appID, uid)
	l := h.userLock(key)
	l.Lock()
	defer l.Unlock()
	h.mu.Lock()
	live, marked := len(h.byUser[key]) > 0, h.marked[key]
	if !live {
		delete(h.marked, key)
	}
	h.mu.Unlock()
	if live || !marked {
		return
	}
	now := h.cfg.Now().Unix()
	if err := h.st.SetPresence(ctx, h.cfg.Node, appID, uid, false, now); err != nil {
		h.log.Warn("realtime: presence write failed", "err", err)
	}
	h.announceIfOffline(ctx, appID, uid, now)
}

func (h *Hub) announceIfOffline(ctx context.Context, appID, uid string, now int64) {
	online, err := h.st.Online(ctx, appID, uid, now)
	if err != nil || online {
		return
	}
	h.announce(ctx, Event{Kind: KindPresence, AppID: appID, UID: uid, Status: "offline", LastActiveAt: now})
}

// announce delivers a presence event here and on every other node.
func (h *Hub) announce(ctx context.Context, ev Event) {
	h.broadcastPresence(ev)
	h.publish(ctx, ev)
}

// broadcastPresence puts a presence event in its app's feed, from which
// every connection of the app takes it (feed.go).
func (h *Hub) broadcastPresence(ev Event) {
	h.feedOf(ev.AppID).update(ev)
}

// feedOf returns an app's presence feed, making it if need be.
func (h *Hub) feedOf(appID string) *feed {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.feedOfLocked(appID)
}

func (h *Hub) feedOfLocked(appID string) *feed {
	f := h.feeds[appID]
	if f == nil {
		f = newFeed()
		h.feeds[appID] = f
	}
	return f
}
