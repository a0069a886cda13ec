package remote

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pafs/pafs/remote/ratelimit"
)

// Adapting to a server that counts more coarsely than the families.
//
// The client keeps one limiter per endpoint family, as the server is
// documented to throttle. Its windows are stamped at completion, so its own
// requests can never make a server that counts per family answer 429: a 429
// says the server counted other requests in the same budget — other
// families' (it counts per kind of endpoint, or for the whole API), or
// another client's. Waiting it out per request would meet the next 429 at
// every request of every family (a 429 storm, each wait a window long), so
// the client adapts its budgets at the first 429 a family's own window did
// not predict:
//
//   - merge: the families active in the window whose requests, added to the
//     throttled family's, reach the limit (those of the same kind, files/*
//     or webapps/*, first; else all) get one budget from then on: a limiter
//     every request of theirs passes through besides its family's, started
//     with what their windows hold;
//   - shrink: when nothing else was active enough to explain it (another
//     client spends the budget, or the server's limit is lower), the
//     family's budget becomes what it had used when refused, and doubles
//     back after a window without a 429; each time it is cut again, the
//     wait before it grows doubles (up to maxPatience windows), so that a
//     server whose limit is lower costs a 429 ever more rarely.
//
// The server's Retry-After holds the new budget, so that nothing is sent
// before the server's window has room. A 429 to a request admitted before
// the last change of its family's budget teaches nothing new (it was sent on
// the old estimate). Each change is logged at Warn and shown by Budgets
// (.pafs/status). Merges last for the client's life: they describe the
// server.

// adapter holds the budgets. Lock order: adapter.mu, then Client.mu, then
// limiters.
type adapter struct {
	mu      sync.Mutex
	budgets map[string]*budget        // by family; none for a family on its own
	solo    map[string]map[*slot]bool // in-flight requests of families without one
	gen     map[string]uint64         // by family: changes of its budget so far
	// patience is, by the families of a budget that was cut, how long it
	// last had to go without a 429 before growing.
	patience map[string]time.Duration
}

// budget is a limiter shared by families (or one family's, shrunk).
type budget struct {
	lim      *ratelimit.Limiter
	families []string // sorted
	limit    int      // in force
	base     int      // the smallest of its families' own limits
	since    time.Time
	why      string
	quiet    time.Time // the end of the last 429's wait, or the last change: a cut limit doubles patience after
	patience time.Duration
	slots    map[*slot]bool
	ctx      context.Context // cancelled when the budget is replaced
	retire   context.CancelFunc
}

// maxPatience bounds, in windows, how long a cut budget waits without a
// 429 before it grows again.
const maxPatience = 16

// slot is one admitted request: released on every limiter counting it.
type slot struct {
	rels []func()
	home *budget // nil: on its family's own (adapter.solo[fam])
	fam  string
}

// acquire waits for fam's limiter and then for its budget's, if it has one,
// and returns the release and the generation of fam's budget the request is
// admitted under.
func (c *Client) acquire(ctx context.Context, fam *family) (func(), uint64, error) {
	relF, err := fam.acquire(ctx, c.log)
	if err != nil || fam.lim == nil {
		return relF, 0, err
	}
	a := &c.adapt
	s := &slot{rels: []func(){relF}, fam: fam.name}
	release := func() { a.release(s) }
	for {
		a.mu.Lock()
		c.restoreLocked(fam.name)
		if a.budgets[fam.name] == nil {
			c.joinLocked(fam)
		}
		b, gen := a.budgets[fam.name], a.gen[fam.name]
		if b == nil {
			a.soloLocked(fam.name)[s] = true
			a.mu.Unlock()
			return release, gen, nil
		}
		a.mu.Unlock()
		if est := b.lim.Stats().NextFree; est > time.Second {
			c.log.Info(fmt.Sprintf("rate limit: waiting %s for %s (a budget shared with %s)", est.Round(time.Second), fam.name, b.name()),
				"family", fam.name, "wait", est)
		}
		bctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(b.ctx, cancel)
		relB, err := b.lim.Acquire(bctx)
		stop()
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				relF() // counts a request that was not sent: errs on the safe side
				return nil, 0, ctx.Err()
			}
			continue // replaced while waiting: wait for the new one
		}
		a.mu.Lock()
		if a.budgets[fam.name] != b {
			a.mu.Unlock()
			relB() // stamps a budget nobody uses any more
			continue
		}
		s.rels = append(s.rels, relB)
		s.home = b
		b.slots[s] = true
		gen = a.gen[fam.name]
		a.mu.Unlock()
		return release, gen, nil
	}
}

