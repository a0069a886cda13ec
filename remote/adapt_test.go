package remote_test

import (
	"context"
	"slices"
	"strings"
	"sync"
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
	for _, tc := range []struct {
		scope emulator.RateScope
		max   int // 429s at most
	}{{emulator.ScopeFamily, 0}, {emulator.ScopeKind, 8}, {emulator.ScopeAPI, 8}} {
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
			for range 6 {
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
