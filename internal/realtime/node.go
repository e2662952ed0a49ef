package realtime

import (
	"context"
	"sync"
	"time"

	"github.com/callgate/callgate/internal/store"

	"github.com/coder/websocket"
)

// Node is this hub's node id.
func (h *Hub) Node() string { return h.cfg.Node }

// Start registers this node's lease; call it before serving connections.
func (h *Hub) Start(ctx context.Context) error {
	_, err := h.st.RenewNode(ctx, h.cfg.Node, h.cfg.Now().Add(h.cfg.Lease).Unix())
	return err
}

// Run renews the node lease, reaps the presence of nodes whose lease
// lapsed (crashed), and applies other nodes' events, until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	go h.bus.Run(ctx, h.applyRemote)
	go h.sweep(ctx)
	go h.runLive(ctx)
	tick := time.NewTicker(h.cfg.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			h.heartbeat(ctx)
		}
	}
}

func (h *Hub) heartbeat(ctx context.Context) {
	h.hbMu.Lock()
	defer h.hbMu.Unlock()
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return
	}
	now := h.cfg.Now()
	existed, err := h.st.RenewNode(ctx, h.cfg.Node, now.Add(h.cfg.Lease).Unix())
	if err != nil {
		h.log.Warn("realtime: renewing node lease failed", "err", err)
	} else if !existed {
		// Our lease lapsed (a long stall or database outage) and another
		// node reaped our presence: record our users again.
		h.log.Warn("realtime: node lease had lapsed; re-registering presence")
		h.remarkAll(ctx)
	}
	users, err := h.st.ReapNodes(ctx, now.Unix())
	if err != nil {
		h.log.Warn("realtime: reaping lapsed nodes failed", "err", err)
		return
	}
	h.announceAllIfOffline(ctx, users, now.Unix())
}

// announceAllIfOffline announces the users of a reaped or withdrawn node
// that no other node holds, a few at a time: each is a database read and a
// NOTIFY, and one after another they took minutes on a loaded machine
// (18,000 sessions of 380 users on a killed node of five: after 90 s no
// session on the others had heard every user go offline).
func (h *Hub) announceAllIfOffline(ctx context.Context, users []store.UserRef, now int64) {
	work := make(chan store.UserRef)
	var wg sync.WaitGroup
	for range min(len(users), announceWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				h.announceIfOffline(ctx, u.AppID, u.UID, now)
			}
		}()
	}
	for _, u := range users {
		work <- u
	}
	close(work)
	wg.Wait()
}

// announceWorkers bounds the database connections a reaping takes.
const announceWorkers = 8

// Shutdown closes every connection ("going away") and withdraws this
// node's presence, so its users go offline now rather than at lease end.
func (h *Hub) Shutdown(ctx context.Context) {
	h.mu.Lock()
	h.closed = true
	var all []*conn
	for _, set := range h.byUser {
		for c := range set {
			all = append(all, c)
		}
	}
	for _, g := range h.grace {
		g.timer.Stop()
	}
	h.mu.Unlock()
	for _, c := range all {
		c.shutdown(closeReq{code: websocket.StatusGoingAway, reason: "server shutting down"})
	}
	h.hbMu.Lock() // wait out a heartbeat in flight; later ones see closed
	defer h.hbMu.Unlock()
	users, err := h.st.RemoveNode(ctx, h.cfg.Node)
	if err != nil {
		h.log.Warn("realtime: withdrawing node presence failed", "err", err)
		return
	}
	h.announceAllIfOffline(ctx, users, h.cfg.Now().Unix())
}
