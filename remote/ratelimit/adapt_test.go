package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/pafs/pafs/remote/ratelimit"
)

// A limiter seeded with another's accounting counts it: its log until the
// entries expire, its in-flight requests until released (then one window
// more), and its hold.
func TestSeedCountsWhatOthersCounted(t *testing.T) {
	const window = 200 * time.Millisecond
	old := ratelimit.New(3, window)
	ctx := context.Background()
	r1, _ := old.Acquire(ctx)
	r1()
	r2, _ := old.Acquire(ctx) // still in flight
	log, hold := old.Snapshot()
	if len(log) != 1 || !hold.IsZero() {
		t.Fatalf("snapshot %v %v", log, hold)
	}
	l := ratelimit.New(3, window)
	rels := l.Seed(log, 1, time.Time{})
	if s := l.Stats(); s.InWindow != 1 || s.InFlight != 1 || len(rels) != 1 {
		t.Fatalf("seeded stats %+v", s)
	}
	r3, _ := l.Acquire(ctx) // the last slot
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, window/2)
	if _, err := l.Acquire(tctx); err == nil {
		t.Fatal("a fourth request admitted within the window")
	}
	cancel()
	r2()
	rels[0]()
	r3()
	r4, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r4()
	if d := time.Since(start); d < window/2 {
		t.Errorf("admitted after %v", d)
	}
	l2 := ratelimit.New(3, window)
	l2.Seed(nil, 0, time.Now().Add(window))
	if s := l2.Stats(); s.NextFree < window/2 {
		t.Errorf("hold not seeded: %+v", s)
	}
}
