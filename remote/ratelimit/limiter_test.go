package ratelimit_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pafs/pafs/remote/ratelimit"
)

// waitFor polls cond until it holds or the deadline passes. Tests use it to
// wait for queue states that another goroutine produces.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSlidingWindowNeverOvershoots hammers a limiter from many goroutines with
// jittery "latency" and checks the server-side property: whatever moment
// between send and completion the server counts a request at, no window of
// length W ever holds more than N of them. The test takes that moment to be
// the instant right after Acquire returns, the worst case for the client.
func TestSlidingWindowNeverOvershoots(t *testing.T) {
	const (
		n       = 8
		window  = 150 * time.Millisecond
		workers = 12
		total   = 40
	)
	l := ratelimit.New(n, window)
	var (
		mu       sync.Mutex
		arrivals []time.Time
		wg       sync.WaitGroup
	)
	jobs := make(chan int, total)
	for i := range total {
		jobs <- i
	}
	close(jobs)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range jobs {
				release, err := l.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				a := time.Now()
				time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond)
				mu.Lock()
				arrivals = append(arrivals, a)
				mu.Unlock()
				release()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
	for k := 0; k+n < len(arrivals); k++ {
		if d := arrivals[k+n].Sub(arrivals[k]); d < window {
			t.Fatalf("%d requests within %v (< window %v) starting at #%d", n+1, d, window, k)
		}
	}
	// 40 requests at 8 per window need at least 4 full windows after the
	// first burst; more than twice that would mean the limiter stalls.
	if least := 4 * window; elapsed < least || elapsed > 3*least {
		t.Fatalf("40 requests took %v, want about %v", elapsed, least)
	}
}

// TestFullRateAfterBurst checks that the limiter does not leave throughput on
// the table: with instant requests, N go at once and each slot is reused one
// window after its release — never earlier, and not much later (the upper
// bound is loose: a loaded machine may be slow to run the timer).
func TestFullRateAfterBurst(t *testing.T) {
	const n, window = 5, 100 * time.Millisecond
	l := ratelimit.New(n, window)
	var sent, released []time.Time
	for range 3 * n {
		release, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, time.Now())
		release()
		released = append(released, time.Now())
	}
	for i := range sent {
		if i < n {
			if d := sent[i].Sub(sent[0]); d > 50*time.Millisecond {
				t.Errorf("request %d of the first burst waited %v", i, d)
			}
			continue
		}
		if d := sent[i].Sub(released[i-n]); d < window || d > window+250*time.Millisecond {
			t.Errorf("request %d reused its slot %v after the release, want about %v", i, d, window)
		}
	}
}

// TestFIFO queues waiters one at a time behind a full limiter and checks they
// are served in arrival order.
func TestFIFO(t *testing.T) {
	for _, window := range []time.Duration{0, 20 * time.Millisecond} {
		l := ratelimit.New(1, window)
		first, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		const waiters = 8
		order := make(chan int, waiters)
		var wg sync.WaitGroup
		for i := range waiters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				release, err := l.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				order <- i
				release()
			}()
			waitFor(t, "waiter to queue", func() bool { return l.Stats().Waiting == i+1 })
		}
		first()
		wg.Wait()
		close(order)
		want := 0
		for got := range order {
			if got != want {
				t.Fatalf("window %v: waiter %d served in place %d", window, got, want)
			}
			want++
		}
	}
}

