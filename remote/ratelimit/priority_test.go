package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pafs/pafs/remote/ratelimit"
)

// acquireAsync queues an Acquire with ctx and reports on done, in grant
// order, the name it was given ("" if ctx ended first); the slot is released
// at once.
func acquireAsync(l *ratelimit.Limiter, ctx context.Context, name string, done chan<- string) {
	go func() {
		release, err := l.Acquire(ctx)
		if err != nil {
			done <- ""
			return
		}
		done <- name
		release()
	}()
}

// fullWindow returns a limiter of one request per window whose slot was
// just used, once half the window has gone: requests queued now are served
// when the slot frees, before any background waiter has waited a window
// (and earned its turn).
func fullWindow(t *testing.T) *ratelimit.Limiter {
	const window = 400 * time.Millisecond
	l := ratelimit.New(1, window)
	r, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r()
	waitFor(t, "half the window", func() bool { return l.Stats().NextFree < window/2 })
	return l
}

// queue queues an Acquire per name, in order (see acquireAsync).
func queue(t *testing.T, l *ratelimit.Limiter, ctx context.Context, done chan<- string, names ...string) {
	t.Helper()
	for _, name := range names {
		n := l.Stats().Waiting
		acquireAsync(l, ctx, name, done)
		waitFor(t, name+" to queue", func() bool { return l.Stats().Waiting == n+1 })
	}
}

// served checks the order the first waiters are served in, then lets the
// others go (cancel ends them).
func served(t *testing.T, done <-chan string, cancel func(), left int, want ...string) {
	t.Helper()
	for _, w := range want {
		if got := <-done; got != w {
			t.Fatalf("served %s, want %s", got, w)
		}
	}
	cancel()
	for range left {
		<-done
	}
}

// TestInteractiveBeforeBackground queues background requests first, then an
// interactive one behind a full window: the interactive one gets the first
// slot that frees, not the place after every upload queued before it.
func TestInteractiveBeforeBackground(t *testing.T) {
	l := fullWindow(t)
	bg, cancel := context.WithCancel(ratelimit.Background(context.Background()))
	defer cancel()
	done := make(chan string, 5)
	queue(t, l, bg, done, "bg1", "bg2", "bg3", "bg4")
	queue(t, l, context.Background(), done, "read")
	served(t, done, cancel, 4, "read")
}

// TestBackgroundLeavesReserve: background work never takes the last slots of
// a window, so a read arriving after a burst of uploads goes at once instead
// of waiting for the whole window to roll over.
func TestBackgroundLeavesReserve(t *testing.T) {
	const limit = 40
	l := ratelimit.New(limit, time.Minute)
	if took, want := burst(l, ratelimit.Background(context.Background()), limit), limit-ratelimit.Reserve(limit); took != want || took == limit {
		t.Fatalf("background took %d slots of %d, want %d (some left for reads)", took, limit, want)
	}
	for range ratelimit.Reserve(limit) {
		atOnce(t, l, context.Background(), "a read after a burst of uploads")
	}
}

// burst takes as many of l's slots as requests of ctx's priority get within
// 50 ms, up to limit, and reports how many.
func burst(l *ratelimit.Limiter, ctx context.Context, limit int) int {
	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	took := 0
	for range limit {
		r, err := l.Acquire(ctx)
		if err != nil {
			break
		}
		r()
		took++
	}
	return took
}

// atOnce fails unless a request of ctx's priority gets a slot at once.
func atOnce(t *testing.T, l *ratelimit.Limiter, ctx context.Context, what string) {
	t.Helper()
	start := time.Now()
	r, err := l.Acquire(ctx)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	r()
	if d := time.Since(start); d > 20*time.Millisecond {
		t.Fatalf("%s waited %v", what, d)
	}
}

// TestBackgroundNotStarved: interactive requests that keep the limiter busy
// delay background work, but a background request that has waited a whole
// window goes next, reserve or not.
func TestBackgroundNotStarved(t *testing.T) {
	const window = 60 * time.Millisecond
	l := ratelimit.New(4, window)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				r, err := l.Acquire(ctx)
				if err != nil {
					return
				}
				r()
			}
		}()
	}
	defer func() { stop(); wg.Wait() }()
	waitFor(t, "interactive requests to fill the window", func() bool { return l.Stats().Waiting > 0 })
	start := time.Now()
	r, err := l.Acquire(ratelimit.Background(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	r()
	if d := time.Since(start); d > 4*window+500*time.Millisecond {
		t.Fatalf("background request waited %v behind a busy interactive stream (window %v)", d, window)
	}
}

// TestBackgroundCancel: a background waiter that gives up leaves the queue
// without disturbing the others.
func TestBackgroundCancel(t *testing.T) {
	l := ratelimit.New(1, 0)
	hold, _ := l.Acquire(context.Background())
	ctx, cancel := context.WithCancel(ratelimit.Background(context.Background()))
	errc := make(chan error, 1)
	go func() { _, err := l.Acquire(ctx); errc <- err }()
	waitFor(t, "background waiter to queue", func() bool { return l.Stats().Waiting == 1 })
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("cancelled background waiter got a slot")
	}
	if s := l.Stats(); s.Waiting != 0 || s.InFlight != 1 {
		t.Fatalf("after cancel: %+v", s)
	}
	hold()
}

func TestReserve(t *testing.T) {
	for limit, want := range map[int]int{1: 0, 3: 0, 4: 1, 39: 1, 40: 2, 120: 6} {
		if got := ratelimit.Reserve(limit); got != want {
			t.Errorf("Reserve(%d) = %d, want %d", limit, got, want)
		}
	}
}

// TestProbesAfterBackground: probes queued first still go after a background
// request (an upload) queued behind them, and after an interactive one.
func TestProbesAfterBackground(t *testing.T) {
	l := fullWindow(t)
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan string, 6)
	queue(t, l, ratelimit.Probe(base, nil), done, "p1", "p2", "p3", "p4")
	queue(t, l, ratelimit.Background(base), done, "upload")
	queue(t, l, base, done, "read")
	served(t, done, cancel, 3, "read", "upload", "p1")
}

// TestProbesLeaveReserve: probes leave twice the background reserve, so an
// upload queued after a burst of probes goes at once, and a read after it.
func TestProbesLeaveReserve(t *testing.T) {
	const limit = 40
	l := ratelimit.New(limit, time.Minute)
	if took, want := burst(l, ratelimit.Probe(context.Background(), nil), limit), limit-ratelimit.ProbeReserve(limit); took != want {
		t.Fatalf("probes took %d slots of %d, want %d", took, limit, want)
	}
	atOnce(t, l, ratelimit.Background(context.Background()), "an upload after a burst of probes")
	atOnce(t, l, context.Background(), "a read after it")
}

// TestProbeUrged: a queued probe that someone starts waiting for goes before
// the probes queued ahead of it, as an interactive request.
func TestProbeUrged(t *testing.T) {
	l := fullWindow(t)
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan string, 5)
	urgent := make(chan struct{})
	queue(t, l, ratelimit.Probe(base, nil), done, "p1", "p2", "p3")
	queue(t, l, ratelimit.Probe(base, urgent), done, "wanted")
	queue(t, l, ratelimit.Background(base), done, "upload")
	close(urgent)
	served(t, done, cancel, 3, "wanted", "upload")
}
