package vfs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
	"github.com/pafs/pafs/remote"
)

// fetch returns a referenced content item for the remote file p: the cached
// one if still fresh, otherwise a download started now (shared by concurrent
// callers). The item may still be filling; its size is known on return.
func (f *FS) fetch(ctx context.Context, p string) (*cache.Item, error) {
	for try := 0; try < 3; try++ {
		if it, ok := f.content.Lookup(p); ok {
			sz, err := it.WaitSize()
			if err != nil {
				it.Release()
				return nil, syscall.EIO
			}
			if !f.opened(p, sz) {
				it.Release() // a body fetched for its size, dropped just now
				continue
			}
			return it, nil
		}
		if _, err := f.wait(ctx, "D"+p, func() (any, error) { return nil, f.download(p) }); err != nil {
			if it, ok := f.staleContent(p, err); ok {
				return it, nil
			}
			return nil, err
		}
	}
	return nil, syscall.EIO
}

// download starts fetching p into a new cache item and returns once the
// response headers are in; the body is copied in the background.
func (f *FS) download(p string) error {
	if it, ok := f.content.Lookup(p); ok {
		it.Release()
		return nil
	}
	return f.downloadNow(p, false)
}

// downloadNow downloads p whatever the cache holds. poll marks a follow's
// poll (follow.go): a background request, never answered from a stale copy.
func (f *FS) downloadNow(p string, poll bool) error {
	old, haveStale := f.content.Peek(p)
	if haveStale && f.serverDown() {
		return errNotAsked // fetch serves the copy at hand
	}
	ctx, stop, cancel := f.askCtx(haveStale && !poll)
	if poll {
		ctx = remote.Background(ctx)
	}
	mark := f.seen.mark(p)
	dl, err := f.r.Download(ctx, p)
	if stop() {
		if err == nil {
			dl.Body.Close()
		}
		err = fmt.Errorf("download %s: %w", p, errStaleWait)
	}
	if err != nil {
		cancel()
		return f.downloadFailed("download", p, err)
	}
	f.serverUp()
	return f.keep(fill{op: "download", p: p, dl: dl, old: old, mark: mark, poll: poll, cancel: cancel})
}

// fill is a download whose response headers are in, for keep.
type fill struct {
	op     string // what reports call it: "download", "size"
	p      string
	dl     *remote.Download
	old    *cache.Item // the item cached for p when it started, nil if none
	mark   uint64      // f.seen's version of p when it started
	poll   bool        // a follow's poll (follow.go)
	cancel func()      // ends the request's context
	// prepare, if set, runs once the item exists and returns what to fill
	// it from instead of the body (sizes.go parks large bodies).
	prepare func() io.Reader
}

// keep streams a download into a new cache item in the background, hashing
// it as it goes (what the server holds, for conflicts), and records it like
// every download: sawDownload, then f.seen. It returns nil also when local
// data took the path over meanwhile (the caller retries, or has its size).
func (f *FS) keep(d fill) error {
	it, err := f.content.New(d.p, false)
	if err != nil {
		d.dl.Body.Close()
		d.cancel()
		if errors.Is(err, cache.ErrBusy) {
			return nil
		}
		f.report(d.op, d.p, err)
		return syscall.EIO
	}
	var body io.Reader = d.dl.Body
	if d.prepare != nil {
		body = d.prepare()
	}
	go func() {
		defer d.cancel()
		defer it.Release()
		defer d.dl.Body.Close()
		defer f.unpark(d.p, body)
		sum := sha256.New()
		if err := it.Fill(io.TeeReader(body, sum), d.dl.Size); err != nil {
			if !errors.Is(err, errUnclaimed) {
				f.report("download", d.p, err)
			}
			return
		}
		sz, _ := it.Size()
		h := sumOf(sum.Sum(nil))
		// Content that changed is seen everywhere (changed.go) before
		// f.seen forgets the old hash.
		f.sawDownload(d.p, d.old, it, sz, h, d.poll)
		f.seen.downloaded(d.p, h, d.mark, f.o.Now())
	}()
	return nil
}

// downloadFailed turns a failed GET of p into the errno for the caller: a
// file gone from the server leaves the cached listing too; anything else
// is reported (as op) and mapped.
func (f *FS) downloadFailed(op, p string, err error) error {
	if remote.IsNotFound(err) {
		dir, name := rpath.Split(p)
		f.meta.RemoveEntry(dir, name)
		return syscall.ENOENT
	}
	f.report(op, p, err)
	return remote.Errno(err)
}

// Handle is an open file.
type Handle struct {
	f *FS
	// mu guards item and released: a download replaces the item of a
	// read-only handle with newer content (changed.go); reads hold it
	// shared while they read.
	mu       sync.RWMutex
	item     *cache.Item
	e        *entry // the overlay entry, for handles that may write
	append   bool
	released bool
	atEnd    string // the path it read through the end of (follow.go; guarded by f.live.mu)
}

