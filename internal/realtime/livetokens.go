package realtime

import (
	"context"
	"time"
)

// Which tokens have a live connection on this node is recorded in the
// store (a session list shows "connected now" whatever node answers), written
// behind in batches: a connect storm is one write per flush, not one per
// socket. The same loop stamps lastUsedAt of every live token each minute:
// holding a connection is using the token, so an app's idle timeout never
// ends a session that is connected (docs/sessions.md "Idle timeout").

// liveFlushEvery is how stale "connected" may be in a session list.
const liveFlushEvery = 250 * time.Millisecond

// liveStampEvery is how often live tokens' lastUsedAt is stamped; idleness
// is tracked to the minute.
const liveStampEvery = time.Minute

// liveChanged records that a token's first connection on this node opened
// (up) or its last one closed (h.mu held).
func (h *Hub) liveChangedLocked(hash string, up bool) {
	h.liveDirty[hash] = up
}

// TokenConnected reports whether this node holds a live connection of the
// token (the store knows about every node's, behind by a flush).
func (h *Hub) TokenConnected(hash []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byToken[string(hash)]) > 0
}

// flushLive writes the pending changes of live tokens.
func (h *Hub) flushLive(ctx context.Context) {
	h.mu.Lock()
	if len(h.liveDirty) == 0 {
		h.mu.Unlock()
		return
	}
	var up, down [][]byte
	for hs, on := range h.liveDirty {
		if on {
			up = append(up, []byte(hs))
		} else {
			down = append(down, []byte(hs))
		}
	}
	clear(h.liveDirty)
	h.mu.Unlock()
	if err := h.st.SetLiveTokens(ctx, h.cfg.Node, up, down); err != nil {
		h.log.Warn("realtime: recording live tokens failed", "up", len(up), "down", len(down), "err", err)
		// Retry with the next flush, unless a newer change superseded it.
		h.mu.Lock()
		for _, hs := range up {
			if _, newer := h.liveDirty[string(hs)]; !newer {
				h.liveDirty[string(hs)] = true
			}
		}
		for _, hs := range down {
			if _, newer := h.liveDirty[string(hs)]; !newer {
				h.liveDirty[string(hs)] = false
			}
		}
		h.mu.Unlock()
	}
}

// stampLive marks every token with a live connection here as used now.
func (h *Hub) stampLive(ctx context.Context) {
	now := h.cfg.Now().Unix()
	h.mu.Lock()
	stamps := make(map[string]int64, len(h.byToken))
	for hs := range h.byToken {
		stamps[hs] = now
	}
	h.mu.Unlock()
	if len(stamps) == 0 {
		return
	}
	if err := h.st.TouchAuthTokens(ctx, stamps); err != nil {
		h.log.Warn("realtime: stamping live tokens failed", "tokens", len(stamps), "err", err)
	}
}

// runLive flushes live tokens and stamps them until ctx ends.
func (h *Hub) runLive(ctx context.Context) {
	flush := time.NewTicker(liveFlushEvery)
	defer flush.Stop()
	stamp := time.NewTicker(liveStampEvery)
	defer stamp.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			h.flushLive(ctx)
		case <-stamp.C:
			h.stampLive(ctx)
		}
	}
}
