package vfs

import (
	"bytes"
	"context"
	"fmt"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/rpath"
	"github.com/pafs/pafs/writeback"
)

// Execute carries out one queued op; it is the upload queue's Executor.
func (f *FS) Execute(ctx context.Context, op writeback.Op) error {
	switch op.Kind {
	case writeback.Upload:
		return f.execUpload(ctx, op)
	case writeback.Delete:
		return f.execDelete(ctx, op)
	case writeback.Mkdir:
		return f.execMkdir(ctx, op)
	}
	return fmt.Errorf("upload queue: unknown op %q", op.Kind)
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
	f.mu.Unlock()
	defer it.Release()
	r, gen, err := it.Snapshot()
	if err != nil {
		return err
	}
	if _, err := f.r.Upload(ctx, op.Path, r); err != nil {
		f.report("upload", op.Path, err)
		return err
	}
	defer f.notifyUploaded(op.Path)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirmLocked(op.Path, false)
	f.meta.UpdateAttr(op.Path, func(a *cache.Attr) { a.Size = r.Size() })
	if f.ov.get(op.Path) != e || e.op != op.ID {
		return nil
	}
	e.op, e.remote = 0, true
	if it.MarkClean(gen) {
		if e.writers == 0 {
			f.dropLocked(e)
		}
		return nil
	}
	// Written again while uploading: send the new content too.
	return f.addUploadLocked(e, e.writers > 0)
}

// confirmLocked records that the server now has p (and so its parents).
func (f *FS) confirmLocked(p string, isDir bool) {
	f.recordLocked(p, kFile, isDir)
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
			f.meta.AddEntry(parent, dname, true)
		}
		d = parent
	}
}

func (f *FS) execDelete(ctx context.Context, op writeback.Op) error {
	if err := f.r.Delete(ctx, op.Path); err != nil && !remote.IsNotFound(err) {
		f.report("delete", op.Path, err)
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recordLocked(op.Path, kGone, false)
	dir, name := rpath.Split(op.Path)
	f.meta.RemoveEntry(dir, name)
	if e := f.ov.get(op.Path); e != nil && e.op == op.ID {
		f.ov.remove(e)
	}
	return nil
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
		f.report("mkdir", op.Path, err) // the placeholder is hidden; nothing more to do
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
	for _, op := range ops {
		switch op.Kind {
		case writeback.Upload:
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
			f.ov.set(&entry{path: op.Path, kind: kFile, item: it, remote: true, op: op.ID})
		case writeback.Delete:
			f.ov.set(&entry{path: op.Path, kind: kGone, op: op.ID, remote: true})
		case writeback.Mkdir:
			f.ov.set(&entry{path: op.Path, kind: kDir, op: op.ID})
		}
	}
	if len(ops) > 0 {
		f.log.Info("upload queue: resuming work left by an earlier run", "ops", len(ops))
	}
}
