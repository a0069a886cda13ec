package vfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
	"github.com/pafs/pafs/internal/writeback"
	"github.com/pafs/pafs/remote"
)

// Execute carries out one queued op; it is the upload queue's Executor. An
// op the server refuses for good is set aside (failed.go), not retried.
func (f *FS) Execute(ctx context.Context, op writeback.Op) error {
	err := f.execute(ctx, op)
	if err != nil && refusedForGood(op, err) {
		return f.setAside(op, err)
	}
	return err
}

func (f *FS) execute(ctx context.Context, op writeback.Op) error {
	// Nobody waits on a queued op: reads and listings go first.
	ctx = remote.Background(ctx)
	var err error
	switch op.Kind {
	case writeback.Upload:
		err = f.execUpload(ctx, op)
	case writeback.Delete:
		err = f.execDelete(ctx, op)
	case writeback.Mkdir:
		err = f.execMkdir(ctx, op)
	default:
		return fmt.Errorf("upload queue: unknown op %q", op.Kind)
	}
	if err == nil {
		// What the op taught the metadata (the size and hash uploaded, the
		// name added to or removed from a listing) is committed before
		// the queue takes the op out of the journal: after a kill -9 the
		// next mount must not show the state from before it.
		if err := f.meta.Flush(); err != nil {
			f.log.Warn("files: metadata not yet stored (retried)", "path", op.Path, "error", err)
		}
	}
	return err
}

func (f *FS) execUpload(ctx context.Context, op writeback.Op) error {
	f.mu.Lock()
	e := f.ov.get(op.Path)
	if e == nil || e.kind != kFile || e.item == nil || e.item.ID() != op.Item {
		// The data went elsewhere (overwritten, deleted): nothing to send.
		f.mu.Unlock()
		return nil
	}
	it := e.item
	it.Ref()
	replayed := f.replayed[op.ID]
	f.mu.Unlock()
	defer it.Release()
	// No upload is ever skipped because pafs remembers the server holding
	// this content: it may hold something else by now (sums.go). Before an
	// upload overwrites a version pafs never showed, that version is kept.
	if replayed {
		done, err := f.checkReplayed(ctx, op, e, it)
		if err != nil {
			return err // checked again at the next attempt
		}
		f.mu.Lock()
		delete(f.replayed, op.ID)
		f.mu.Unlock()
		if done {
			return nil
		}
	} else if f.changedElsewhere(op) {
		if err := f.keepServerCopy(ctx, op); err != nil {
			return err
		}
	}
	var (
		r    *io.SectionReader
		sr   *sentReader
		gen  uint64
		note = func(h [sha256.Size]byte) {
			// Should pafs die now, the next run knows this content on the
			// server for its own (checkReplayed).
			if err := f.q.NoteSent(op.ID, hex.EncodeToString(h[:])); err != nil {
				f.report("queue", op.Path, err)
			}
		}
	)
	for try := 0; ; try++ {
		var err error
		if r, gen, err = it.Snapshot(); err != nil {
			return err
		}
		sr = newSentReader(r, note)
		_, err = f.r.Upload(ctx, op.Path, sr)
		if err == nil {
			break
		}
		// It may have landed: whatever the server holds is now of this
		// mount's doing as far as conflicts go.
		f.seen.unknown(op.Path, f.o.Now())
		if errors.Is(err, remote.ErrSourceShrank) && try < 3 {
			continue // truncated while being sent: send what it holds now
		}
		f.report("upload", op.Path, err)
		return err
	}
	f.serverUp()
	var sum *[sha256.Size]byte
	if h, ok := sr.sentSum(); ok {
		f.seen.content(op.Path, h, true, f.o.Now())
		sum = &h
	} else {
		f.seen.unknown(op.Path, f.o.Now())
	}
	defer f.notifyUploaded(op.Path)
	return f.uploadedLocked(e, it, op, gen, r.Size(), sum, true)
}

// uploadedLocked records that the server holds generation gen of e's data
// at op.Path (sent now, or already there), with its hash if known, and
// queues newer data if any.
func (f *FS) uploadedLocked(e *entry, it *cache.Item, op writeback.Op, gen uint64, size int64, sum *[sha256.Size]byte, sent bool) error {
	// The mtime stays the write's (touchLocked); the hash lets a later
	// download of the same content keep it. (Execute commits them.)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !sent {
		f.log.Debug("files: upload skipped, the server has this content", "path", op.Path)
	}
	f.confirmLocked(op.Path, false)
	f.meta.UpdateAttr(op.Path, func(a *cache.Attr) {
		a.Size, a.HasHash = size, sum != nil
		if sum != nil {
			a.Hash, a.ContentSeen = *sum, f.o.Now()
		}
	})
	if f.ov.get(op.Path) != e || e.op != op.ID {
		f.rebaseLocked(op.Path)
		return nil
	}
	e.op, e.remote, e.due = 0, true, time.Time{}
	if it.MarkClean(gen) {
		if e.writers == 0 {
			f.dropLocked(e)
		}
		return nil
	}
	// Written again while uploading: send the new content too.
	// This upload succeeded either way: a failure to journal the next one
	// is reported and retried by requeueLoop.
	_ = f.addUploadLocked(e, e.writers > 0)
	return nil
}

