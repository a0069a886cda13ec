package vfs

import (
	"context"
	"syscall"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
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
	case err != nil && err != syscall.ENOENT:
		return err
	}
	it, err := f.renameSource(ctx, src, f.local.match(dst))
	if err != nil {
		return err
	}
	defer it.Release()
	f.mu.Lock()
	id, err := f.moveLocked(src, dst, it)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	f.meta.MoveAttr(src, dst)
	return f.afterChange(ctx, id)
}

// renameSource returns the content of src, fetching it if it is not local. A
// rename to an editor's backup name accepts a stale copy: only this machine
// will ever read it.
func (f *FS) renameSource(ctx context.Context, src string, toLocalOnly bool) (*cache.Item, error) {
	f.mu.Lock()
	if e := f.ov.get(src); e != nil && e.kind == kFile {
		e.item.Ref()
		f.mu.Unlock()
		return e.item, nil
	}
	f.mu.Unlock()
	if toLocalOnly {
		if it, ok := f.content.Peek(src); ok && it.WaitComplete() == nil {
			it.Ref()
			return it, nil
		}
	}
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
// what the server needs. It returns the op to wait for with write-back off.
//
// Two rules keep the queue right (docs/reliability.md):
//   - dst gets an upload of its own, queued now, after whatever is already
//     queued or in flight for dst (a delete of an older dst must land before
//     it, never after); src's pending upload is cancelled, not retargeted.
//   - an op made useless by the move is cancelled only once the move's own
//     ops are journalled: a crash in between leaves both (and recovery sorts
//     them out), never neither.
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
	ne.path, ne.remote, ne.localOnly, ne.op = dst, dstRemote, f.local.match(dst), 0
	f.ov.set(ne)
	var id uint64
	if !ne.localOnly {
		if err := f.addUploadLocked(ne, ne.writers > 0); err != nil {
			return 0, err
		}
		id = ne.op
	}
	if srcOp != 0 && !srcRemote {
		// src never reached the server, unless this upload is under way.
		srcRemote = !f.q.Cancel(srcOp)
		srcOp = 0
	}
	if srcRemote && !f.local.match(src) {
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
	return id, nil
}