// soloLocked returns the in-flight requests of family name counted by its
// own limiter alone.
func (a *adapter) soloLocked(name string) map[*slot]bool {
	if a.solo == nil {
		a.solo = map[string]map[*slot]bool{}
	}
	if a.solo[name] == nil {
		a.solo[name] = map[*slot]bool{}
	}
	return a.solo[name]
}

// release frees a request's slots once it has its answer.
func (a *adapter) release(s *slot) {
	a.mu.Lock()
	rels := s.rels
	s.rels = nil
	if s.home != nil {
		delete(s.home.slots, s)
	} else {
		delete(a.solo[s.fam], s)
	}
	a.mu.Unlock()
	for _, r := range rels {
		r()
	}
}

func (b *budget) name() string { return strings.Join(b.families, ", ") }

// unit is a set of families counted together now: a budget, or one family.
type unit struct {
	b    *budget
	fam  *family // b == nil
	used int     // requests in its window and in flight
	done int     // requests in its window that have their answer
}

func (u unit) families() []string {
	if u.b != nil {
		return u.b.families
	}
	return []string{u.fam.name}
}

func (u unit) limit() int {
	if u.b != nil {
		return u.b.limit
	}
	return u.fam.lim.Limit()
}

func (u unit) base() int {
	if u.b != nil {
		return u.b.base
	}
	return u.fam.lim.Limit()
}

// throttled adapts fam's budget to a 429 answering a request admitted under
// generation gen of it (see the top of this file), and holds the budget for
// wait, the server's Retry-After.
func (c *Client) throttled(fam *family, gen uint64, wait time.Duration) {
	if fam.lim == nil {
		return
	}
	a := &c.adapt
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	hold := now.Add(wait)
	if b := a.budgets[fam.name]; b != nil {
		b.quiet = hold // quiet counts from the end of the server's wait
		b.lim.HoldUntil(hold)
	}
	if gen != a.gen[fam.name] {
		return // sent on an estimate already revised
	}
	units, self := c.unitsLocked(fam.name)
	// The refused request: the server did not count it.
	self.used--
	self.done--
	kind := familyKind(fam.name)
	var kin, active []unit
	for _, u := range units {
		if u.used <= 0 {
			continue
		}
		active = append(active, u)
		if slices.ContainsFunc(u.families(), func(f string) bool { return familyKind(f) == kind }) {
			kin = append(kin, u)
		}
	}
	for _, group := range [][]unit{kin, active} {
		if len(group) == 0 {
			continue
		}
		group = append(group, self)
		sum, limit := 0, self.base()
		for _, u := range group {
			sum += u.used
			limit = min(limit, u.base())
		}
		if sum >= limit {
			why := fmt.Sprintf("429 for %s with %d of %d used in its own window: the server counts these together (%d requests in the window)",
				fam.name, self.used, self.limit(), sum)
			b := c.replaceLocked(group, limit, why, hold)
			c.log.Warn(fmt.Sprintf("rate limit: the server counts %s together; they share one budget of %d per %s from now on",
				b.name(), limit, c.window), "family", fam.name, "families", b.families)
			return
		}
	}
	// What the server took: the answered requests. Those still in flight
	// were most likely refused too (they came after this one).
	limit := max(1, min(self.done, self.limit()-1))
	// Cut before (and grown back since, perhaps all the way): wait longer
	// this time before growing again.
	key := strings.Join(self.families(), ",")
	patience := c.window
	if p, ok := a.patience[key]; ok {
		patience = min(2*p, maxPatience*c.window)
	}
	if a.patience == nil {
		a.patience = map[string]time.Duration{}
	}
	a.patience[key] = patience
	why := fmt.Sprintf("429 for %s with %d of %d used and nothing else active enough to explain it: another client spends this budget, or the server's limit is lower",
		fam.name, self.done, self.limit())
	c.replaceLocked([]unit{self}, limit, why, hold).patience = patience
	c.log.Warn(fmt.Sprintf("rate limit: 429 for %s with %d of %d used in its own window; its budget is cut to %d per %s, doubling back after %s without a 429",
		strings.Join(self.families(), ", "), self.done, self.limit(), limit, c.window, patience), "family", fam.name)
}

