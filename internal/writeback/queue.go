package writeback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/pafs/pafs/internal/rpath"
)

// Executor carries out one op against the server. An error leaves the op
// queued for another try after a backoff.
type Executor interface {
	Execute(ctx context.Context, op Op) error
}

// Options configures a Queue.
type Options struct {
	Dir         string // journal directory
	Workers     int    // ops in flight at once (default 4)
	BackoffBase time.Duration
	BackoffMax  time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
	// Permanent tells errors that retrying will not cure (the server refused
	// the change) from passing ones. A drain stops waiting for ops that failed
	// permanently; they stay queued and are retried with backoff.
	Permanent func(error) bool
	// Settle, when the journal holds ops an earlier run had started sending
	// (it died with requests in flight), is how long no op starts after Open.
	// The server may still apply those requests (it received them whole;
	// nobody is left to read its answer), and the ops recovered now must land
	// after them, not before: otherwise a file deleted or rewritten since
	// comes back with its older content.
	Settle time.Duration
	// OnError, if set, hears about journal failures worth showing in the
	// status file (a finished op's entry that cannot be removed).
	OnError func(op, path string, err error)
	// MakeRoom, if set, frees space on a full disk (evicting clean cached
	// copies) so that a journal entry fits; it reports whether it freed any.
	// Without it a full disk could keep every op from being journalled as
	// sent, and so from ever freeing the space its data takes.
	MakeRoom func(need int64) bool
}

type entry struct {
	op       Op
	inflight bool
	waiters  []chan error
}

// Queue is the persistent write-back queue.
type Queue struct {
	o    Options
	j    *journal
	exec Executor

	mu      sync.Mutex // guards everything below; journal writes happen under it (an op and its entry change together)
	entries map[uint64]*entry
	order   []*entry // ascending ID
	nextID  uint64
	running int
	kick    chan struct{}
	stop    context.CancelFunc
	wg      sync.WaitGroup
	done    uint64    // ops completed, for status
	failed  uint64    // failed attempts, for status
	settle  time.Time // no op starts before this (see Options.Settle)
	// draining counts the Drains under way: ops added or changed meanwhile
	// (a file closed just after the stop began) are due at once too.
	draining int
	// unremoved holds finished ops whose journal entries could not be
	// removed (a read-only or failing cache disk): done here, removal
	// retried. Should pafs stop first, the next run replays them, and their
	// Base keeps that from overwriting a newer version on the server.
	unremoved map[uint64]string
	// setAside holds the errors of the latest ops set aside (SetAside), so
	// that a Wait arriving after one left still gets its error.
	setAside map[uint64]error
}

// ErrClosed is returned by waits on a closed queue.
var ErrClosed = errors.New("upload queue closed")

// Open loads the journal in o.Dir. The ops it returns are those left by an
// earlier run; they are queued again as they were (Held cleared: whatever was
// being written when pafs died is uploaded as it stands).
func Open(o Options) (*Queue, []Op, []error) {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Permanent == nil {
		o.Permanent = func(error) bool { return false }
	}
	j, err := openJournal(o.Dir)
	if err == nil {
		j.makeRoom = o.MakeRoom
	}
	if err != nil {
		return nil, nil, []error{err}
	}
	q := &Queue{o: o, j: j, entries: map[uint64]*entry{}, nextID: 1, kick: make(chan struct{}, 1)}
	ops, errs := j.load()
	ops, errs = completeRenames(j, ops, errs, o.Now())
	var recovered []Op
	inflight := 0
	for _, op := range ops {
		if op.Sent {
			inflight++
		}
		op.Held = false
		op.NotBefore = o.Now()
		e := &entry{op: *op}
		q.entries[op.ID] = e
		q.order = append(q.order, e)
		if op.ID >= q.nextID {
			q.nextID = op.ID + 1
		}
		recovered = append(recovered, *op)
	}
	if inflight > 0 && o.Settle > 0 {
		q.settle = o.Now().Add(o.Settle)
		o.Logger.Info("upload queue: an earlier run died with requests in flight; waiting for the server to settle them",
			"ops", inflight, "wait", o.Settle)
	}
	return q, recovered, errs
}

