package ratelimit

import (
	"slices"
	"time"
)

// Budgets built from others. When the server shows that it counts several
// limiters' requests against one budget (remote's family adaptation), a new
// limiter takes over their accounting: Snapshot reads what each has counted,
// Seed makes the new one count it too.

// Snapshot returns the completion times of the finished requests still in
// the window, oldest first, and the time no request may start before (zero
// if none).
func (l *Limiter) Snapshot() (log []time.Time, hold time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(time.Now())
	return slices.Clone(l.log), l.hold
}

// Seed makes l count requests it did not admit: finished ones at their
// completion times (log), and inFlight ones still under way, each taking a
// slot until the release function returned for it is called (which stamps
// it like any other). It also holds l until hold. Used on a new limiter,
// before its first Acquire, so it may start over its limit: nothing is
// admitted until the window has room again.
func (l *Limiter) Seed(log []time.Time, inFlight int, hold time.Time) []func() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.window > 0 {
		l.log = append(l.log, log...)
		slices.SortFunc(l.log, func(a, b time.Time) int { return a.Compare(b) })
	}
	if hold.After(l.hold) {
		l.hold = hold
	}
	l.inFlight += inFlight
	rels := make([]func(), inFlight)
	for i := range rels {
		rels[i] = l.releaser()
	}
	l.dispatch(time.Now())
	return rels
}
