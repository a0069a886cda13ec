package remote_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// A server that counts more coarsely than the client's families (one
// budget per kind of endpoint, or one for the whole API): a burst across
// families costs a handful of 429s, at the first of which the client merges
// the families' budgets, and then none; every call completes. A server that
// counts per family, as the client assumes, never answers 429.
func TestCoarserServerBudget(t *testing.T) {
	// At most the requests in flight when the server's budget runs out
	// (workers), once for the files families and, for a server counting
	// the whole API, once more when the other kinds start.
	const workers = 6
	for _, tc := range []struct {
		scope emulator.RateScope
		max   int // 429s at most
	}{{emulator.ScopeFamily, 0}, {emulator.ScopeKind, workers + 2}, {emulator.ScopeAPI, 2 * workers}} {
		t.Run("scope="+string(tc.scope), func(t *testing.T) {
			t.Parallel()
			const limit, window = 10, 500 * time.Millisecond
			emu, c, _ := setup(t, emulator.Config{Demo: true, RateLimit: limit, RateWindow: window, Quirks: emulator.Quirks{RateScope: tc.scope}},
				func(cfg *remote.Config) { cfg.RateLimit, cfg.RateWindow, cfg.MaxRetries = limit, window, 3 })
			ctx := context.Background()
			home := "/home/" + user
			var jobs []func() error
			for range 24 {
				jobs = append(jobs,
					func() error { _, err := c.ListDir(ctx, home); return err },
					func() error { _, _, err := c.Share(ctx, home+"/README.txt"); return err },
					func() error { _, err := c.Tree(ctx, home); return err })
			}
			if tc.scope == emulator.ScopeAPI {
				for range 12 {
					jobs = append(jobs,
						func() error { _, err := c.ListWebapps(ctx); return err },
						func() error { _, err := c.ListSchedule(ctx); return err })
				}
			}
			// As many at once as a mount runs: its uploads and a few readers.
			work := make(chan func() error)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var errs []error
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for job := range work {
						if err := job(); err != nil {
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
						}
					}
				}()
			}
			start := time.Now()
			for _, j := range jobs {
				work <- j
			}
			close(work)
			wg.Wait()
			n := emu.Stats().Total429
			t.Logf("%d calls in %v, %d 429s, budgets %+v", len(jobs), time.Since(start).Round(10*time.Millisecond), n, c.Budgets())
			if len(errs) > 0 {
				t.Errorf("%d calls failed, first: %v", len(errs), errs[0])
			}
			if n > tc.max {
				t.Errorf("%d 429s, want at most %d", n, tc.max)
			}
			bs := c.Budgets()
			if tc.scope == emulator.ScopeFamily {
				if len(bs) != 0 {
					t.Errorf("budgets adapted to a server that agrees: %+v", bs)
				}
				return
			}
			if len(bs) != 1 || !slices.Contains(bs[0].Families, "files/path") || !slices.Contains(bs[0].Families, "files/sharing") || bs[0].Limit != limit {
				t.Fatalf("budgets %+v, want files/* sharing one of %d", bs, limit)
			}
			for _, f := range bs[0].Families {
				if tc.scope == emulator.ScopeKind && !strings.HasPrefix(f, "files/") {
					t.Errorf("%s merged into the files budget of a server that counts per kind", f)
				}
			}
		})
	}
}

// A server whose limit is lower than the client's (or another client
// spending the same budget): the family's budget is cut to what the server
// took at the first 429, and grows back after ever longer quiet spells, so
// the 429s thin out instead of coming at every window.
func TestLowerServerLimit(t *testing.T) {
	const window = 400 * time.Millisecond // over a third of the emulator's whole-second Retry-After
	emu, c, _ := setup(t, emulator.Config{Demo: true, RateLimit: 5, RateWindow: window},
		func(cfg *remote.Config) { cfg.RateLimit, cfg.RateWindow, cfg.MaxRetries = 10, window, 3 })
	ctx := context.Background()
	work := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if _, err := c.ListDir(ctx, "/home/"+user); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	for range 60 {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	n := emu.Stats().Total429
	t.Logf("60 calls in %v, %d 429s, budgets %+v", time.Since(start).Round(10*time.Millisecond), n, c.Budgets())
	if failed.Load() > 0 {
		t.Errorf("%d calls failed", failed.Load())
	}
	// The first wave (the requests in flight, 3), and one wave of at most
	// 3 each time the budget grows back: after 1, 2 and 4 quiet windows
	// (each counted from the end of a one-second Retry-After). Without
	// adapting: 16-19.
	if n > 13 {
		t.Errorf("%d 429s, want the first and a few as the budget grows back", n)
	}
}
