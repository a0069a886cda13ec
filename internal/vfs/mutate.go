package vfs

import (
	"context"
	"syscall"
	"time"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
)

// Unlink removes the file name from dir. A file that never reached the server
// goes without a request; otherwise a delete is queued.
func (f *FS) Unlink(ctx context.Context, dir, name string) error {
	p := rpath.Join(dir, name)
	a, err := f.Lookup(ctx, dir, name)
	if err != nil {
		return err
	}
	if a.IsDir {
		return syscall.EISDIR
	}
	f.mu.Lock()
	id, err := f.removeFileLocked(p)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	f.meta.DeleteAttr(p)
	return f.afterChange(ctx, id)
}

// removeFileLocked deletes the file p locally and queues its deletion on the
// server if the server may have it. It returns the queued op (0 if none).
func (f *FS) removeFileLocked(p string) (uint64, error) {
	e := f.ov.get(p)
	remoteHas := true
	var pending uint64 // the file's upload, cancelled once its delete is journalled
	if e != nil && e.kind == kFile {
		// The data stays on disk until the delete is journalled: a crash in
		// between must find the file's queued upload still able to run.
		keep := e.item
		keep.Ref()
		defer keep.Release()
		switch {
		case e.remote:
			pending = e.op
		default:
			// Never on the server unless its upload is under way.
			remoteHas = e.op != 0 && !f.q.Cancel(e.op)
		}
		f.dropLocked(e)
		dir, _ := rpath.Split(p)
		f.ensureDirsLocked(dir)
	}
	f.content.Remove(p)
	if !remoteHas {
		return 0, nil
	}
	id, err := f.tombstoneLocked(p, false)
	if err == nil && pending != 0 {
		f.q.Cancel(pending) // in flight: the delete, queued after it, runs after it
	}
	return id, err
}

// Mkdir creates the directory name in dir: at once here, on the server after
// the write-back delay, and not at all if a file uploaded into it first
// creates it anyway.
func (f *FS) Mkdir(ctx context.Context, dir, name string, mode uint32) (Attr, error) {
	if err := newNameErr(name); err != nil {
		return Attr{}, err
	}
	if _, err := f.Lookup(ctx, dir, name); err == nil {
		return Attr{}, syscall.EEXIST
	} else if err != syscall.ENOENT {
		return Attr{}, err
	}
	p := rpath.Join(dir, name)
	f.mu.Lock()
	if f.goneLocked(dir) {
		f.mu.Unlock()
		return Attr{}, syscall.ENOENT
	}
	e := &entry{path: p, kind: kDir}
	if old := f.ov.get(p); old != nil && old.kind == kGone {
		e.gone, e.goneIsDir = old.op, old.isDir
	}
	if err := f.addMkdirLocked(e); err != nil {
		f.mu.Unlock()
		return Attr{}, err
	}
	f.ov.set(e)
	now := f.o.Now()
	f.meta.PutListing(p, &cache.Listing{Entries: map[string]bool{}, Fetched: now})
	f.meta.UpdateAttr(p, func(a *cache.Attr) { a.Mode, a.Mtime, a.Atime = mode&0o7777, now, now })
	a := f.localAttrLocked(e)
	id := e.op
	f.mu.Unlock()
	return a, f.afterChange(ctx, id)
}

// Rmdir removes the empty directory name from dir. The API's delete is
// recursive, so emptiness is checked here first (ENOTEMPTY, nothing deleted).
func (f *FS) Rmdir(ctx context.Context, dir, name string) error {
	p := rpath.Join(dir, name)
	if f.isKnownDir(p) {
		return syscall.EACCES
	}
	a, err := f.Lookup(ctx, dir, name)
	if err != nil {
		return err
	}
	if !a.IsDir {
		return syscall.ENOTDIR
	}
	ents, err := f.ReadDir(ctx, p)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return syscall.ENOTEMPTY
	}
	f.mu.Lock()
	id, err := f.removeDirLocked(dir, p)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.afterChange(ctx, id)
}

// removeDirLocked deletes the empty directory p locally and queues its
// deletion on the server unless it never got there.
func (f *FS) removeDirLocked(dir, p string) (uint64, error) {
	below := f.ov.below(p)
	f.meta.ForgetTree(p)
	f.content.RemoveTree(p)
	e := f.ov.get(p)
	if e != nil && e.kind == kDir && !e.remote {
		// Never reached the server: cancel what is queued inside and send
		// nothing, unless something is already under way.
		inflight := false
		for _, c := range below {
			if c.op == 0 || f.q.Cancel(c.op) {
				f.ov.remove(c)
			} else {
				inflight = true
			}
		}
		if !inflight && (e.op == 0 || f.q.Cancel(e.op)) {
			f.ov.remove(e)
			if _, _, queued := f.q.Get(e.gone); e.gone != 0 && queued {
				// What the directory replaced is still to be deleted: the
				// path is gone, not back to showing it.
				f.ov.set(&entry{path: p, kind: kGone, op: e.gone, remote: true, isDir: e.goneIsDir})
				return e.gone, nil
			}
			f.ensureDirsLocked(dir)
			return 0, nil
		}
	}
	// One recursive delete covers rm -r's deletes and whatever else is
	// queued inside. It is journalled before they are cancelled: a crash in
	// between must leave them, not lose both.
	id, err := f.tombstoneLocked(p, true)
	if err != nil {
		return 0, err
	}
	for _, c := range below {
		if c.op == 0 || f.q.Cancel(c.op) {
			f.ov.remove(c)
		}
	}
	return id, nil
}

// SetAttrIn is a setattr request; nil fields are left alone.
type SetAttrIn struct {
	Size         *int64
	Mode         *uint32
	UID, GID     *uint32
	Atime, Mtime *time.Time
}

// SetAttr changes p's attributes. A size change is a real change of content
// (uploaded like a write); mode, owner and times are kept locally so that
// tools like cp -p, rsync -a and tar can set them.
func (f *FS) SetAttr(ctx context.Context, p string, isDir bool, in SetAttrIn, h *Handle) (Attr, error) {
	if in.Size != nil && !isDir {
		if err := f.truncate(ctx, p, *in.Size, h); err != nil {
			return Attr{}, err
		}
	}
	f.meta.UpdateAttr(p, func(a *cache.Attr) {
		if in.Mode != nil {
			a.Mode = *in.Mode & 0o7777
		}
		if in.UID != nil {
			a.UID, a.HasOwner = *in.UID, true
		}
		if in.GID != nil {
			a.GID, a.HasOwner = *in.GID, true
		}
		if in.Atime != nil {
			a.Atime = *in.Atime
		}
		if in.Mtime != nil {
			a.Mtime = *in.Mtime
		}
	})
	return f.Stat(p, isDir), nil
}

func (f *FS) truncate(ctx context.Context, p string, size int64, h *Handle) error {
	if size < 0 {
		return syscall.EINVAL
	}
	if h != nil && h.Writable() {
		return h.Truncate(size)
	}
	flags := syscall.O_WRONLY
	if size == 0 {
		flags |= syscall.O_TRUNC
	}
	nh, err := f.Open(ctx, p, flags)
	if err != nil {
		return err
	}
	defer nh.Release()
	if err := nh.Truncate(size); err != nil {
		return err
	}
	return nh.Flush(ctx)
}