// Open opens the file p. flags are open(2) flags.
func (f *FS) Open(ctx context.Context, p string, flags int) (*Handle, error) {
	write := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	if write || flags&syscall.O_TRUNC != 0 {
		return f.openWrite(ctx, p, flags)
	}
	f.mu.Lock()
	if e := f.ov.get(p); e != nil {
		defer f.mu.Unlock()
		switch e.kind {
		case kGone:
			return nil, syscall.ENOENT
		case kDir:
			return nil, syscall.EISDIR
		}
		e.item.Ref()
		return f.newReader(e.item), nil
	}
	f.mu.Unlock()
	if f.refreshOnOpen(p) {
		// Reopened again and again (watch cat): a fresh copy, or the
		// cached one if the download fails (follow.go).
		_, _ = f.wait(ctx, "D"+p, func() (any, error) { return nil, f.downloadNow(p, false) })
	}
	it, err := f.fetch(ctx, p)
	if err != nil {
		return nil, err
	}
	return f.newReader(it), nil
}

// openWrite opens p for writing: its content becomes local (fetched first
// unless truncated), and an upload is queued, held until the last writer closes.
func (f *FS) openWrite(ctx context.Context, p string, flags int) (*Handle, error) {
	if err := f.mayWrite(p); err != nil {
		return nil, err
	}
	trunc := flags&syscall.O_TRUNC != 0
	h, err := f.openLocal(p, trunc)
	if h != nil || err != nil {
		return h, err
	}
	var it *cache.Item
	if trunc {
		it, err = f.content.New(p, true)
		if err != nil {
			return nil, f.localErrno("open", p, err)
		}
	} else {
		if it, err = f.fetch(ctx, p); err != nil {
			return nil, err
		}
		if err := it.WaitComplete(); err != nil {
			it.Release()
			return nil, syscall.EIO
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := f.ov.get(p); e != nil && e.kind == kFile {
		// Someone made it local meanwhile: share theirs.
		it.Release()
		return f.newWriterLocked(e, trunc, flags)
	}
	e := &entry{path: p, kind: kFile, item: it, remote: true, tempNamed: f.temps.match(p)}
	f.ov.set(e)
	it.Ref() // the handle's; the overlay keeps the one we got
	e.writers++
	if err := f.holdUploadLocked(e); err != nil {
		return nil, err
	}
	return &Handle{f: f, item: it, e: e, append: flags&syscall.O_APPEND != 0}, nil
}

// openLocal opens p for writing if its content is already local.
func (f *FS) openLocal(p string, trunc bool) (*Handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.ov.get(p)
	if e == nil {
		return nil, nil
	}
	switch e.kind {
	case kGone:
		return nil, syscall.ENOENT
	case kDir:
		return nil, syscall.EISDIR
	}
	flags := 0
	if trunc {
		flags = syscall.O_TRUNC
	}
	return f.newWriterLocked(e, trunc, flags)
}

func (f *FS) newWriterLocked(e *entry, trunc bool, flags int) (*Handle, error) {
	if trunc {
		if err := e.item.Truncate(0); err != nil {
			return nil, syscall.EIO
		}
		f.touchLocked(e.path, 0)
	}
	e.item.Ref()
	e.writers++
	if err := f.holdUploadLocked(e); err != nil {
		e.writers--
		e.item.Release()
		return nil, err
	}
	return &Handle{f: f, item: e.item, e: e, append: flags&syscall.O_APPEND != 0}, nil
}

// Create creates and opens a new empty file name in dir.
func (f *FS) Create(ctx context.Context, dir, name string, flags int, mode uint32) (*Handle, Attr, error) {
	if err := newNameErr(name); err != nil {
		return nil, Attr{}, err
	}
	p := rpath.Join(dir, name)
	if err := f.mayWrite(p); err != nil {
		return nil, Attr{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.goneLocked(dir) {
		return nil, Attr{}, syscall.ENOENT
	}
	old := f.ov.get(p)
	if old != nil && old.kind == kFile {
		h, err := f.newWriterLocked(old, true, flags)
		return h, f.localAttrLocked(old), err
	}
	if old != nil && old.kind == kDir {
		return nil, Attr{}, syscall.EISDIR
	}
	remoteHas := f.listedLocked(p)
	var obsolete uint64 // a delete the upload makes useless
	if old != nil && old.kind == kGone {
		remoteHas = true
		if !old.isDir {
			obsolete = old.op
		}
	}
	it, err := f.content.New(p, true)
	if err != nil {
		return nil, Attr{}, f.localErrno("create", p, err)
	}
	e := &entry{path: p, kind: kFile, item: it, remote: remoteHas, tempNamed: f.temps.match(p)}
	f.ov.set(e)
	f.meta.UpdateAttr(p, func(a *cache.Attr) {
		a.Size, a.Mode, a.Mtime, a.Atime = 0, mode&0o7777, f.o.Now(), f.o.Now()
	})
	it.Ref()
	e.writers++
	if err := f.holdUploadLocked(e); err != nil {
		return nil, Attr{}, err
	}
	if obsolete != 0 && f.q.Cancel(obsolete) {
		// The delete never went out: the upload will simply overwrite. (It
		// is cancelled only now that the upload is journalled.)
		old.op = 0
	}
	return &Handle{f: f, item: it, e: e, append: flags&syscall.O_APPEND != 0}, f.localAttrLocked(e), nil
}

// Read reads from the file. A read-only handle that reads through the end
// may be a reader following the file (follow.go).
func (h *Handle) Read(p []byte, off int64) (int, error) {
	h.mu.RLock()
	n, err := h.item.ReadAt(p, off)
	sz, known := h.item.Size()
	h.mu.RUnlock()
	if err != nil {
		return n, syscall.EIO
	}
	if h.e == nil && known && off+int64(n) >= sz {
		h.f.readThroughEnd(h)
	}
	return n, nil
}

// Write writes to the file (at its end for O_APPEND handles, whatever the
// kernel's idea of the size).
func (h *Handle) Write(p []byte, off int64) (int, error) {
	if h.e == nil {
		return 0, syscall.EBADF
	}
	if h.append {
		off, _ = h.item.Size()
	}
	n, err := h.item.WriteAt(p, off)
	var qerr error
	if n > 0 {
		// Even a partial write changed the file: it must be uploaded.
		h.f.mu.Lock()
		h.f.touchLocked(h.e.path, -1)
		qerr = h.f.wroteLocked(h.e)
		h.f.mu.Unlock()
	}
	if err != nil {
		return n, h.f.localErrno("write", h.e.path, err)
	}
	return n, qerr
}

// Truncate sets the file's size through the handle.
func (h *Handle) Truncate(size int64) error {
	if h.e == nil {
		return syscall.EBADF
	}
	if err := h.item.Truncate(size); err != nil {
		return h.f.localErrno("truncate", h.e.path, err)
	}
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	h.f.touchLocked(h.e.path, size)
	return h.f.wroteLocked(h.e)
}

// Size returns the file's current size as this handle sees it.
func (h *Handle) Size() int64 {
	sz, _ := h.cur().Size()
	return sz
}

// Path returns where the handle's file is now (it follows renames).
func (h *Handle) Path() string { return h.cur().Path() }

// cur returns the item the handle reads now.
func (h *Handle) cur() *cache.Item {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.item
}

// Writable reports whether the handle may write.
func (h *Handle) Writable() bool { return h.e != nil }

// Flush is called on every close(2). With write-back off it uploads now and
// returns the upload's error to close (a temp-named file excepted: see
// Fsync).
func (h *Handle) Flush(ctx context.Context) error {
	if h.e == nil || h.f.o.WriteBack > 0 {
		return nil
	}
	return h.f.syncUpload(ctx, h.e, true)
}

// Fsync uploads the file's pending data now and waits for the server's
// answer. Through a read-only handle too: `sync FILE` opens the file
// read-only, and fsync still means "make this file durable".
//
// The writer of a temp-named file is the exception: its data is journalled
// already (kill -9 keeps it) and goes after the temp delay if the file is
// still there. vim fsyncs its swap file whenever the user pauses; uploading
// it each time (and deleting it when vim quits) would spend the rate budget
// of every editing session on a file nobody reads.
func (h *Handle) Fsync(ctx context.Context) error {
	if h.e != nil {
		return h.f.syncUpload(ctx, h.e, true)
	}
	p := h.Path()
	h.f.mu.Lock()
	e := h.f.ov.get(p)
	h.f.mu.Unlock()
	if e == nil || e.kind != kFile {
		return nil // nothing pending
	}
	return h.f.syncUpload(ctx, e, false)
}

// Release closes the handle; the last writer's close queues the upload.
func (h *Handle) Release() {
	h.mu.Lock()
	if h.released {
		h.mu.Unlock()
		return
	}
	h.released = true
	h.mu.Unlock()
	if h.e == nil {
		h.f.releaseReader(h)
	} else {
		h.f.mu.Lock()
		h.e.writers--
		if h.e.writers == 0 && !h.e.detached {
			h.f.finishWriteLocked(h.e)
		}
		h.f.mu.Unlock()
	}
	h.item.Release()
}

// touchLocked records a local modification of p (size -1: unchanged).
func (f *FS) touchLocked(p string, size int64) {
	now := f.o.Now()
	f.meta.UpdateAttr(p, func(a *cache.Attr) {
		a.Mtime = now
		if size >= 0 {
			a.Size = size
		}
	})
}
