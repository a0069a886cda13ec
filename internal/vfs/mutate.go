package vfs

import (
	"context"
	"errors"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
	"github.com/pafs/pafs/internal/writeback"
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
	if err := f.mayWrite(p); err != nil {
		return err
	}
	f.mu.Lock()
	id, err := f.removeFileLocked(p)
	if err == nil {
		// Under f.mu, like every change of p's attributes: after it, a file
		// created at p meanwhile would lose its own.
		f.meta.DeleteAttr(p)
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
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
	} else if !errors.Is(err, syscall.ENOENT) {
		return Attr{}, err
	}
	p := rpath.Join(dir, name)
	if err := f.mayWrite(p); err != nil {
		return Attr{}, err
	}
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
// recursive, so emptiness is checked here first against a listing fetched
// now (ENOTEMPTY, nothing deleted): a cached one may be --dir-cache-time
// old and miss a file added on the server since. The delete itself checks
// again when it runs (execDirDelete), for what is added after this.
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
	if err := f.mayWrite(p); err != nil {
		return err
	}
	f.mu.Lock()
	local := f.localDirLocked(p)
	f.mu.Unlock()
	var server *cache.Listing
	var asOf uint64
	if !local {
		// A directory made here holds on the server only what this mount
		// put there (the delete's own check covers anything else); any
		// other costs one listing, unless the cached one shows it is not
		// empty (git tries rmdir on every parent of a file it removes).
		if l, ok := f.meta.Listing(p); ok {
			f.mu.Lock()
			full := !f.emptyLocked(p, l, f.seq)
			f.mu.Unlock()
			if full {
				return syscall.ENOTEMPTY
			}
		}
		server, asOf, err = f.freshListing(ctx, p)
		if err != nil && !errors.Is(err, syscall.ENOENT) {
			return err
		}
	}
	f.mu.Lock()
	if f.goneLocked(p) {
		f.mu.Unlock()
		return syscall.ENOENT // removed meanwhile
	}
	if !f.emptyLocked(p, server, asOf) {
		f.mu.Unlock()
		return syscall.ENOTEMPTY
	}
	id, err := f.removeDirLocked(dir, p)
	if err == nil {
		// A directory made again later is another inode (a shell may
		// still sit in this one); forgotten under f.mu, so that one made
		// meanwhile keeps its own.
		f.meta.DeleteAttr(p)
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.afterChange(ctx, id)
}

// emptyLocked reports whether directory p shows nothing: the server's
// entries (server, patched with what completed since asOf; without one,
// the listing a directory made here keeps) with this mount's changes
// applied. It runs under the same lock as the removal, so that nothing
// completing between the check and the removal slips through.
func (f *FS) emptyLocked(p string, server *cache.Listing, asOf uint64) bool {
	ents := map[string]bool{}
	if server != nil {
		for n, d := range server.Entries {
			ents[n] = d
		}
		f.patchLocked(p, ents, asOf)
	} else if l, ok := f.meta.PeekListing(p); ok {
		for n, d := range l.Entries {
			ents[n] = d
		}
	}
	for n, e := range f.ov.children(p) {
		if e.kind == kGone {
			delete(ents, n)
		} else {
			ents[n] = e.kind == kDir
		}
	}
	return len(ents) == 0
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
		// nothing, unless something inside may be there already: an op
		// under way, or a delete (one is queued only when the server may
		// hold the thing: its upload was under way). Cancelling that
		// delete would let the upload land and the file come back.
		onServer := false
		for _, c := range below {
			if c.kind != kGone && (c.op == 0 || f.q.Cancel(c.op)) {
				f.ov.remove(c)
			} else {
				onServer = true
			}
		}
		if !onServer && (e.op == 0 || f.q.Cancel(e.op)) {
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
	// One delete of the directory covers rm -r's deletes and whatever else
	// is queued inside; it records what they deleted, so that it takes
	// nothing else. It is journalled before they are cancelled: a crash in
	// between must leave them, not lose both.
	deleted, after := f.deletedBelowLocked(p, below)
	id, err := f.q.Add(writeback.Op{Kind: writeback.Delete, Path: p, Dir: true, Deleted: deleted,
		After: after, NotBefore: f.o.Now().Add(f.o.WriteBack)})
	if err != nil {
		f.report("queue", p, err)
		return 0, syscall.EIO
	}
	f.ov.set(&entry{path: p, kind: kGone, op: id, remote: true, isDir: true})
	for _, c := range below {
		if c.op == 0 || f.q.Cancel(c.op) {
			f.ov.remove(c)
		}
	}
	if e != nil && e.kind == kDir && e.op != 0 {
		f.q.Cancel(e.op) // its mkdir; in flight, it runs before the delete
	}
	return id, nil
}

// deletedBelowLocked lists, relative to p, what this mount deleted inside p
// whose delete has not completed (the entries below, and what the deletes of
// directories among them cover), and the ops those deletes wait for (a
// renamed file's old name goes only once the new one is uploaded).
func (f *FS) deletedBelowLocked(p string, below []*entry) (deleted []string, after []uint64) {
	seen := map[string]bool{}
	add := func(rel string) {
		if !seen[rel] {
			seen[rel] = true
			deleted = append(deleted, rel)
		}
	}
	for _, c := range below {
		if c.kind != kGone {
			continue
		}
		rel := strings.TrimPrefix(c.path, p+"/")
		add(rel)
		if op, _, ok := f.q.Get(c.op); ok {
			after = append(after, op.After...)
			for _, d := range op.Deleted {
				add(rel + "/" + d)
			}
		}
	}
	sort.Strings(deleted)
	return deleted, after
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