// unitsLocked returns the units other than the one holding name, and that
// one, with what each has used.
func (c *Client) unitsLocked(name string) (others []unit, self unit) {
	c.mu.Lock()
	fams := slices.Collect(maps.Values(c.families))
	c.mu.Unlock()
	seen := map[*budget]bool{}
	for _, f := range fams {
		if f.lim == nil {
			continue
		}
		var u unit
		if b := c.adapt.budgets[f.name]; b != nil {
			if seen[b] {
				continue
			}
			seen[b] = true
			st := b.lim.Stats()
			u = unit{b: b, used: st.InWindow + st.InFlight, done: st.InWindow}
		} else {
			st := f.lim.Stats()
			u = unit{fam: f, used: st.InWindow + st.InFlight, done: st.InWindow}
		}
		if slices.Contains(u.families(), name) {
			self = u
		} else {
			others = append(others, u)
		}
	}
	return others, self
}

// replaceLocked gives the families of group one new budget of limit,
// counting what their limiters count now, and retires their old budgets.
func (c *Client) replaceLocked(group []unit, limit int, why string, hold time.Time) *budget {
	a := &c.adapt
	now := time.Now()
	nb := &budget{lim: ratelimit.New(limit, c.window), limit: limit, since: now, quiet: now, why: why,
		base: group[0].base(), slots: map[*slot]bool{}, patience: c.window}
	nb.ctx, nb.retire = context.WithCancel(context.Background())
	var log []time.Time
	var slots []*slot
	for _, u := range group {
		nb.base = min(nb.base, u.base())
		nb.families = append(nb.families, u.families()...)
		var l []time.Time
		var h time.Time
		if u.b != nil {
			l, h = u.b.lim.Snapshot()
			slots = append(slots, slices.Collect(maps.Keys(u.b.slots))...)
			u.b.retire()
		} else {
			l, h = u.fam.lim.Snapshot()
			slots = append(slots, slices.Collect(maps.Keys(a.solo[u.fam.name]))...)
			delete(a.solo, u.fam.name)
		}
		log = append(log, l...)
		if h.After(hold) {
			hold = h
		}
	}
	slices.Sort(nb.families)
	if hold.After(nb.quiet) {
		nb.quiet = hold
	}
	rels := nb.lim.Seed(log, len(slots), hold)
	for i, s := range slots {
		s.rels = append(s.rels, rels[i])
		s.home = nb
		nb.slots[s] = true
	}
	if a.budgets == nil {
		a.budgets = map[string]*budget{}
		a.gen = map[string]uint64{}
	}
	for _, f := range nb.families {
		a.budgets[f] = nb
		a.gen[f]++
	}
	return nb
}

