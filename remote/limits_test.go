package remote_test

// Rate limiting, throttling, cancellation and fault tolerance against the
// emulator, with windows scaled down to seconds.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// TestLimiterAgainstEmulator is the limiter test of the issue: 20 goroutines
// hammer one endpoint family for three windows, with the server and the
// client both allowing 40 requests per 2 s and a jittery latency. The server
// must never answer 429, and the client must get at least 95% of the allowed
// N requests per window.
func TestLimiterAgainstEmulator(t *testing.T) {
	const (
		n       = 40
		window  = 2 * time.Second
		windows = 3
		workers = 20
	)
	emu, c, _ := setup(t, emulator.Config{
		Demo: true, RateLimit: n, RateWindow: window, Latency: 3 * time.Millisecond,
		Faults: emulator.Faults{Seed: 7, SpikeRate: 0.2, Spike: 25 * time.Millisecond},
	}, func(cfg *remote.Config) { cfg.RateLimit, cfg.RateWindow = n, window })

	span := windows * window
	start := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(span))
	defer cancel()
	var (
		done   atomic.Int64
		mu     sync.Mutex
		finish []time.Duration
		wg     sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, err := c.ListDir(ctx, "/home/alice")
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("ListDir: %v", err)
					}
					return
				}
				done.Add(1)
				mu.Lock()
				finish = append(finish, time.Since(start))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	st := emu.Stats()
	if st.Total429 != 0 {
		t.Fatalf("server answered %d 429s (%v)", st.Total429, st.Throttled)
	}
	got, allowed := int(done.Load()), windows*n
	ratio := float64(got) / float64(allowed)
	slices.Sort(finish)
	// The waves start at 0, W+δ, 2(W+δ): δ is what the completion stamps cost.
	var waves []string
	for i := n; i < len(finish); i += n {
		waves = append(waves, fmt.Sprintf("%v", finish[i].Round(time.Millisecond)))
	}
	t.Logf("completed %d requests in %v (%d windows of %d/%v): %.1f%% of the allowed rate; waves at %v; server counted %d",
		got, span, windows, n, window, 100*ratio, waves, emu.Count("GET", "files/path"))
	if ratio < 0.95 {
		t.Fatalf("achieved %.1f%% of the allowed rate, want ≥ 95%%", 100*ratio)
	}
	if cs := statsFor(c, "files/path"); cs.Throttled != 0 || cs.Sent["GET"] < got {
		t.Fatalf("client stats %+v", cs)
	}
}

// TestSendInputGetsTripleLimit checks the per-family limits: send_input is
// allowed three times the others.
func TestSendInputGetsTripleLimit(t *testing.T) {
	emu, c, _ := setup(t, emulator.Config{Demo: true, RateLimit: 2, RateWindow: time.Minute},
		func(cfg *remote.Config) { cfg.RateLimit, cfg.RateWindow = 2, time.Minute })
	ctx := context.Background()
	id := emu.Consoles()[0].ID
	emu.StartConsole(id)
	for i := range 6 {
		if err := c.SendInput(ctx, id, "x"); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	st := statsFor(c, "consoles/{id}/send_input")
	if st.Limit != 6 || st.InWindow != 6 || st.NextFree < 50*time.Second {
		t.Fatalf("send_input stats %+v", st)
	}
	if emu.Stats().Total429 != 0 {
		t.Fatal("429s")
	}
}

// TestCancelLimiterWait cancels a call that waits for a rate-limit slot.
func TestCancelLimiterWait(t *testing.T) {
	_, c, _ := setup(t, demo(), func(cfg *remote.Config) { cfg.RateLimit, cfg.RateWindow = 1, time.Minute })
	if _, err := c.CPU(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		ctx   func() (context.Context, context.CancelFunc)
		errno syscall.Errno
		want  error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, syscall.ETIMEDOUT, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, syscall.EINTR, context.Canceled},
	} {
		ctx, cancel := tc.ctx()
		start := time.Now()
		_, err := c.CPU(ctx)
		cancel()
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%s: returned after %v", tc.name, d)
		}
		if !errors.Is(err, tc.want) || remote.Errno(err) != tc.errno {
			t.Fatalf("%s: err %v errno %v", tc.name, err, remote.Errno(err))
		}
	}
	if st := statsFor(c, "cpu"); st.Waiting != 0 || st.InFlight != 0 || st.Sent["GET"] != 1 {
		t.Fatalf("stats after cancellations %+v", st)
	}
}

