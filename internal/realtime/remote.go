package realtime

import (
	"context"
	"encoding/hex"
	"time"
)

func (h *Hub) publish(ctx context.Context, ev Event) {
	ev.Origin = h.cfg.Node
	h.notify(ev)
	if err := h.bus.Publish(ctx, ev); err != nil {
		h.log.Warn("realtime: publishing event failed", "kind", ev.Kind, "err", err)
	}
}

// Ready reports whether the hub hears other nodes: always with the local
// bus; with PostgreSQL once its LISTEN is in place (/readyz waits for it,
// so a node takes traffic only when revocations can reach it).
func (h *Hub) Ready() bool {
	if _, local := h.bus.(LocalBus); local {
		return true
	}
	return h.listening.Load()
}

// Publish sends an event to the other nodes (for callers outside the hub:
// signing-key rotations).
func (h *Hub) Publish(ctx context.Context, ev Event) { h.publish(ctx, ev) }

// UserChanged tells other nodes to drop their cached sessions of a user.
func (h *Hub) UserChanged(ctx context.Context, appID, uid string) {
	h.publish(ctx, Event{Kind: KindUserChanged, AppID: appID, UID: uid})
}

func (h *Hub) applyRemote(ev Event) {
	if ev.Kind == KindResync {
		h.listening.Store(true) // the bus delivers one after every LISTEN
	}
	if ev.Origin == h.cfg.Node {
		return
	}
	// Caches first: once a revoked socket is closed, a REST call with its
	// token must fail too.
	if h.cfg.OnRemote != nil {
		h.cfg.OnRemote(ev)
	}
	switch ev.Kind {
	case KindRevokeTokens:
		set := make(map[string]bool, len(ev.Hashes))
		for _, x := range ev.Hashes {
			if b, err := hex.DecodeString(x); err == nil {
				set[string(b)] = true
			}
		}
		h.revokeTokenSet(set, Reason(ev.Reason))
	case KindRevokeUser:
		h.revokeUserLocal(ev.AppID, ev.UID, Reason(ev.Reason))
	case KindRevokeBefore:
		h.revokeBeforeLocal(ev.AppID, ev.UID, ev.Before, Reason(ev.Reason))
	case KindPresence:
		h.broadcastPresence(ev)
	case KindResync:
		h.resync()
	}
	h.notify(ev)
}

// Watch calls f with every event this node publishes (as it publishes it)
// and every event it hears from another node (once applied), KindResync
// included: the admin event streams follow an app through it. f runs on
// the caller's goroutine — a request's, or the bus's — so it must not
// block.
func (h *Hub) Watch(f func(Event)) {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	var list []func(Event)
	if old := h.watchers.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, f)
	h.watchers.Store(&list)
}

// ObservePresence has fn called with how late each presence frame is
// written: from the moment its oldest change reached this node's feed to
// the end of the write to a connection's socket (docs/realtime.md,
// "Presence"). Call it before the hub serves; fn must be quick, it runs
// once per frame per connection.
func (h *Hub) ObservePresence(fn func(time.Duration)) { h.presenceWritten = fn }

func (h *Hub) notify(ev Event) {
	if list := h.watchers.Load(); list != nil {
		for _, f := range *list {
			f(ev)
		}
	}
}

// resync re-checks every live connection against the database after the
// bus may have missed revocations.
func (h *Hub) resync() {
	h.mu.Lock()
	var all []*conn
	for _, set := range h.byUser {
		for c := range set {
			all = append(all, c)
		}
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range all {
		if reason := h.sessionDead(ctx, c.sess.TokenHash); reason != "" {
			h.revoke([]*conn{c}, reason)
		}
	}
}