// confirmLocked records that the server now has p (and so its parents).
func (f *FS) confirmLocked(p string, isDir bool) {
	f.recordLocked(p, kFile, isDir)
	// Inside a directory made here again while the delete of the one that
	// was there is still queued, p belongs to the old tree (anything sent
	// into the new one waits for that delete): the delete takes it. The new
	// directory neither holds p nor reaches the server through it, so only
	// what is above it is confirmed.
	for d, _ := rpath.Split(p); d != "/"; d, _ = rpath.Split(d) {
		if e := f.ov.get(d); e != nil && e.kind == kDir && e.gone != 0 {
			if _, _, queued := f.q.Get(e.gone); queued {
				p, isDir = d, true
			}
		}
	}
	dir, name := rpath.Split(p)
	f.meta.AddEntry(dir, name, isDir)
	for d := dir; d != "/"; {
		parent, dname := rpath.Split(d)
		if e := f.ov.get(d); e != nil && e.kind == kDir && !e.remote {
			if e.op == 0 || f.q.Cancel(e.op) {
				f.ov.remove(e)
			} else {
				e.remote = true
			}
			f.recordLocked(d, kDir, true)
		}
		// The server has d now, whatever a cached listing of its parent
		// says: an upload creates missing directories (one gone from the
		// server since, or one whose mkdir a replay found elided).
		f.meta.AddEntry(parent, dname, true)
		d = parent
	}
}

func (f *FS) execDelete(ctx context.Context, op writeback.Op) error {
	if op.Dir {
		return f.execDirDelete(ctx, op)
	}
	if err := f.r.Delete(ctx, op.Path); err != nil && !remote.IsNotFound(err) {
		f.report("delete", op.Path, err)
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletedLocked(op.Path)
	f.deleteDoneLocked(op)
	return nil
}

// deletedLocked records that the server no longer holds p.
func (f *FS) deletedLocked(p string) {
	f.recordLocked(p, kGone, false)
	f.seen.deleted(p, f.o.Now())
	dir, name := rpath.Split(p)
	f.meta.RemoveEntry(dir, name)
}

// deleteDoneLocked takes the finished delete op out of the overlay.
func (f *FS) deleteDoneLocked(op writeback.Op) {
	if e := f.ov.get(op.Path); e != nil && e.op == op.ID {
		f.ov.remove(e)
	} else if e != nil && e.gone == op.ID {
		e.gone = 0
	}
}

func (f *FS) execMkdir(ctx context.Context, op writeback.Op) error {
	f.mu.Lock()
	e := f.ov.get(op.Path)
	if e == nil || e.kind != kDir || e.op != op.ID {
		f.mu.Unlock()
		return nil
	}
	if f.queuedBelowLocked(op.Path) {
		// An upload or mkdir inside creates this directory anyway.
		e.op = 0
		f.mu.Unlock()
		return nil
	}
	f.mu.Unlock()
	// The API has no mkdir: upload a placeholder (parents are created) and
	// delete it again.
	keep := rpath.Join(op.Path, keepName)
	if _, err := f.r.Upload(ctx, keep, bytes.NewReader(nil)); err != nil {
		f.report("mkdir", op.Path, err)
		return err
	}
	if err := f.r.Delete(ctx, keep); err != nil && !remote.IsNotFound(err) {
		// The directory exists; the placeholder (hidden here, not in the web
		// editor) is deleted by an op of its own, retried like any other.
		f.report("mkdir", op.Path, err)
		if _, err := f.q.Add(writeback.Op{Kind: writeback.Delete, Path: keep, NotBefore: f.o.Now()}); err != nil {
			// The placeholder stays (a hidden empty file); say so.
			f.report("mkdir", keep, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ov.get(op.Path) == e && e.op == op.ID {
		f.ov.remove(e)
	}
	f.confirmLocked(op.Path, true)
	return nil
}

// recover rebuilds the overlay from ops an earlier run left in the journal.
func (f *FS) recover(ops []writeback.Op) {
	latest := map[string]uint64{} // item → last upload op using it
	for _, op := range ops {
		if op.Kind == writeback.Upload {
			latest[op.Item] = op.ID
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var cleanup []string
	defer func() {
		for _, p := range cleanup {
			if _, err := f.q.Add(writeback.Op{Kind: writeback.Delete, Path: p, NotBefore: f.o.Now()}); err != nil {
				f.report("recover", p, err)
			}
		}
	}()
	for _, op := range ops {
		switch op.Kind {
		case writeback.Upload:
			// What the run that died sent, by any of its uploads of the path,
			// is this mount's own doing when the server shows it.
			f.replayedSent[op.Path] = append(f.replayedSent[op.Path], op.SentSums...)
			if latest[op.Item] != op.ID {
				// Superseded by a later upload of the same data (a rename).
				f.q.Cancel(op.ID)
				continue
			}
			it, err := f.content.Adopt(op.Path, op.Item)
			if err != nil {
				f.report("recover", op.Path, err)
				f.q.Cancel(op.ID)
				continue
			}
			f.ov.set(&entry{path: op.Path, kind: kFile, item: it, remote: true, op: op.ID, tempNamed: f.temps.match(op.Path)})
			if op.Base != "" {
				// The server may have changed since this was journalled (pafs
				// was dead, perhaps for long): checked before it is sent.
				f.replayed[op.ID] = true
			}
		case writeback.Delete:
			// The journal does not say whether a file or a directory was
			// deleted: take it for a directory, whose delete a new file of
			// the same name must follow rather than cancel.
			f.ov.set(&entry{path: op.Path, kind: kGone, op: op.ID, remote: true, isDir: true})
		case writeback.Mkdir:
			e := &entry{path: op.Path, kind: kDir, op: op.ID}
			if old := f.ov.get(op.Path); old != nil && old.kind == kGone {
				e.gone, e.goneIsDir = old.op, old.isDir
			}
			f.ov.set(e)
			if op.Sent {
				// The run that died may have uploaded the placeholder and
				// not deleted it; this op may not run again (something
				// uploaded inside makes it needless), so delete it apart.
				cleanup = append(cleanup, rpath.Join(op.Path, keepName))
			}
		}
	}
	if len(ops) > 0 {
		f.log.Info("upload queue: resuming work left by an earlier run", "ops", len(ops))
	}
}
