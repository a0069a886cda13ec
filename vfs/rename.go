package vfs

import (
	"context"
	"syscall"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/rpath"
	"github.com/pafs/pafs/writeback"
)

// Rename flags (renameat2).
const (
	RenameNoReplace = 1
	RenameExchange  = 2
)

// Rename moves a file. The API has no rename, so the content moves locally at
// once (readers see the old or the new file, never neither) and the server
// gets an upload under the new name, then a delete of the old one. A pending
// upload of the source (an editor's temp file) is simply retargeted.
// Directories answer EXDEV, so that mv copies them instead.
func (f *FS) Rename(ctx context.Context, oldDir, oldName, newDir, newName string, flags uint32) error {
	if flags&RenameExchange != 0 {
		return syscall.EINVAL
	}
	if !validName(newName) || newName == keepName {
		return syscall.EINVAL
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
func (f *FS) moveLocked(src, dst string, it *cache.Item) (uint64, error) {
	se := f.ov.get(src)
	if se != nil && (se.kind != kFile || se.item != it) {
		return 0, syscall.EAGAIN // changed under us; the caller's view is stale
	}
	// Whatever dst held locally is replaced.
	dstRemote := f.listedLocked(dst)
	if de := f.ov.get(dst); de != nil {
		if de.kind == kFile {
			if de.op == 0 || f.q.Cancel(de.op) {
				dstRemote = de.remote
			}
			f.dropLocked(de)
		} else if de.kind == kGone {
			dstRemote = true
			if !de.isDir && f.q.Cancel(de.op) {
				de.op = 0
			}
		}
	}
	f.content.Rename(src, dst)
	it.MarkDirty()
	ne := se
	srcRemote := true
	if se != nil && se.op != 0 {
		// An upload of src already in flight will make src exist on the server.
		_, inflight, exists := f.q.Get(se.op)
		srcRemote = se.remote || (exists && inflight)
	} else if se != nil {
		srcRemote = se.remote
	}
	if ne == nil {
		it.Ref() // the overlay's reference
		ne = &entry{kind: kFile, item: it}
	} else {
		f.ov.remove(ne)
	}
	ne.path, ne.remote, ne.localOnly = dst, dstRemote, f.local.match(dst)
	f.ov.set(ne)
	if err := f.retargetLocked(ne); err != nil {
		return 0, err
	}
	var id uint64
	if !ne.localOnly {
		id = ne.op
	}
	if srcRemote && !f.local.match(src) {
		if _, err := f.tombstoneLocked(src, false, ne.op); err != nil {
			return 0, err
		}
	}
	srcDir, _ := rpath.Split(src)
	f.ensureDirsLocked(srcDir)
	return id, nil
}

// retargetLocked points e's pending upload at its new path, or queues one.
func (f *FS) retargetLocked(e *entry) error {
	if e.op != 0 {
		if e.localOnly {
			if f.q.Cancel(e.op) {
				e.op = 0
			}
			return nil
		}
		held := e.writers > 0
		ok, err := f.q.Update(e.op, func(op *writeback.Op) {
			op.Path = e.path
			op.Held = held
			op.NotBefore = f.o.Now().Add(f.o.WriteBack)
		})
		if err != nil {
			return syscall.EIO
		}
		if ok {
			return nil
		}
		// In flight to the old name: that upload finishes there (and the old
		// name is deleted after); the new name needs an upload of its own.
		e.op = 0
	}
	if e.localOnly {
		return nil
	}
	return f.addUploadLocked(e, e.writers > 0)
}
