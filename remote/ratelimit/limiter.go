// Package ratelimit is a client-side limiter that keeps a stream of requests
// within a server's sliding-window throttle: at most N requests in any window
// of length W.
//
// Why a sliding log and not a token bucket: a bucket of N tokens refilling at
// N/W lets N requests through at once and then N more as the tokens come back
// within the same W, i.e. up to 2N in one window, which a sliding-window
// server answers with 429s. The log keeps one timestamp per recent request and
// only lets a new request go when fewer than N of them lie within the last W.
//
// Why completion timestamps: the server counts a request when it arrives,
// which lies somewhere between our send and our receipt of the answer. A slot
// is taken at send time, held while the request is in flight, and stamped
// with the completion time on release; it is free again at completion+W.
// Since completion ≥ arrival, completion+W ≥ arrival+W: the client can never
// run ahead of the server's window however the latency jitters, at the cost
// of one round trip per window of throughput.
//
// Waiters of one priority are served in arrival order; interactive ones go
// before background ones, and those before probes (see Background, Probe). Each waits on its own channel,
// closed by the limiter when a slot is handed to it, so a freed slot wakes
// exactly one waiter (no thundering herd). A single timer fires when the
// next waiter could go (a log entry leaves the window, a hold ends, a
// background waiter has waited its window); nothing polls.
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Limiter admits at most limit requests in any sliding window of length
// window, counting in-flight requests as inside the window. It is safe for
// concurrent use. The zero value is not usable; call New.
type Limiter struct {
	limit  int
	window time.Duration

	mu         sync.Mutex
	log        []time.Time // completion times of finished requests, oldest first
	inFlight   int
	hold       time.Time // no request starts before this (set after a 429)
	queue      []*waiter // interactive waiters, FIFO
	bgQueue    []*waiter // background waiters, FIFO
	probeQueue []*waiter // probes, FIFO
	timer      *time.Timer
	timerAt    time.Time // when timer is due; zero when stopped
}

type waiter struct {
	ready   chan struct{} // closed when a slot has been handed to this waiter
	granted bool          // set under mu together with close(ready)
	since   time.Time     // when it started waiting
}

// Stats is a snapshot of a limiter's state.
type Stats struct {
	Limit    int
	Window   time.Duration
	InWindow int // finished requests whose slot has not yet expired
	InFlight int // requests holding a slot that have not completed
	Waiting  int // callers queued in Acquire, both priorities
	// NextFree estimates how long an interactive request arriving now would
	// wait for a slot, behind the queued interactive callers. When the answer depends on in-flight
	// requests completing, the estimate is the window (a slot freed by a
	// completion can be reused no earlier than one window later).
	NextFree time.Duration
}

// New returns a limiter allowing limit requests per sliding window.
// A limit below 1 is treated as 1; a window ≤ 0 disables the time limit
// (only the number of concurrent requests is bounded).
func New(limit int, window time.Duration) *Limiter {
	if limit < 1 {
		limit = 1
	}
	return &Limiter{limit: limit, window: window}
}

// Limit returns the configured number of requests per window.
func (l *Limiter) Limit() int { return l.limit }

// Window returns the configured window length.
func (l *Limiter) Window() time.Duration { return l.window }

// Acquire waits for a slot and takes it, at the priority ctx carries (see
// Background). The caller must call release exactly
// once, when the response has arrived (or the request failed); release stamps
// the slot with the current time, so it frees one window later. Extra calls
// to release are ignored. Acquire returns ctx.Err() if the context ends first;
// the caller then holds no slot and its place in the queue is given up
// without delaying anyone behind it.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bg := IsBackground(ctx)
	urgent := probeOf(ctx)
	select {
	case <-urgent:
		urgent = nil // someone waits for it already: interactive
	default:
	}
	l.mu.Lock()
	now := time.Now()
	l.prune(now)
	if len(l.queue) == 0 && l.canGo(now) && l.mayJump(bg, urgent != nil) {
		l.inFlight++
		l.mu.Unlock()
		return l.releaser(), nil
	}
	w := &waiter{ready: make(chan struct{}), since: now}
	switch {
	case urgent != nil:
		l.probeQueue = append(l.probeQueue, w)
	case bg:
		l.bgQueue = append(l.bgQueue, w)
	default:
		l.queue = append(l.queue, w)
	}
	l.dispatch(now)
	l.mu.Unlock()

	for ended := false; !ended; {
		select {
		case <-w.ready:
			return l.releaser(), nil
		case <-urgent:
			urgent = nil
			l.urge(w)
		case <-ctx.Done():
			ended = true
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.granted {
		// The slot was handed over while the context ended. The request will
		// not be sent, so give the slot back unstamped: nobody reached the
		// server with it.
		l.inFlight--
	} else {
		l.remove(w)
	}
	l.dispatch(time.Now())
	return nil, ctx.Err()
}

// mayJump reports whether a request of this priority that finds a slot free
// and no interactive waiter may take it at once. Called with mu held, after
// prune.
func (l *Limiter) mayJump(bg, probe bool) bool {
	switch {
	case probe:
		return len(l.bgQueue) == 0 && len(l.probeQueue) == 0 && l.probeCanGo()
	case bg:
		return len(l.bgQueue) == 0 && l.bgCanGo()
	}
	return true
}

// HoldUntil stops every request from starting before t (queued ones and new
// ones alike). The client calls it when the server answers 429 with a time to
// wait, so that requests queued behind the throttled one do not all run into
// the same 429. An earlier t than the current hold is ignored.
func (l *Limiter) HoldUntil(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.hold) {
		l.hold = t
	}
	l.dispatch(time.Now())
}