// TestCancelLeavesQueue cancels a waiter in the middle of the queue: it must
// return at once with the context's error, and the waiters around it keep
// their turns.
func TestCancelLeavesQueue(t *testing.T) {
	l := ratelimit.New(1, 0)
	hold, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		id  int
		err error
	}
	results := make(chan result, 3)
	ctxs := make([]context.CancelFunc, 3)
	for i := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		ctxs[i] = cancel
		go func() {
			release, err := l.Acquire(ctx)
			if err == nil {
				release()
			}
			results <- result{i, err}
		}()
		waitFor(t, "waiter to queue", func() bool { return l.Stats().Waiting == i+1 })
	}
	start := time.Now()
	ctxs[1]()
	r := <-results
	if r.id != 1 || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("got %+v, want waiter 1 cancelled", r)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("cancellation took %v", d)
	}
	if s := l.Stats(); s.Waiting != 2 || s.InFlight != 1 {
		t.Fatalf("after cancel: %+v", s)
	}
	hold()
	for _, want := range []int{0, 2} {
		r := <-results
		if r.id != want || r.err != nil {
			t.Fatalf("got %+v, want waiter %d served", r, want)
		}
	}
	for _, c := range ctxs {
		c()
	}
	if s := l.Stats(); s.InFlight != 0 || s.Waiting != 0 {
		t.Fatalf("at end: %+v", s)
	}
}

// TestCancelBeforeAcquire returns at once for a dead context even when a slot
// is free: the request will not be sent anyway.
func TestCancelBeforeAcquire(t *testing.T) {
	l := ratelimit.New(3, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if s := l.Stats(); s.InFlight != 0 {
		t.Fatalf("slot leaked: %+v", s)
	}
}

// TestCancelDuringWindowWait cancels a waiter that waits for a slot to leave
// the window (the timer path, not the release path).
func TestCancelDuringWindowWait(t *testing.T) {
	l := ratelimit.New(1, time.Minute)
	release, _ := l.Acquire(context.Background())
	release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := l.Acquire(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("took %v", d)
	}
}

func TestHoldUntil(t *testing.T) {
	l := ratelimit.New(10, time.Second)
	const hold = 120 * time.Millisecond
	l.HoldUntil(time.Now().Add(hold))
	if s := l.Stats(); s.NextFree <= 0 || s.NextFree > hold {
		t.Fatalf("NextFree = %v, want within (0, %v]", s.NextFree, hold)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := l.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			if d := time.Since(start); d < hold-5*time.Millisecond {
				t.Errorf("went after %v, before the hold ended", d)
			}
			release()
		}()
	}
	wg.Wait()
	// An earlier hold does not shorten the current one.
	l.HoldUntil(time.Now().Add(time.Hour))
	l.HoldUntil(time.Now().Add(time.Millisecond))
	if s := l.Stats(); s.NextFree < 59*time.Minute {
		t.Fatalf("hold shortened: %+v", s)
	}
}

func TestStats(t *testing.T) {
	l := ratelimit.New(2, time.Minute)
	r1, _ := l.Acquire(context.Background())
	r2, _ := l.Acquire(context.Background())
	s := l.Stats()
	if s.InFlight != 2 || s.InWindow != 0 || s.Limit != 2 || s.Window != time.Minute {
		t.Fatalf("stats %+v", s)
	}
	// Both slots in flight: a new request waits at least one window.
	if s.NextFree != time.Minute {
		t.Fatalf("NextFree %v", s.NextFree)
	}
	r1()
	r1() // extra releases are ignored
	r2()
	s = l.Stats()
	if s.InFlight != 0 || s.InWindow != 2 {
		t.Fatalf("stats %+v", s)
	}
	if s.NextFree < 59*time.Second || s.NextFree > time.Minute {
		t.Fatalf("NextFree %v", s.NextFree)
	}
}

// TestWindowExpiryWakesWaiter checks the timer path: a waiter blocked by the
// log (not by in-flight requests) is woken when the oldest entry expires.
func TestWindowExpiryWakesWaiter(t *testing.T) {
	const window = 80 * time.Millisecond
	l := ratelimit.New(1, window)
	r, _ := l.Acquire(context.Background())
	r()
	released := time.Now()
	r, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer r()
	if d := time.Since(released); d < window || d > window+500*time.Millisecond {
		t.Fatalf("waited %v, want about %v", d, window)
	}
}