// completeRenames finishes the renames a run died in the middle of: an
// upload still marked with the path it was renamed from (Op.From) had its
// delete of that path not yet journalled, unless a later op touches that
// path. The delete is journalled now, after the upload, so that the server
// ends with the rename done (new name there, old name gone) rather than
// with both names.
func completeRenames(j *journal, ops []*Op, errs []error, now time.Time) ([]*Op, []error) {
	var added []*Op
	next := uint64(1)
	if len(ops) > 0 {
		next = ops[len(ops)-1].ID + 1
	}
	for i, op := range ops {
		if op.From == "" {
			continue
		}
		followed := false
		for _, later := range ops[i+1:] {
			if rpath.Overlaps(later.Path, op.From) {
				followed = true
				break
			}
		}
		if !followed {
			del := &Op{ID: next, Kind: Delete, Path: op.From, After: []uint64{op.ID}, NotBefore: now, Created: now}
			if err := j.write(del); err != nil {
				// The mark stays in the journal, so the next Open tries
				// again; this run uploads meanwhile.
				errs = append(errs, fmt.Errorf("upload queue: completing the rename %s → %s: %w", op.From, op.Path, err))
				op.From = ""
				continue
			}
			next++
			added = append(added, del)
		}
		op.From = ""
		if err := j.write(op); err != nil {
			errs = append(errs, fmt.Errorf("upload queue: %s: %w", op.Path, err))
		}
	}
	return append(ops, added...), errs
}

// Start runs the scheduler until Close.
func (q *Queue) Start(exec Executor) {
	ctx, cancel := context.WithCancel(context.Background())
	q.exec = exec
	q.stop = cancel
	q.wg.Add(1)
	go q.schedule(ctx)
}

// Close stops scheduling and waits for ops in flight. Queued ops stay in the
// journal for the next run.
func (q *Queue) Close() {
	if q.stop != nil {
		q.stop()
	}
	q.wg.Wait()
	q.mu.Lock()
	for _, e := range q.order {
		for _, w := range e.waiters {
			w <- ErrClosed
		}
		e.waiters = nil
	}
	q.mu.Unlock()
}

func (q *Queue) wake() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// Add journals a new op and returns its ID. The op is acknowledged only once
// it is on disk.
func (q *Queue) Add(op Op) (uint64, error) {
	q.mu.Lock()
	op.ID = q.nextID
	q.nextID++
	op.Created = q.o.Now()
	q.expediteLocked(&op)
	if err := q.j.write(&op); err != nil {
		q.mu.Unlock()
		return 0, err
	}
	e := &entry{op: op}
	q.entries[op.ID] = e
	q.order = append(q.order, e)
	q.mu.Unlock()
	q.wake()
	return op.ID, nil
}

// Get returns op id and whether it is in flight.
func (q *Queue) Get(id uint64) (op Op, inflight, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[id]
	if !ok {
		return Op{}, false, false
	}
	return e.op, e.inflight, true
}

// Update changes a queued op that is not in flight and journals it. It
// reports false if the op is in flight or gone.
func (q *Queue) Update(id uint64, f func(*Op)) (bool, error) {
	q.mu.Lock()
	e, ok := q.entries[id]
	if !ok || e.inflight {
		q.mu.Unlock()
		return false, nil
	}
	f(&e.op)
	q.expediteLocked(&e.op)
	err := q.j.write(&e.op)
	q.mu.Unlock()
	q.wake()
	return true, err
}

// Cancel removes a queued op. It reports false if the op is in flight (it
// cannot be recalled); an op already gone counts as cancelled.
func (q *Queue) Cancel(id uint64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[id]
	if !ok {
		return true
	}
	if e.inflight {
		return false
	}
	q.removeLocked(e, nil)
	return true
}

func (q *Queue) removeLocked(e *entry, result error) {
	delete(q.entries, e.op.ID)
	for i, x := range q.order {
		if x == e {
			q.order = append(q.order[:i], q.order[i+1:]...)
			break
		}
	}
	if err := q.j.remove(e.op.ID); err != nil {
		if q.unremoved == nil {
			q.unremoved = map[uint64]string{}
		}
		q.unremoved[e.op.ID] = e.op.Path
		q.o.Logger.Error("upload queue: cannot remove the journal entry of a finished op; a later run may replay it",
			"op", e.op.Kind, "path", e.op.Path, "error", err)
		if q.o.OnError != nil {
			q.o.OnError("journal", e.op.Path, err)
		}
	}
	for _, w := range e.waiters {
		w <- result
	}
	e.waiters = nil
	q.wake()
}

// retryRemovalsLocked tries again to remove the journal entries of finished
// ops that could not be removed before.
func (q *Queue) retryRemovalsLocked() {
	for id, p := range q.unremoved {
		if err := q.j.remove(id); err == nil {
			delete(q.unremoved, id)
			q.o.Logger.Info("upload queue: removed the journal entry of a finished op at last", "path", p)
		}
	}
}

