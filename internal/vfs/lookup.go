package vfs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
	"github.com/pafs/pafs/remote"
)

// Attr is what a path looks like to stat.
type Attr struct {
	Ino       uint64 // stable across remounts (FS.Ino)
	IsDir     bool
	Size      int64
	SizeKnown bool // false: Size is 0 because pafs does not know it (see sizes.go)
	Mtime     time.Time
	Atime     time.Time
	Mode      uint32 // permission bits; 0 means the default
	UID, GID  uint32
	HasOwner  bool
}

// DirEntry is one name in a directory.
type DirEntry struct {
	Name  string
	IsDir bool
	Ino   uint64 // the same as stat shows (readdir's d_ino)
}

// keepName is the placeholder a mkdir uploads and deletes again; it is never shown.
const keepName = ".pafs-keep"

// validName rejects names a listing must never yield: they would escape the
// directory or confuse the kernel.
func validName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\x00") && len(n) <= 255
}

// newNameErr says why name cannot be given to a new file or directory:
// ENAMETOOLONG beyond 255 bytes (NAME_MAX), EINVAL for names no directory
// can hold (and pafs's own placeholder), EILSEQ for names that are not
// UTF-8, which the API's JSON listings cannot carry (the upload would be
// refused for ever). nil if it is fine.
func newNameErr(name string) error {
	switch {
	case len(name) > 255:
		return syscall.ENAMETOOLONG
	case !validName(name) || name == keepName:
		return syscall.EINVAL
	case !utf8.ValidString(name):
		return syscall.EILSEQ
	}
	return nil
}

// wait runs fn in the background flight group under key and waits for it with
// ctx, so that a signal to one caller does not fail the others.
func (f *FS) wait(ctx context.Context, key string, fn func() (any, error)) (any, error) {
	ch := f.flights.DoChan(key, fn)
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, syscall.EINTR
	}
}