// joinLocked puts fam, which has no budget, into one that the server has
// shown to count it too, before it meets a 429 of its own: a budget of
// families of several kinds says that the server counts the whole API
// together, one of several families of fam's kind that it counts that kind
// together.
func (c *Client) joinLocked(fam *family) {
	kind := familyKind(fam.name)
	seen := map[*budget]bool{}
	for _, b := range c.adapt.budgets {
		if seen[b] {
			continue
		}
		seen[b] = true
		kinds := map[string]bool{}
		for _, f := range b.families {
			kinds[familyKind(f)] = true
		}
		if len(kinds) < 2 && (len(b.families) < 2 || !kinds[kind]) {
			continue
		}
		nb := c.replaceLocked([]unit{{b: b}, {fam: fam}}, b.limit, b.why, time.Time{})
		c.log.Info(fmt.Sprintf("rate limit: %s joins the budget the server counts it in (%s)", fam.name, nb.name()), "family", fam.name)
		return
	}
}

// familyKind is the first segment of a family, what a server counting per
// kind of endpoint would count together: "files", "webapps".
func familyKind(name string) string {
	kind, _, _ := strings.Cut(name, "/")
	return kind
}

// restoreLocked doubles a shrunk budget of name back after a window without
// a 429, and lets a family that is alone in its budget at its full limit
// go back to its own limiter.
func (c *Client) restoreLocked(name string) {
	a := &c.adapt
	b := a.budgets[name]
	if b == nil || b.limit >= b.base || time.Since(b.quiet) < b.patience {
		return
	}
	limit := min(b.base, 2*b.limit)
	if limit == b.base && len(b.families) == 1 {
		b.retire()
		delete(a.budgets, name)
		a.gen[name]++
		solo := a.soloLocked(name)
		for s := range b.slots {
			s.home = nil
			solo[s] = true
		}
		c.log.Info(fmt.Sprintf("rate limit: no 429 for %s for %s; back to its own budget of %d", name, b.patience, limit))
		return
	}
	c.replaceLocked([]unit{{b: b}}, limit, b.why, time.Time{}).patience = b.patience
	c.log.Info(fmt.Sprintf("rate limit: no 429 for %s for %s; its budget grows to %d", b.name(), b.patience, limit))
}

// BudgetStats describes a budget the client adapted to the server.
type BudgetStats struct {
	// Families share it (one family: its own budget, shrunk).
	Families []string
	// Limit is the number of requests per Window in force; Base what the
	// families' own limiters allow.
	Limit, Base int
	Window      time.Duration
	// InWindow, InFlight, Waiting and NextFree are as in ratelimit.Stats.
	InWindow, InFlight, Waiting int
	NextFree                    time.Duration
	// Since is when the budget took its present shape, and Why the 429
	// that made it.
	Since time.Time
	Why   string
}

// Budgets returns the budgets the client adapted to the server, sorted by
// their families.
func (c *Client) Budgets() []BudgetStats {
	a := &c.adapt
	a.mu.Lock()
	seen := map[*budget]bool{}
	var bs []*budget
	for _, b := range a.budgets {
		if !seen[b] {
			seen[b] = true
			bs = append(bs, b)
		}
	}
	a.mu.Unlock()
	var out []BudgetStats
	for _, b := range bs {
		st := b.lim.Stats()
		out = append(out, BudgetStats{Families: b.families, Limit: b.limit, Base: b.base, Window: c.window,
			InWindow: st.InWindow, InFlight: st.InFlight, Waiting: st.Waiting, NextFree: st.NextFree,
			Since: b.since, Why: b.why})
	}
	slices.SortFunc(out, func(x, y BudgetStats) int { return strings.Compare(x.Families[0], y.Families[0]) })
	return out
}

// budgetSpare is how many more requests fam's budget, if it has one, would
// admit now (-1: no budget).
func (c *Client) budgetSpare(fam string) int {
	a := &c.adapt
	a.mu.Lock()
	b := a.budgets[fam]
	a.mu.Unlock()
	if b == nil {
		return -1
	}
	s := b.lim.Stats()
	return max(s.Limit-s.InWindow-s.InFlight-s.Waiting, 0)
}