// NoteSent journals, for upload id (in flight), that an attempt sends the
// content of hash sum: a later run replaying the op then knows that content
// on the server for its own.
func (q *Queue) NoteSent(id uint64, sum string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[id]
	if !ok || slices.Contains(e.op.SentSums, sum) {
		return nil
	}
	if len(e.op.SentSums) >= maxSentSums {
		e.op.SentSums = e.op.SentSums[1:]
	}
	e.op.SentSums = append(e.op.SentSums, sum)
	return q.j.write(&e.op)
}

// maxSentSums bounds Op.SentSums: an op whose attempts sent more distinct
// contents (a file rewritten while each attempt was under way) keeps the
// latest ones.
const maxSentSums = 8

// Expedite makes op id run as soon as its turn comes (fsync, unmount).
func (q *Queue) Expedite(id uint64) {
	if _, err := q.Update(id, func(op *Op) { op.NotBefore = q.o.Now(); op.Held = false }); err != nil {
		q.o.Logger.Error("upload queue: cannot expedite", "id", id, "error", err)
	}
}

// Retry lets every op that waits out the backoff of a failed attempt go
// now (the server, unreachable until now, answers again); ops the server
// refused for good, and ops that never failed (their delay is the
// write-back's), keep their time.
func (q *Queue) Retry() {
	q.mu.Lock()
	now := q.o.Now()
	for _, e := range q.order {
		if !e.inflight && e.op.Tries > 0 && !e.op.Permanent && e.op.NotBefore.After(now) {
			e.op.NotBefore = now
			q.writeLocked(e)
		}
	}
	q.mu.Unlock()
	q.wake()
}

// Wait blocks until op id has been tried: nil when it succeeded, was
// cancelled or is unknown; the error of the attempt when it failed (the op
// stays queued and will be retried, unless it was set aside).
func (q *Queue) Wait(ctx context.Context, id uint64) error {
	q.mu.Lock()
	e, ok := q.entries[id]
	if !ok {
		err := q.setAside[id]
		q.mu.Unlock()
		return err
	}
	ch := make(chan error, 1)
	e.waiters = append(e.waiters, ch)
	q.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Progress describes what a drain still waits for.
type Progress struct {
	Ops       int
	Bytes     int64
	Done      uint64
	Refused   int // ops the server refused for good since the drain began
	LastError string
}

// ErrRefused is returned by Drain when the server refused some ops for good.
var ErrRefused = errors.New("the server refused some changes")

// Drain expedites every op and waits until the queue is empty, calling
// progress about five times a second. It gives up on ops the server refused
// for good (they stay journalled and are retried at the next mount), and
// cancelling ctx stops the wait; what is left stays journalled too.
func (q *Queue) Drain(ctx context.Context, progress func(Progress)) error {
	start := q.o.Now()
	q.mu.Lock()
	q.draining++
	defer func() {
		q.mu.Lock()
		q.draining--
		q.mu.Unlock()
	}()
	for _, e := range q.order {
		if !e.inflight {
			e.op.Permanent = false
			e.op.NotBefore = q.o.Now()
			e.op.Held = false
			q.writeLocked(e)
		}
	}
	q.mu.Unlock()
	q.wake()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		p := q.progress(start)
		if progress != nil {
			progress(p)
		}
		if p.Ops == 0 {
			return nil
		}
		if p.Refused == p.Ops {
			return fmt.Errorf("upload queue: %d ops left: %w: %s", p.Ops, ErrRefused, p.LastError)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("upload queue: %d ops left: %w", p.Ops, ctx.Err())
		case <-t.C:
		}
	}
}

// expediteLocked makes an op added or changed during a Drain due at once,
// as Drain made those before it.
func (q *Queue) expediteLocked(op *Op) {
	if q.draining > 0 {
		op.NotBefore = q.o.Now()
		op.Held = false
	}
}

func (q *Queue) progress(since time.Time) Progress {
	q.mu.Lock()
	defer q.mu.Unlock()
	p := Progress{Ops: len(q.order), Done: q.done}
	for _, e := range q.order {
		p.Bytes += e.op.Size
		if e.op.LastError != "" {
			p.LastError = e.op.LastError
		}
		if !e.inflight && e.op.Permanent && !e.op.LastTry.Before(since) {
			p.Refused++
		}
	}
	return p
}

// Snapshot lists the queued ops in order, for status reports.
func (q *Queue) Snapshot() []Status {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]Status, 0, len(q.order))
	for _, e := range q.order {
		out = append(out, Status{Op: e.op, InFlight: e.inflight})
	}
	return out
}

// Counts returns ops completed and attempts failed so far.
func (q *Queue) Counts() (done, failed uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.done, q.failed
}

func (q *Queue) backoff(tries int) time.Duration {
	d := q.o.BackoffBase
	for i := 1; i < tries && d < q.o.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, q.o.BackoffMax)
	// ±20% jitter so that many failed ops do not retry in lockstep.
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
