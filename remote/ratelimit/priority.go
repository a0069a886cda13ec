package ratelimit

import (
	"context"
	"time"
)

// Priorities. A request a person is waiting for (a listing, a download) is
// interactive, the default; work that nobody watches (uploads and deletes
// from the upload queue) is background; work done ahead of a person who may
// want it (a file's size, learnt before a tree walk asks for it) is a probe.
// Background requests:
//
//   - wait behind every interactive request queued in the same limiter, so
//     an uncached `cat` is not queued behind a batch of uploads;
//   - never take the last Reserve(limit) slots of a window, so that a read
//     arriving right after a burst of uploads finds a slot at once instead
//     of waiting for the whole window to roll over;
//   - are not starved: one that has waited a whole window is served in
//     arrival order with the interactive ones and may use the reserve.
//
// Probes go last of all: behind every interactive and background request,
// and they leave ProbeReserve(limit) slots, twice the background reserve, so
// that a save queued during a walk that probes hundreds of sizes finds a
// free slot at once. They are never promoted for waiting; instead, when
// someone starts waiting for a probe's answer (the walk caught up with it),
// its urgent channel is closed and it is served as an interactive request
// from then on.

type backgroundKey struct{}

type probeKey struct{}

// Background marks ctx's requests as background work (see above).
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground reports whether ctx was marked by Background.
func IsBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}

// Probe marks ctx's requests as probes (see above). Closing urgent makes a
// waiting probe interactive; nil never does.
func Probe(ctx context.Context, urgent <-chan struct{}) context.Context {
	if urgent == nil {
		urgent = make(chan struct{})
	}
	return context.WithValue(ctx, probeKey{}, urgent)
}

// probeOf returns the urgent channel of a probe's ctx, nil if ctx is no probe.
func probeOf(ctx context.Context) <-chan struct{} {
	u, _ := ctx.Value(probeKey{}).(<-chan struct{})
	return u
}

// IsProbe reports whether ctx was marked by Probe.
func IsProbe(ctx context.Context) bool { return probeOf(ctx) != nil }

// ProbeReserve is how many slots of a window probes leave to the others.
func ProbeReserve(limit int) int { return 2 * Reserve(limit) }

// Reserve is how many slots of a window background requests leave to
// interactive ones: one in twenty (two of the API's 40 a minute), at least
// one, none for limits below 4 where a reserve would cost too large a share.
func Reserve(limit int) int {
	if limit < 4 {
		return 0
	}
	return max(1, limit/20)
}

// promoted reports whether background waiter w has waited long enough to be
// served like an interactive one. Called with mu held.
func (l *Limiter) promoted(w *waiter, now time.Time) bool {
	return l.window <= 0 || !now.Before(w.since.Add(l.window))
}

// next picks the waiter to hand a free slot to, and the queue it waits in,
// or nil if none may go now. Called with mu held, after prune.
func (l *Limiter) next(now time.Time) (*waiter, *[]*waiter) {
	if !l.canGo(now) {
		return nil, nil
	}
	var bg *waiter
	if len(l.bgQueue) > 0 {
		bg = l.bgQueue[0]
	}
	old := bg != nil && l.promoted(bg, now)
	switch {
	case old && (len(l.queue) == 0 || bg.since.Before(l.queue[0].since)):
		return bg, &l.bgQueue
	case len(l.queue) > 0:
		return l.queue[0], &l.queue
	case bg != nil && (old || l.bgCanGo()):
		return bg, &l.bgQueue
	case bg == nil && len(l.probeQueue) > 0 && l.probeCanGo():
		return l.probeQueue[0], &l.probeQueue
	}
	return nil, nil
}

// bgCanGo reports whether a background request may take a slot without
// eating into the reserve. Called with mu held, after prune.
func (l *Limiter) bgCanGo() bool {
	return l.inFlight+len(l.log) < l.limit-Reserve(l.limit)
}

// probeCanGo is bgCanGo for probes, which leave a larger reserve.
func (l *Limiter) probeCanGo() bool {
	return l.inFlight+len(l.log) < l.limit-ProbeReserve(l.limit)
}

// urge makes the probe waiter w interactive, unless it was served already.
func (l *Limiter) urge(w *waiter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.granted {
		return
	}
	l.probeQueue = removeWaiter(l.probeQueue, w)
	l.queue = append(l.queue, w)
	l.dispatch(time.Now())
}