// Stats returns a snapshot of the limiter's state.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.prune(now)
	s := Stats{
		Limit:    l.limit,
		Window:   l.window,
		InWindow: len(l.log),
		InFlight: l.inFlight,
		Waiting:  len(l.queue) + len(l.bgQueue) + len(l.probeQueue),
	}
	if at := l.freeAt(now, len(l.queue)); !at.IsZero() {
		s.NextFree = at.Sub(now)
	}
	return s
}

// releaser returns the release function for one taken slot.
func (l *Limiter) releaser() func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			now := time.Now()
			l.inFlight--
			if l.window > 0 {
				l.log = append(l.log, now)
			}
			l.dispatch(now)
		})
	}
}

// prune drops log entries whose slot has expired. Entries are appended at
// completion with a monotonic clock, so the log is sorted.
func (l *Limiter) prune(now time.Time) {
	i := 0
	for i < len(l.log) && !now.Before(l.log[i].Add(l.window)) {
		i++
	}
	if i > 0 {
		n := copy(l.log, l.log[i:])
		clear(l.log[n:])
		l.log = l.log[:n]
	}
}

// canGo reports whether a request may take a slot right now. Called with mu
// held, after prune.
func (l *Limiter) canGo(now time.Time) bool {
	return l.inFlight+len(l.log) < l.limit && !l.hold.After(now)
}

// freeAt estimates when the (ahead+1)-th request from now could take a slot,
// assuming the ahead requests before it take the earliest ones. The zero time
// means right now. When the answer depends on in-flight requests completing,
// it returns now+window: a slot freed by a completion can be reused no
// earlier than one window later. Called with mu held, after prune.
func (l *Limiter) freeAt(now time.Time, ahead int) time.Time {
	var at time.Time
	// k is the index of the log entry whose expiry frees the slot we need.
	k := l.inFlight + len(l.log) + ahead - l.limit
	switch {
	case k < 0:
		// A slot is free now.
	case k < len(l.log):
		at = l.log[k].Add(l.window)
	default:
		at = now.Add(max(l.window, 0))
	}
	if l.hold.After(now) && l.hold.After(at) {
		at = l.hold
	}
	if !at.After(now) {
		return time.Time{}
	}
	return at
}

// dispatch hands free slots to waiters (see next) and arms the timer for
// the next moment one of them could go. Called with mu held.
func (l *Limiter) dispatch(now time.Time) {
	l.prune(now)
	for {
		w, q := l.next(now)
		if w == nil {
			break
		}
		*q = dropFirst(*q)
		w.granted = true
		l.inFlight++
		close(w.ready)
	}
	if len(l.queue)+len(l.bgQueue)+len(l.probeQueue) == 0 || (l.inFlight >= l.limit && !l.hold.After(now)) {
		// Nobody waits, or every slot is in flight: only a release can free
		// one, and release dispatches. No timer needed.
		l.stopTimer()
		return
	}
	var at time.Time
	switch {
	case len(l.queue) > 0:
		at = l.freeAt(now, 0)
	case len(l.bgQueue) > 0:
		// Background (and probes): it waits for a slot outside the
		// reserve, or for its wait to reach a window, whichever comes first.
		at = l.freeAt(now, Reserve(l.limit))
		if w := l.bgQueue[0].since.Add(l.window); l.window > 0 && w.After(now) && (at.IsZero() || w.Before(at)) {
			at = w
		}
	default:
		// Probes only: they wait for a slot outside their reserve.
		at = l.freeAt(now, ProbeReserve(l.limit))
	}
	l.armTimer(now, at)
}

// dropFirst removes the head of a queue.
func dropFirst(q []*waiter) []*waiter {
	q[0] = nil
	return q[1:]
}

func (l *Limiter) armTimer(now, at time.Time) {
	if at.IsZero() {
		return
	}
	if !l.timerAt.IsZero() && l.timerAt.Equal(at) {
		return
	}
	l.timerAt = at
	d := at.Sub(now)
	if l.timer == nil {
		l.timer = time.AfterFunc(d, l.onTimer)
		return
	}
	l.timer.Reset(d)
}

func (l *Limiter) stopTimer() {
	if l.timer != nil && !l.timerAt.IsZero() {
		l.timer.Stop()
	}
	l.timerAt = time.Time{}
}

func (l *Limiter) onTimer() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timerAt = time.Time{}
	l.dispatch(time.Now())
}

// remove takes a waiter that gave up out of its queue, keeping the order of
// the others.
func (l *Limiter) remove(w *waiter) {
	l.queue = removeWaiter(l.queue, w)
	l.bgQueue = removeWaiter(l.bgQueue, w)
	l.probeQueue = removeWaiter(l.probeQueue, w)
}

func removeWaiter(q []*waiter, w *waiter) []*waiter {
	for i, x := range q {
		if x == w {
			copy(q[i:], q[i+1:])
			q[len(q)-1] = nil
			return q[:len(q)-1]
		}
	}
	return q
}
