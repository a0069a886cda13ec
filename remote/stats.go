package remote

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pafs/pafs/remote/ratelimit"
)

// FamilyStats are the counters of one endpoint family, for a status file.
type FamilyStats struct {
	Family string
	// Sent counts attempts sent, by method (retries included).
	Sent map[string]int
	// Errors counts calls that returned an error (after retries).
	Errors int
	// Retries counts attempts repeated after a failure (429s included).
	Retries int
	// Throttled counts 429 answers received.
	Throttled int
	// Limit and Window are the family's limiter settings (Limit 0: off).
	Limit  int
	Window time.Duration
	// InWindow, InFlight, Waiting and NextFree come from the limiter; see
	// ratelimit.Stats.
	InWindow int
	InFlight int
	Waiting  int
	NextFree time.Duration
	// LastError is the message of the last failed call, and LastErrorAt its
	// time (zero if none).
	LastError   string
	LastErrorAt time.Time
}

// family is the per-endpoint-family state: its limiter and counters.
type family struct {
	name string
	lim  *ratelimit.Limiter // nil when client-side limiting is off

	mu        sync.Mutex // guards the counters below
	sentBy    map[string]int
	errors    int
	retries   int
	throttled int
	lastErr   string
	lastErrAt time.Time
}

// family returns the state of a family, creating it on first use.
func (c *Client) family(name string) *family {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.families[name]; ok {
		return f
	}
	f := &family{name: name, sentBy: map[string]int{}}
	if c.limit > 0 {
		limit := c.limit
		if strings.HasSuffix(name, "/send_input") {
			limit *= sendInputFactor
		}
		f.lim = ratelimit.New(limit, c.window)
	}
	c.families[name] = f
	return f
}

// acquire waits for a rate-limit slot, logging waits longer than a second.
func (f *family) acquire(ctx context.Context, log *slog.Logger) (release func(), err error) {
	if f.lim == nil {
		return func() {}, ctx.Err()
	}
	// A probe waits by design (it goes last); only waits someone sees are news.
	if est := f.lim.Stats().NextFree; est > time.Second && !ratelimit.IsProbe(ctx) {
		log.Info(fmt.Sprintf("rate limit: waiting %s for %s", est.Round(time.Second), f.name),
			"family", f.name, "wait", est)
	}
	return f.lim.Acquire(ctx)
}

func (f *family) sent(method string) {
	f.mu.Lock()
	f.sentBy[method]++
	f.mu.Unlock()
}

func (f *family) retried() {
	f.mu.Lock()
	f.retries++
	f.mu.Unlock()
}

func (f *family) failed(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors++
	f.lastErr = err.Error()
	f.lastErrAt = time.Now()
}

// throttle records a 429 and holds the family's requests for d.
func (f *family) throttle(d time.Duration) {
	f.mu.Lock()
	f.throttled++
	f.mu.Unlock()
	if f.lim != nil {
		f.lim.HoldUntil(time.Now().Add(d))
	}
}

// Stats returns the counters of every family used so far, sorted by name.
func (c *Client) Stats() []FamilyStats {
	c.mu.Lock()
	fams := slices.Collect(maps.Values(c.families))
	c.mu.Unlock()
	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	out := make([]FamilyStats, 0, len(fams))
	for _, f := range fams {
		out = append(out, f.stats())
	}
	return out
}

func (f *family) stats() FamilyStats {
	f.mu.Lock()
	s := FamilyStats{
		Family:      f.name,
		Sent:        maps.Clone(f.sentBy),
		Errors:      f.errors,
		Retries:     f.retries,
		Throttled:   f.throttled,
		LastError:   f.lastErr,
		LastErrorAt: f.lastErrAt,
	}
	f.mu.Unlock()
	if f.lim != nil {
		ls := f.lim.Stats()
		s.Limit, s.Window = ls.Limit, ls.Window
		s.InWindow, s.InFlight, s.Waiting, s.NextFree = ls.InWindow, ls.InFlight, ls.Waiting, ls.NextFree
	}
	return s
}

// Spare returns how many requests of family could start now without
// waiting for the rate limit (the limit minus what is in the window, in
// flight or queued), or -1 when there is no client-side limit. Speculative
// work (read-ahead) asks it, so that it never delays what a user waits for.
func (c *Client) Spare(family string) int {
	if c.limit <= 0 {
		return -1
	}
	f := c.family(family)
	s := f.lim.Stats()
	spare := max(s.Limit-s.InWindow-s.InFlight-s.Waiting, 0)
	if b := c.budgetSpare(family); b >= 0 {
		spare = min(spare, b) // a budget shared with other families (adapt.go)
	}
	return spare
}
