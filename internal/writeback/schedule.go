package writeback

import (
	"context"
	"fmt"
	"time"
)

// schedule starts eligible ops on free workers and sleeps until the next op
// becomes due or something changes.
func (q *Queue) schedule(ctx context.Context) {
	defer q.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := q.startEligible(ctx)
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(q.o.Now()), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-q.kick:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// startEligible launches what can run now and returns when the earliest
// waiting op becomes due (zero if none is waiting on time).
func (q *Queue) startEligible(ctx context.Context) time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.o.Now()
	var next time.Time
	if len(q.unremoved) > 0 {
		q.retryRemovalsLocked()
		if len(q.unremoved) > 0 {
			next = now.Add(removalRetry)
		}
	}
	if now.Before(q.settle) {
		return q.settle
	}
	for i, e := range q.order {
		if q.running >= q.o.Workers {
			break
		}
		if e.inflight || e.op.From != "" {
			continue
		}
		due, ok := e.op.due()
		if !ok {
			continue // held, with no deadline
		}
		if due.After(now) {
			if next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		if q.blockedLocked(i, e) {
			continue
		}
		e.inflight = true
		q.running++
		q.wg.Add(1)
		go q.run(ctx, e)
	}
	return next
}

// due is when op may start: its NotBefore unless held, its Deadline if that
// comes first. ok is false if it waits for something else (held, no
// deadline).
func (o *Op) due() (t time.Time, ok bool) {
	if !o.Held {
		t, ok = o.NotBefore, true
	}
	if !o.Deadline.IsZero() && (!ok || o.Deadline.Before(t)) {
		t, ok = o.Deadline, true
	}
	return t, ok
}

// removalRetry is how often the journal entries of finished ops that could
// not be removed are tried again.
const removalRetry = 5 * time.Second

// blockedLocked reports whether the op at position i must wait: for an
// explicit dependency, or for an earlier op on an overlapping path (so a
// delete of a directory and a later upload into it happen in that order).
func (q *Queue) blockedLocked(i int, e *entry) bool {
	for _, id := range e.op.After {
		if _, ok := q.entries[id]; ok {
			return true
		}
	}
	for _, prev := range q.order[:i] {
		if prev.op.overlaps(&e.op) {
			return true
		}
	}
	return false
}

func (q *Queue) run(ctx context.Context, e *entry) {
	defer q.wg.Done()
	q.mu.Lock()
	if !e.op.Sent {
		// Journalled before the first request leaves: if pafs dies now, the
		// next run knows the server may still apply it (Options.Settle).
		// Without that mark nothing may be sent.
		e.op.Sent = true
		if err := q.j.write(&e.op); err != nil {
			e.op.Sent = false
			q.running--
			e.inflight = false
			q.failLocked(e, fmt.Errorf("not sent: %w", err))
			q.mu.Unlock()
			return
		}
	}
	op := e.op
	q.mu.Unlock()
	err := q.exec.Execute(ctx, op)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running--
	e.inflight = false
	if err == nil {
		q.done++
		q.removeLocked(e, nil)
		return
	}
	if IsSetAside(err) {
		// Refused for good, its data kept elsewhere: not retried.
		q.failed++
		q.o.Logger.Warn("upload queue: refused for good, not retried", "op", e.op.Kind, "path", e.op.Path, "error", err)
		q.noteSetAsideLocked(e.op.ID, err)
		q.removeLocked(e, err)
		return
	}
	if ctx.Err() != nil {
		// Shutting down: the op stays journalled as it was.
		return
	}
	q.failLocked(e, err)
}

// failLocked records a failed attempt of e and schedules the next one.
func (q *Queue) failLocked(e *entry, err error) {
	q.failed++
	e.op.Tries++
	e.op.LastError = err.Error()
	e.op.Permanent = q.o.Permanent(err)
	e.op.LastTry = q.o.Now()
	e.op.NotBefore = q.o.Now().Add(q.backoff(e.op.Tries))
	q.writeLocked(e)
	q.o.Logger.Warn("upload queue: will retry", "op", e.op.Kind, "path", e.op.Path,
		"tries", e.op.Tries, "in", e.op.NotBefore.Sub(q.o.Now()).Round(time.Millisecond), "error", err)
	for _, w := range e.waiters {
		w <- err
	}
	e.waiters = nil
	q.wake()
}

// writeLocked journals e's new state where losing it only costs accuracy
// (tries, backoff, expedition): the entry on disk still says what to do,
// so a failure is logged, not fatal.
func (q *Queue) writeLocked(e *entry) {
	if err := q.j.write(&e.op); err != nil {
		q.o.Logger.Error("upload queue: cannot update the journal entry", "op", e.op.Kind, "path", e.op.Path, "error", err)
	}
}
