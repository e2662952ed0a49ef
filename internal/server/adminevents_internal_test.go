package server

import (
	"testing"
	"time"

	"github.com/callgate/callgate/internal/realtime"
)

// A subscriber that stops reading is dropped once its buffer is full, and
// delivery never waits for it; the other subscribers of the app are served.
func TestAdminFeedSlowReader(t *testing.T) {
	f := newAdminFeed()
	slow, err := f.subscribe("app")
	if err != nil {
		t.Fatal(err)
	}
	fast, _ := f.subscribe("app")
	other, _ := f.subscribe("other")
	got := 0
	start := time.Now()
	for i := range adminBuffer + 10 {
		f.deliver(realtime.Event{Kind: realtime.KindPresence, AppID: "app", UID: "u", Status: "online", LastActiveAt: int64(i)})
		for drained := false; !drained; {
			select {
			case <-fast.frames:
				got++
			default:
				drained = true
			}
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("delivery took %v", d)
	}
	select {
	case <-slow.done:
		if slow.reason != endSlow {
			t.Errorf("dropped with %q", slow.reason)
		}
	default:
		t.Error("the slow subscriber was not dropped")
	}
	select {
	case <-fast.done:
		t.Error("the reading subscriber was dropped")
	default:
	}
	if got != adminBuffer+10 {
		t.Errorf("the reading subscriber got %d frames", got)
	}
	if len(other.frames) != 0 {
		t.Error("another app's subscriber got frames")
	}
	// Resync goes to every app; events of no app to none.
	f.deliver(realtime.Event{Kind: realtime.KindResync})
	f.deliver(realtime.Event{Kind: realtime.KindPresence, UID: "u", Status: "online"})
	if len(other.frames) != 1 || len(fast.frames) != 1 {
		t.Errorf("resync: %d and %d frames", len(other.frames), len(fast.frames))
	}
	// Shutdown ends the rest and refuses newcomers.
	f.close()
	<-fast.done
	<-other.done
	if _, err := f.subscribe("app"); err == nil {
		t.Error("a subscription after close")
	}
}

// One node keeps at most adminMaxPerApp streams of an app; other apps are
// not affected, and a stream that ends makes room.
func TestAdminFeedLimit(t *testing.T) {
	f := newAdminFeed()
	var subs []*adminSub
	for range adminMaxPerApp {
		s, err := f.subscribe("app")
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	if _, err := f.subscribe("app"); err == nil {
		t.Fatal("a stream over the limit")
	}
	if _, err := f.subscribe("other"); err != nil {
		t.Fatalf("another app: %v", err)
	}
	f.unsubscribe(subs[0])
	if _, err := f.subscribe("app"); err != nil {
		t.Fatalf("after one ended: %v", err)
	}
}