// TestCancel429Backoff cancels a call sleeping on a 429's Retry-After, and a
// second one held by the limiter because of that 429.
func TestCancel429Backoff(t *testing.T) {
	emu, c, _ := setup(t, emulator.Config{Demo: true, RateLimit: 1, RateWindow: time.Minute},
		func(cfg *remote.Config) { cfg.RateLimit = 100 }) // the client thinks it has room
	if _, err := c.CPU(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { _, err := c.CPU(ctx); errs <- err }()
	// Wait until the first 429 has put the family on hold, then queue another.
	deadline := time.Now().Add(5 * time.Second)
	for statsFor(c, "cpu").Throttled == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no 429")
		}
		time.Sleep(5 * time.Millisecond)
	}
	go func() { _, err := c.CPU(ctx); errs <- err }()
	for statsFor(c, "cpu").Waiting == 0 {
		if time.Now().After(deadline) {
			t.Fatal("second call not held by the limiter")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if nf := statsFor(c, "cpu").NextFree; nf < 30*time.Second {
		t.Fatalf("hold not applied: next free in %v", nf)
	}
	start := time.Now()
	cancel()
	for range 2 {
		err := <-errs
		if !errors.Is(err, context.Canceled) || remote.Errno(err) != syscall.EINTR {
			t.Fatalf("err %v", err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("cancellation took %v", d)
	}
	if n := emu.Stats().Total429; n != 1 {
		t.Fatalf("server sent %d 429s, want 1 (the held call must not have been sent)", n)
	}
}

// TestThrottleRecovery: a 429 storm, then calm. Calls retry on Retry-After
// and succeed; each one's 429s are counted.
func TestThrottleRecovery(t *testing.T) {
	emu, c, _ := setup(t, emulator.Config{Demo: true, Faults: emulator.Faults{ThrottleStorm: true}},
		func(cfg *remote.Config) { cfg.RateLimit, cfg.RateWindow, cfg.MaxRetries = 40, 2*time.Second, 6 })
	time.AfterFunc(1500*time.Millisecond, func() { emu.SetFaults(emulator.Faults{}) })
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.ListWebapps(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st := statsFor(c, "webapps")
	if st.Throttled == 0 || st.Throttled != emu.Stats().Total429 || st.Errors != 0 {
		t.Fatalf("client stats %+v, server 429s %d", st, emu.Stats().Total429)
	}
}

// TestFaultTolerance runs idempotent calls against a server that fails one
// request in ten with a 500/503, drops one in ten, and garbles some JSON:
// every call must succeed in the end, and the state must be right.
func TestFaultTolerance(t *testing.T) {
	emu, c, _ := setup(t, emulator.Config{Demo: true, Faults: emulator.Faults{
		Seed: 42, ErrorRate: 0.1, DropRate: 0.1, MalformedRate: 0.1,
	}}, func(cfg *remote.Config) { cfg.MaxRetries = 12 })
	ctx := context.Background()
	dir := "/home/alice/faults"
	const files = 30
	content := func(i int) []byte { return bytes.Repeat([]byte(fmt.Sprintf("file %d;", i)), 100*(i+1)) }

	var wg sync.WaitGroup
	for i := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Upload(ctx, fmt.Sprintf("%s/f%02d", dir, i), bytes.NewReader(content(i))); err != nil {
				t.Errorf("upload %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	for i := range files {
		if b, ok := emu.ReadFile(fmt.Sprintf("%s/f%02d", dir, i)); !bytes.Equal(b, content(i)) {
			t.Fatalf("file %d stored wrong (%v, %d bytes)", i, ok, len(b))
		}
	}
	entries, err := c.ListDir(ctx, dir)
	if err != nil || len(entries) != files {
		t.Fatalf("listing %d entries, err %v", len(entries), err)
	}
	for i := range files {
		d, err := c.Download(ctx, fmt.Sprintf("%s/f%02d", dir, i))
		if err != nil {
			t.Fatalf("download %d: %v", i, err)
		}
		b, err := io.ReadAll(d.Body)
		d.Body.Close()
		if err != nil || !bytes.Equal(b, content(i)) {
			t.Fatalf("download %d: %d bytes, err %v", i, len(b), err)
		}
	}
	for i := 0; i < files; i += 2 {
		if err := c.Delete(ctx, fmt.Sprintf("%s/f%02d", dir, i)); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
	}
	if entries, err := c.ListDir(ctx, dir); err != nil || len(entries) != files/2 {
		t.Fatalf("after deletes: %d entries, err %v", len(entries), err)
	}
	site := "alice.pythonanywhere.com"
	for i := range 10 {
		src := fmt.Sprintf("/home/alice/site%d", i)
		if _, err := c.UpdateWebapp(ctx, site, remote.WebappPatch{SourceDirectory: &src}); err != nil {
			t.Fatalf("patch %d: %v", i, err)
		}
		w, err := c.GetWebapp(ctx, site)
		if err != nil || w.SourceDirectory != src {
			t.Fatalf("get after patch %d: %+v %v", i, w, err)
		}
	}
	st := emu.Stats()
	var retries int
	for _, f := range c.Stats() {
		retries += f.Retries
	}
	t.Logf("server: %d requests, %d faults %v; client retries %d", st.Total, st.Faults, st.FaultKinds, retries)
	if st.Faults == 0 || retries == 0 {
		t.Fatal("no faults injected: the test proves nothing")
	}
}
