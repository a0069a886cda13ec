package ratelimit

import (
	"context"
	"time"
)

// Priorities. A request a person is waiting for (a listing, a download) is
// interactive, the default; work that nobody watches (uploads and deletes
// from the upload queue) is background. Background requests:
//
//   - wait behind every interactive request queued in the same limiter, so
//     an uncached `cat` is not queued behind a batch of uploads;
//   - never take the last Reserve(limit) slots of a window, so that a read
//     arriving right after a burst of uploads finds a slot at once instead
//     of waiting for the whole window to roll over;
//   - are not starved: one that has waited a whole window is served in
//     arrival order with the interactive ones and may use the reserve.

type backgroundKey struct{}

// Background marks ctx's requests as background work (see above).
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground reports whether ctx was marked by Background.
func IsBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}

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

// next picks the waiter to hand a free slot to, or nil if none may go now.
// Called with mu held, after prune.
func (l *Limiter) next(now time.Time) (w *waiter, background bool) {
	if !l.canGo(now) {
		return nil, false
	}
	var bg *waiter
	if len(l.bgQueue) > 0 {
		bg = l.bgQueue[0]
	}
	old := bg != nil && l.promoted(bg, now)
	switch {
	case old && (len(l.queue) == 0 || bg.since.Before(l.queue[0].since)):
		return bg, true
	case len(l.queue) > 0:
		return l.queue[0], false
	case bg != nil && (old || l.bgCanGo()):
		return bg, true
	}
	return nil, false
}

// bgCanGo reports whether a background request may take a slot without
// eating into the reserve. Called with mu held, after prune.
func (l *Limiter) bgCanGo() bool {
	return l.inFlight+len(l.log) < l.limit-Reserve(l.limit)
}
