package vfs

import (
	"context"
	"syscall"
	"time"

	"github.com/pafs/pafs/internal/writeback"
	"github.com/pafs/pafs/remote"
)

// holdUploadLocked makes sure a local file has a journalled upload, held while
// writers are open: if pafs dies now, the next run uploads what is on disk.
func (f *FS) holdUploadLocked(e *entry) error {
	if e.op != 0 {
		due := f.dueLocked(e) // an open with O_TRUNC changed it
		if ok, _ := f.q.Update(e.op, func(op *writeback.Op) { op.Held, op.Deadline = true, due }); ok {
			return nil
		}
		// In flight: its completion sees the writers and queues again.
		if _, inflight, exists := f.q.Get(e.op); exists && inflight {
			return nil
		}
	}
	return f.addUploadLocked(e, true)
}

func (f *FS) addUploadLocked(e *entry, held bool) error {
	return f.queueUploadLocked(e, f.uploadOpLocked(e, held))
}

// uploadOpLocked is the op that uploads e's data.
func (f *FS) uploadOpLocked(e *entry, held bool) writeback.Op {
	sz, _ := e.item.Size()
	return writeback.Op{Kind: writeback.Upload, Path: e.path, Item: e.item.ID(),
		Size: sz, Held: held, NotBefore: f.o.Now().Add(f.delayLocked(e)), Deadline: f.dueLocked(e),
		Base: f.baseLocked(e.path)}
}

func (f *FS) queueUploadLocked(e *entry, op writeback.Op) error {
	id, err := f.q.Add(op)
	if err != nil {
		if f.unqueued == nil {
			f.unqueued = map[*entry]bool{}
		}
		f.unqueued[e] = true // tried again by requeueLoop
		return f.localErrno("queue", e.path, err)
	}
	delete(f.unqueued, e)
	e.op = id
	return nil
}

// requeueEvery is how often uploads that could not be journalled are tried again.
const requeueEvery = 2 * time.Second

