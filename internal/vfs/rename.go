package vfs

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
	"github.com/pafs/pafs/internal/writeback"
)

// Rename flags (renameat2).
const (
	RenameNoReplace = 1
	RenameExchange  = 2
)

// Rename moves a file. The API has no rename, so the content moves locally at
// once (readers see the old or the new file, never neither) and the server
// gets an upload under the new name, then a delete of the old one. A pending
// upload of the source (an editor's temp file) is replaced by the upload under
// the new name: still one upload in all.
// Directories answer EXDEV, so that mv copies them instead.
func (f *FS) Rename(ctx context.Context, oldDir, oldName, newDir, newName string, flags uint32) error {
	if flags&RenameExchange != 0 {
		return syscall.EINVAL
	}
	if err := newNameErr(newName); err != nil {
		return err
	}
	src, dst := rpath.Join(oldDir, oldName), rpath.Join(newDir, newName)
	sa, err := f.Lookup(ctx, oldDir, oldName)
	if err != nil {
		return err
	}
	if sa.IsDir {
		return syscall.EXDEV
	}
	if src == dst {
		return nil
	}
	da, err := f.Lookup(ctx, newDir, newName)
	switch {
	case err == nil && flags&RenameNoReplace != 0:
		return syscall.EEXIST
	case err == nil && da.IsDir:
		return syscall.EISDIR
	case err != nil && !errors.Is(err, syscall.ENOENT):
		return err
	}
	// The old name is deleted on the server, the new one uploaded.
	if err := f.mayWrite(src, dst); err != nil {
		return err
	}
	it, err := f.renameSource(ctx, src)
	if err != nil {
		return err
	}
	defer it.Release()
	f.mu.Lock()
	id, err := f.moveLocked(src, dst, it)
	if err == nil {
		// Under f.mu, which the upload just queued takes before it runs:
		// moved later, src's attributes (the size 0 of its create) could
		// overwrite the size that upload recorded for dst once done, and
		// stat would show them for the server's file, in the next mount too.
		f.meta.MoveAttr(src, dst)
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.afterChange(ctx, id)
}

// renameSource returns the content of src, fetching it if it is not local.
// (Also for a rename to an editor's backup name: that file is uploaded if
// the editor keeps it, and src deleted, so a stale copy would lose what the
// server holds.)
func (f *FS) renameSource(ctx context.Context, src string) (*cache.Item, error) {
	f.mu.Lock()
	if e := f.ov.get(src); e != nil && e.kind == kFile {
		e.item.Ref()
		f.mu.Unlock()
		return e.item, nil
	}
	f.mu.Unlock()
	it, err := f.fetch(ctx, src)
	if err != nil {
		return nil, err
	}
	if err := it.WaitComplete(); err != nil {
		it.Release()
		return nil, syscall.EIO
	}
	return it, nil
}

// moveLocked moves the content it from src to dst in the overlay and queues
// what the server needs. It returns the op to wait for with write-back off
// (none for a temp name: its upload waits its delay, see delayLocked).
//
// Three rules keep the queue right (docs/reliability.md):
//   - dst gets an upload of its own, queued now, after whatever is already
//     queued or in flight for dst (a delete of an older dst must land before
//     it, never after); src's pending upload is cancelled, not retargeted.
//   - an op made useless by the move is cancelled only once the move's own
//     ops are journalled: a crash in between leaves both (and recovery sorts
//     them out), never neither.
//   - the upload and src's delete are recovered as one: the upload is
//     journalled marked with src (writeback.Op.From) until the delete is,
//     and the next run journals the delete if this one died in between.
func (f *FS) moveLocked(src, dst string, it *cache.Item) (uint64, error) {
	se := f.ov.get(src)
	if se != nil && (se.kind != kFile || se.item != it) {
		return 0, syscall.EAGAIN // changed under us; the caller's view is stale
	}
	// Whatever dst held locally is replaced.
	dstRemote := f.listedLocked(dst)
	var obsolete uint64    // dst's queued op this move makes useless
	obsoleteRemote := true // dstRemote if that op is recalled before it ran
	if de := f.ov.get(dst); de != nil {
		switch de.kind {
		case kFile:
			dstRemote = de.remote
			if de.op != 0 {
				obsolete, obsoleteRemote, dstRemote = de.op, de.remote, true
			}
			f.dropLocked(de)
		case kGone:
			dstRemote = true
			if !de.isDir {
				obsolete = de.op
			}
		}
	}
	f.content.Rename(src, dst)
	it.MarkDirty()
	ne := se
	srcRemote := true // the server may hold src
	var srcOp uint64
	if ne == nil {
		it.Ref() // the overlay's reference
		ne = &entry{kind: kFile, item: it}
	} else {
		srcRemote, srcOp = se.remote, se.op
		f.ov.remove(ne)
	}
	ne.path, ne.remote, ne.tempNamed, ne.op = dst, dstRemote, f.temps.match(dst), 0
	if ne.tempNamed {
		ne.due = time.Time{} // a temp name's deadline starts at its last close
	}
	f.ov.set(ne)
	op := f.uploadOpLocked(ne, ne.writers > 0)
	if srcRemote || srcOp != 0 {
		op.From = src // src's delete may follow
	}
	if err := f.queueUploadLocked(ne, op); err != nil {
		return 0, err
	}
	id := ne.op
	if op.From != "" {
		defer func() {
			// In memory the mark is cleared whatever the journal says; a
			// stale mark on disk only makes recovery check for the delete,
			// which is journalled.
			if _, err := f.q.Update(id, func(op *writeback.Op) { op.From = "" }); err != nil {
				f.report("queue", dst, err)
			}
		}()
	}
	if srcOp != 0 && !srcRemote {
		// src never reached the server, unless this upload is under way.
		srcRemote = !f.q.Cancel(srcOp)
		srcOp = 0
	}
	if srcRemote {
		// Deleted only once dst's upload is done: the data is never absent
		// from the server.
		if _, err := f.tombstoneLocked(src, false, id); err != nil {
			return 0, err
		}
	}
	if srcOp != 0 {
		f.q.Cancel(srcOp) // in flight: src's delete, queued after it, follows it
	}
	if obsolete != 0 && f.q.Cancel(obsolete) {
		ne.remote = obsoleteRemote
	}
	srcDir, _ := rpath.Split(src)
	f.ensureDirsLocked(srcDir)
	if ne.tempNamed {
		return 0, nil
	}
	return id, nil
}
