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

// TestInteractiveBeforeBackground queues background requests first, then an
// interactive one behind a full window: the interactive one gets the first
// slot that frees, not the place after every upload queued before it.
func TestInteractiveBeforeBackground(t *testing.T) {
	const window = 400 * time.Millisecond
	l := ratelimit.New(1, window)
	r, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r()
	// Queue once half the window has gone, so that no background waiter has
	// waited a window (and earned its turn) when the slot frees.
	waitFor(t, "half the window", func() bool { return l.Stats().NextFree < window/2 })
	bg, cancel := context.WithCancel(ratelimit.Background(context.Background()))
	defer cancel()
	done := make(chan string, 5)
	for i, name := range []string{"bg1", "bg2", "bg3", "bg4"} {
		acquireAsync(l, bg, name, done)
		waitFor(t, "background waiter to queue", func() bool { return l.Stats().Waiting == i+1 })
	}
	acquireAsync(l, context.Background(), "read", done)
	waitFor(t, "interactive waiter to queue", func() bool { return l.Stats().Waiting == 5 })
	if got := <-done; got != "read" {
		t.Fatalf("first served: %s, want the interactive read", got)
	}
	cancel()
	for range 4 {
		<-done
	}
}

// TestBackgroundLeavesReserve: background work never takes the last slots of
// a window, so a read arriving after a burst of uploads goes at once instead
// of waiting for the whole window to roll over.
func TestBackgroundLeavesReserve(t *testing.T) {
	const limit, window = 40, time.Minute
	l := ratelimit.New(limit, window)
	bg := ratelimit.Background(context.Background())
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
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
	if want := limit - ratelimit.Reserve(limit); took != want || took == limit {
		t.Fatalf("background took %d slots of %d, want %d (some left for reads)", took, limit, want)
	}
	for i := range ratelimit.Reserve(limit) {
		start := time.Now()
		r, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatalf("interactive request %d: %v", i, err)
		}
		r()
		if d := time.Since(start); d > 20*time.Millisecond {
			t.Fatalf("interactive request %d waited %v after a burst of uploads", i, d)
		}
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
	const window = 400 * time.Millisecond
	l := ratelimit.New(1, window)
	r, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r()
	waitFor(t, "half the window", func() bool { return l.Stats().NextFree < window/2 })
	probe, cancel := context.WithCancel(ratelimit.Probe(context.Background(), nil))
	defer cancel()
	done := make(chan string, 6)
	for i, name := range []string{"p1", "p2", "p3", "p4"} {
		acquireAsync(l, probe, name, done)
		waitFor(t, "probe to queue", func() bool { return l.Stats().Waiting == i+1 })
	}
	acquireAsync(l, ratelimit.Background(context.Background()), "upload", done)
	waitFor(t, "upload to queue", func() bool { return l.Stats().Waiting == 5 })
	acquireAsync(l, context.Background(), "read", done)
	waitFor(t, "read to queue", func() bool { return l.Stats().Waiting == 6 })
	for _, want := range []string{"read", "upload", "p1"} {
		if got := <-done; got != want {
			t.Fatalf("served %s, want %s", got, want)
		}
	}
	cancel()
	for range 3 {
		<-done
	}
}

// TestProbesLeaveReserve: probes leave twice the background reserve, so an
// upload queued after a burst of probes goes at once, and a read after it.
func TestProbesLeaveReserve(t *testing.T) {
	const limit, window = 40, time.Minute
	l := ratelimit.New(limit, window)
	ctx, cancel := context.WithTimeout(ratelimit.Probe(context.Background(), nil), 50*time.Millisecond)
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
	if want := limit - ratelimit.ProbeReserve(limit); took != want {
		t.Fatalf("probes took %d slots of %d, want %d", took, limit, want)
	}
	for i, ctx := range []context.Context{ratelimit.Background(context.Background()), context.Background()} {
		start := time.Now()
		r, err := l.Acquire(ctx)
		if err != nil {
			t.Fatalf("request %d after the probes: %v", i, err)
		}
		r()
		if d := time.Since(start); d > 20*time.Millisecond {
			t.Fatalf("request %d waited %v after a burst of probes", i, d)
		}
	}
}

// TestProbeUrged: a queued probe that someone starts waiting for goes before
// the probes queued ahead of it, as an interactive request.
func TestProbeUrged(t *testing.T) {
	const window = 400 * time.Millisecond
	l := ratelimit.New(1, window)
	r, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r()
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan string, 4)
	urgent := make(chan struct{})
	for i, name := range []string{"p1", "p2", "p3"} {
		acquireAsync(l, ratelimit.Probe(base, nil), name, done)
		waitFor(t, "probe to queue", func() bool { return l.Stats().Waiting == i+1 })
	}
	acquireAsync(l, ratelimit.Probe(base, urgent), "wanted", done)
	waitFor(t, "probe to queue", func() bool { return l.Stats().Waiting == 4 })
	acquireAsync(l, ratelimit.Background(base), "upload", done)
	waitFor(t, "upload to queue", func() bool { return l.Stats().Waiting == 5 })
	close(urgent)
	if got := <-done; got != "wanted" {
		t.Fatalf("served %s first, want the probe someone waits for", got)
	}
	if got := <-done; got != "upload" {
		t.Fatalf("served %s second, want the upload", got)
	}
	cancel()
	for range 3 {
		<-done
	}
}
