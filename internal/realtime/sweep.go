package realtime

import (
	"context"
	"time"
)

// sweep runs the hub's periodic checks until ctx ends: slow consumers,
// stuck writes and pings every second (less often when the ping interval
// is shorter, as in tests), and the presence feeds' housekeeping every few
// seconds.
func (h *Hub) sweep(ctx context.Context) {
	tick := time.NewTicker(min(time.Second, h.cfg.PingInterval/4))
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			h.dropSlow()
			if n%20 == 0 {
				h.pruneFeeds()
			}
		}
	}
}

// dropSlow disconnects the connections whose socket has accepted nothing
// for stallAfter while presence waits for them, aborts writes that made no
// progress for WriteTimeout, pings the clients silent for the ping
// interval, and drops those that did not answer a ping within WriteTimeout.
func (h *Hub) dropSlow() {
	now := time.Now().UnixNano()
	silent, answer := int64(h.cfg.PingInterval), int64(h.cfg.WriteTimeout)
	h.mu.Lock()
	var slow, stuck, ping []*conn
	for _, set := range h.byApp {
		for c := range set {
			seen, pinged := c.lastSeen.Load(), c.pingAt.Load()
			switch {
			case c.stalled(h.cfg.WriteTimeout):
				stuck = append(stuck, c)
			case c.stalled(stallAfter) && c.behind():
				slow = append(slow, c)
			case pinged > seen:
				if now-pinged >= answer {
					stuck = append(stuck, c) // no answer to the ping
				}
			case now-seen >= silent+silent*int64(c.pingSkew)/1024:
				ping = append(ping, c)
			}
		}
	}
	h.mu.Unlock()
	for _, c := range slow {
		c.slow()
	}
	for _, c := range stuck {
		c.abort()
	}
	for _, c := range ping {
		c.ping()
	}
}

// pruneFeeds drops the feed entries every connection of the app has sent,
// and the feeds of apps with no connection here: a connection that comes
// later starts at the feed's head.
func (h *Hub) pruneFeeds() {
	h.mu.Lock()
	type job struct {
		f   *feed
		min uint64
	}
	var jobs []job
	for app, f := range h.feeds {
		conns := h.byApp[app]
		if len(conns) == 0 {
			delete(h.feeds, app)
			continue
		}
		lo := f.seq.Load()
		for c := range conns {
			lo = min(lo, c.cursor.Load())
		}
		jobs = append(jobs, job{f, lo})
	}
	h.mu.Unlock()
	for _, j := range jobs {
		j.f.prune(j.min)
	}
}