// listing returns dir's entries as the server reports them, from the cache
// or fetched (one request per directory per TTL; concurrent callers share it).
func (f *FS) listing(ctx context.Context, dir string) (*cache.Listing, error) {
	if l, ok := f.meta.Listing(dir); ok {
		return l, nil
	}
	if l, ok := f.revivedListing(dir); ok {
		return l, nil
	}
	v, err := f.wait(ctx, "L"+dir, func() (any, error) {
		if l, ok := f.meta.Listing(dir); ok {
			return l, nil
		}
		l, _, err := f.fetchListing(dir)
		return l, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*cache.Listing), nil
}

// freshListing fetches dir's listing now, whatever the cache holds: for a
// decision that a listing up to --dir-cache-time old cannot support. asOf
// is the count of completions the listing is patched up to (see
// patchLocked). When the server cannot be reached, it is the listing last
// seen, like any listing.
func (f *FS) freshListing(ctx context.Context, dir string) (l *cache.Listing, asOf uint64, err error) {
	type fresh struct {
		l    *cache.Listing
		asOf uint64
	}
	v, err := f.wait(ctx, "F"+dir, func() (any, error) {
		l, asOf, err := f.fetchListing(dir)
		return fresh{l, asOf}, err
	})
	if err != nil {
		return nil, 0, err
	}
	r := v.(fresh)
	return r.l, r.asOf, nil
}

// fetchListing asks the server for dir's listing and caches it.
func (f *FS) fetchListing(dir string) (l *cache.Listing, asOf uint64, err error) {
	f.mu.Lock()
	since := f.seq
	f.mu.Unlock()
	_, haveStale := f.meta.PeekListing(dir)
	if haveStale && f.serverDown() {
		if l, ok := f.staleListing(dir, nil); ok {
			return l, since, nil
		}
	}
	ctx, stop, cancel := f.askCtx(haveStale)
	raw, err := f.r.ListDir(ctx, dir)
	if stop() {
		err = fmt.Errorf("list %s: %w", dir, errStaleWait)
	}
	cancel()
	if err != nil {
		if l, ok := f.staleListing(dir, err); ok {
			return l, since, nil
		}
		return f.listingFailed(dir, err)
	}
	f.serverUp()
	ents := make(map[string]bool, len(raw))
	for name, de := range raw {
		if validName(name) && name != keepName {
			ents[name] = de.IsDir()
		}
	}
	f.mu.Lock()
	f.patchLocked(dir, ents, since)
	asOf = f.seq
	f.forgetGoneLocked(dir, ents)
	f.mu.Unlock()
	f.seen.listed(dir, ents, f.o.Now())
	l = &cache.Listing{Entries: ents, Fetched: f.o.Now()}
	f.meta.PutListing(dir, l)
	return l, asOf, nil
}

// listingFailed turns a failed listing into an answer: a missing directory is
// forgotten; a directory the API refuses to list but that must exist (an
// ancestor of the home directory) gets the entries pafs knows of.
func (f *FS) listingFailed(dir string, err error) (*cache.Listing, uint64, error) {
	errno := remote.Errno(err)
	if errno == syscall.ENOENT {
		parent, name := rpath.Split(dir)
		if dir != "/" {
			f.meta.RemoveEntry(parent, name)
		}
		return nil, 0, syscall.ENOENT
	}
	if errno == syscall.EACCES {
		if ents := f.knownChildren(dir); ents != nil {
			l := &cache.Listing{Entries: ents, Fetched: f.o.Now()}
			f.meta.PutListing(dir, l)
			return l, 0, nil
		}
	}
	f.report("list", dir, err)
	return nil, 0, errno
}

// knownChildren lists the directories in dir known to exist without asking
// the server: the writable roots and their ancestors (roots.go), nil if dir
// holds none.
func (f *FS) knownChildren(dir string) map[string]bool {
	var known map[string]bool
	for _, r := range f.writableRoots() {
		for p := r; p != "/"; {
			parent, name := rpath.Split(p)
			if parent == dir {
				if known == nil {
					known = map[string]bool{}
				}
				known[name] = true
			}
			p = parent
		}
	}
	return known
}

// base returns what the server holds in dir: nothing for a directory created
// here and not yet on the server, otherwise its listing.
func (f *FS) base(ctx context.Context, dir string) (map[string]bool, error) {
	if homes, _ := rpath.Split(f.o.Home); dir == homes && homes != "/" {
		// The API shows no other user's home: /home holds ours alone, and
		// asking would cost a request per TTL for nothing (editors walk up
		// the tree looking for project files).
		_, user := rpath.Split(f.o.Home)
		return map[string]bool{user: true}, nil
	}
	f.mu.Lock()
	localDir := f.localDirLocked(dir)
	f.mu.Unlock()
	if localDir {
		if l, ok := f.meta.PeekListing(dir); ok {
			return l.Entries, nil
		}
		return nil, nil
	}
	l, err := f.listing(ctx, dir)
	if err != nil {
		return nil, err
	}
	return l.Entries, nil
}

// localDirLocked reports whether dir is a directory made here that the
// server does not have yet (as far as this mount knows).
func (f *FS) localDirLocked(dir string) bool {
	e := f.ov.get(dir)
	return e != nil && e.kind == kDir && !e.remote
}

// Lookup finds name in dir.
func (f *FS) Lookup(ctx context.Context, dir, name string) (Attr, error) {
	if len(name) > 255 {
		return Attr{}, syscall.ENAMETOOLONG
	}
	if !validName(name) {
		return Attr{}, syscall.ENOENT
	}
	p := rpath.Join(dir, name)
	f.mu.Lock()
	if e := f.ov.get(p); e != nil {
		defer f.mu.Unlock()
		if e.kind == kGone {
			return Attr{}, syscall.ENOENT
		}
		return f.localAttrLocked(e), nil
	}
	gone := f.goneLocked(dir)
	f.mu.Unlock()
	if gone || name == keepName {
		return Attr{}, syscall.ENOENT
	}
	if f.isKnownDir(p) {
		return f.remoteAttr(p, true), nil
	}
	ents, err := f.base(ctx, dir)
	if err != nil {
		return Attr{}, err
	}
	isDir, ok := ents[name]
	if !ok {
		return Attr{}, syscall.ENOENT
	}
	return f.remoteAttr(p, isDir), nil
}

// Stat returns p's attributes without asking the server (staleness is
// caught by Lookup when the kernel revalidates); a file's size may be
// unknown (SizeKnown false, Size 0): StatExact waits for it.
func (f *FS) Stat(p string, isDir bool) Attr {
	f.mu.Lock()
	if e := f.ov.get(p); e != nil && e.kind != kGone {
		defer f.mu.Unlock()
		return f.localAttrLocked(e)
	}
	f.mu.Unlock()
	return f.remoteAttr(p, isDir)
}

// ReadDir lists dir: the server's entries with this mount's changes applied.
func (f *FS) ReadDir(ctx context.Context, dir string) ([]DirEntry, error) {
	f.mu.Lock()
	gone := f.goneLocked(dir)
	f.mu.Unlock()
	if gone {
		return nil, syscall.ENOENT
	}
	ents, err := f.base(ctx, dir)
	if err != nil {
		return nil, err
	}
	merged := make(map[string]bool, len(ents))
	for n, d := range ents {
		merged[n] = d
	}
	f.mu.Lock()
	for name, e := range f.ov.children(dir) {
		if e.kind == kGone {
			delete(merged, name)
		} else {
			merged[name] = e.kind == kDir
		}
	}
	f.mu.Unlock()
	out := make([]DirEntry, 0, len(merged))
	for n, d := range merged {
		out = append(out, DirEntry{Name: n, IsDir: d, Ino: f.meta.Ino(rpath.Join(dir, n))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	f.listed(ctx, dir, out)
	return out, nil
}

// remoteAttr describes a path the server holds, with what was learnt locally.
// Its inode number is assigned here, at the first sight of the path, and
// with it the record whose FirstSeen is the mtime shown until pafs sees
// the file's content (docs/semantics.md).
func (f *FS) remoteAttr(p string, isDir bool) Attr {
	a := Attr{IsDir: isDir, Ino: f.meta.Ino(p), Mtime: f.epoch, Atime: f.epoch}
	if m, ok := f.meta.Attr(p); ok {
		applyMeta(&a, m)
	}
	if !isDir {
		if it, ok := f.content.Peek(p); ok {
			if sz, known := it.Size(); known {
				a.Size, a.SizeKnown = sz, true
			}
		}
	}
	return a
}

// localAttrLocked describes an overlay entry. f.mu must be held.
func (f *FS) localAttrLocked(e *entry) Attr {
	a := Attr{IsDir: e.kind == kDir, Ino: f.meta.Ino(e.path), Mtime: f.epoch, Atime: f.epoch}
	if m, ok := f.meta.Attr(e.path); ok {
		applyMeta(&a, m)
	}
	if e.kind == kFile {
		sz, _ := e.item.Size()
		a.Size, a.SizeKnown = sz, true
	}
	return a
}

func applyMeta(a *Attr, m cache.Attr) {
	if m.Size >= 0 && !a.IsDir {
		a.Size, a.SizeKnown = m.Size, true
	}
	// The mtime is the last write through pafs (or touch), or when pafs
	// first saw the current content; before any content was seen, when
	// pafs first saw the path. All are kept across remounts: make and
	// rsync compare them, and the epoch fallback would move each mount.
	mtime := m.Mtime
	if mtime.IsZero() {
		mtime = m.FirstSeen
	}
	if !mtime.IsZero() {
		a.Mtime = mtime
	}
	if !m.Atime.IsZero() {
		a.Atime = m.Atime
	} else if !mtime.IsZero() {
		a.Atime = mtime
	}
	a.Mode = m.Mode
	a.UID, a.GID, a.HasOwner = m.UID, m.GID, m.HasOwner
}