// requeueLoop journals, as soon as the disk lets it, the uploads that could
// not be journalled when their data changed: a close or an upload's
// completion has no caller to hand the error to, and the data must not
// stay local for ever.
func (f *FS) requeueLoop() {
	t := time.NewTicker(requeueEvery)
	defer t.Stop()
	for {
		select {
		case <-f.bgCtx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		f.requeueLocked()
		f.mu.Unlock()
	}
}

// requeueLocked tries to journal each unqueued upload again and returns how
// many are still without one.
func (f *FS) requeueLocked() int {
	for e := range f.unqueued {
		if e.detached || e.kind != kFile || e.item == nil || e.op != 0 {
			delete(f.unqueued, e) // gone, or queued meanwhile
			continue
		}
		if dirty, _ := e.item.Dirty(); !dirty {
			delete(f.unqueued, e)
			continue
		}
		_ = f.addUploadLocked(e, e.writers > 0) // a failure keeps e in unqueued, and is reported
	}
	return len(f.unqueued)
}

// delayLocked is how long e's upload waits after its last writer closes.
// A temp-named file waits longer: the editor deletes or renames it away
// before that, and its upload is cancelled for free.
func (f *FS) delayLocked(e *entry) time.Duration {
	if e.tempNamed {
		return f.o.TempDelay
	}
	return f.o.WriteBack
}

// dueLocked returns when e's unsent data must be sent at the latest (its
// op's Deadline), arming that time at the first unsent change: an upload
// pushed back by every new write or close still happens, and a file kept
// open for writing (a log) reaches the server while it is written. Zero
// while nothing is unsent, and for a temp-named file still open for writing
// (vim keeps its swap file open and rewrites it all session long).
func (f *FS) dueLocked(e *entry) time.Time {
	if !e.due.IsZero() {
		return e.due
	}
	if dirty, _ := e.item.Dirty(); !dirty {
		return time.Time{}
	}
	switch {
	case !e.tempNamed:
		e.due = f.o.Now().Add(f.o.WriteBackMax)
	case e.writers == 0:
		e.due = f.o.Now().Add(max(f.o.WriteBackMax, f.o.TempDelay))
	}
	return e.due
}

// wroteLocked runs after each write through a handle of e: the change is
// journalled (an upload held while writers are open) before the write
// returns, and its deadline armed.
func (f *FS) wroteLocked(e *entry) error {
	switch {
	case e.detached:
		return nil // deleted or replaced: nothing to upload
	case e.op == 0:
		// An upload (fsync, a deadline) sent everything while the file
		// stayed open: this write starts a new one.
		return f.holdUploadLocked(e)
	case !e.due.IsZero():
		return nil
	}
	if due := f.dueLocked(e); !due.IsZero() {
		// False if in flight: its completion queues this data, with a
		// deadline of its own.
		if _, err := f.q.Update(e.op, func(op *writeback.Op) { op.Deadline = due }); err != nil {
			f.report("queue", e.path, err)
			return syscall.EIO
		}
	}
	return nil
}

// finishWriteLocked runs when the last writer of e closes: a changed file gets
// its upload released after the write-back delay; an unchanged one leaves the
// overlay.
func (f *FS) finishWriteLocked(e *entry) {
	if f.refusedAtCloseLocked(e) {
		return
	}
	dirty, _ := e.item.Dirty()
	if !dirty {
		if e.op == 0 || f.q.Cancel(e.op) {
			f.dropLocked(e)
		}
		return
	}
	sz, _ := e.item.Size()
	notBefore, due := f.o.Now().Add(f.delayLocked(e)), f.dueLocked(e)
	release := func(op *writeback.Op) {
		op.Held = false
		op.Size = sz
		op.NotBefore = notBefore
		op.Deadline = due
	}
	if e.op != 0 {
		if ok, _ := f.q.Update(e.op, release); ok {
			return
		}
		if _, inflight, exists := f.q.Get(e.op); exists && inflight {
			return // its completion notices the new generation
		}
	}
	// A failure is reported, and retried by requeueLoop: close has no
	// caller to return it to.
	_ = f.addUploadLocked(e, false)
}

// dropLocked removes a file entry from the overlay, keeping its content as a
// clean cache item.
func (f *FS) dropLocked(e *entry) {
	f.ov.remove(e)
	e.op = 0
	if e.item != nil {
		e.item.Release()
		e.item = nil
	}
}

// syncUpload uploads e now and waits until the server has everything
// written to it so far (fsync, or close with write-back off). An upload
// already in flight may carry an older snapshot: its completion queues the
// newer data, and this waits for that too. With writer set (the call comes
// from a handle writing e), a temp-named file is left to its delay (see
// Handle.Fsync).
func (f *FS) syncUpload(ctx context.Context, e *entry, writer bool) error {
	var want uint64 // the generation that must reach the server
	for first := true; ; first = false {
		f.mu.Lock()
		if e.detached || (writer && e.tempNamed) {
			f.mu.Unlock()
			return nil
		}
		dirty, gen := e.item.Dirty()
		if first {
			want = gen
		}
		if !dirty || e.item.Uploaded(want) {
			f.mu.Unlock()
			return nil
		}
		if err := f.refusedErrLocked(e); err != nil {
			f.mu.Unlock()
			return err
		}
		if e.op == 0 {
			if err := f.addUploadLocked(e, false); err != nil {
				f.mu.Unlock()
				return err
			}
		}
		id := e.op
		f.mu.Unlock()
		if err := f.syncOp(ctx, id); err != nil {
			return err
		}
		f.mu.Lock()
		if _, _, queued := f.q.Get(id); !queued && e.op == id && !e.detached && !e.item.Uploaded(want) {
			e.op = 0 // finished without sending this data: queue it again
		}
		f.mu.Unlock()
	}
}

// syncOp runs op id now and waits for its outcome.
func (f *FS) syncOp(ctx context.Context, id uint64) error {
	f.q.Expedite(id)
	if err := f.q.Wait(ctx, id); err != nil {
		if ctx.Err() != nil {
			return syscall.EINTR
		}
		return remote.Errno(err)
	}
	return nil
}

// afterChange makes a queued op synchronous when write-back is off.
func (f *FS) afterChange(ctx context.Context, id uint64) error {
	if f.o.WriteBack > 0 || id == 0 {
		return nil
	}
	return f.syncOp(ctx, id)
}

// tombstoneLocked marks p deleted here and queues its deletion on the server,
// after the ops in after (a rename deletes the old name only once the new one
// is uploaded).
func (f *FS) tombstoneLocked(p string, isDir bool, after ...uint64) (uint64, error) {
	var deps []uint64
	for _, a := range after {
		if a != 0 {
			deps = append(deps, a)
		}
	}
	id, err := f.q.Add(writeback.Op{Kind: writeback.Delete, Path: p, After: deps,
		NotBefore: f.o.Now().Add(f.o.WriteBack)})
	if err != nil {
		f.report("queue", p, err)
		return 0, syscall.EIO
	}
	f.ov.set(&entry{path: p, kind: kGone, op: id, remote: true, isDir: isDir})
	return id, nil
}

// ensureDirsLocked makes sure that dir, if it was created here, still
// reaches the server after something queued inside it (whose upload would
// have created it) was dropped. Its parents need nothing: creating dir
// creates them, and a parent that is not local exists already.
func (f *FS) ensureDirsLocked(dir string) {
	e := f.ov.get(dir)
	if e == nil || e.kind != kDir || e.remote || e.op != 0 || f.queuedBelowLocked(dir) {
		return
	}
	// A failure is reported; the directory is then created on the server
	// by the next upload into it, or not at all if it stays empty.
	_ = f.addMkdirLocked(e)
}

// DefaultWriteBackMax is how long, at most, an upload is pushed back by new
// writes and closes after the first change it carries (--write-back-max):
// a file rewritten every second or a log kept open costs at most two uploads
// a minute (of the API's 40), and the server's copy is never older than
// this.
const DefaultWriteBackMax = 30 * time.Second

// mkdirDelay is how many write-back delays a directory creation waits: a
// directory usually receives a file soon (git makes refs/heads well before
// writing a branch into it), and that upload creates it for free.
const mkdirDelay = 3

func (f *FS) addMkdirLocked(e *entry) error {
	id, err := f.q.Add(writeback.Op{Kind: writeback.Mkdir, Path: e.path,
		NotBefore: f.o.Now().Add(mkdirDelay * f.o.WriteBack)})
	if err != nil {
		f.report("queue", e.path, err)
		return syscall.EIO
	}
	e.op = id
	return nil
}
