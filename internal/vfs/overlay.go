package vfs

import (
	"time"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
)

// kind is what the overlay says about a path.
type kind int

const (
	kFile kind = iota + 1 // a file whose content is local (written here, not yet confirmed uploaded)
	kDir                  // a directory created here that the server may not have yet
	kGone                 // deleted here; the server may still have it
)

// entry is one path of the overlay. Handles keep a pointer to their entry, so
// a rename moves the entry object itself and open files follow it.
type entry struct {
	path      string
	kind      kind
	op        uint64      // queued op carrying this change to the server; 0 if none
	item      *cache.Item // kFile: the content (the overlay holds one reference)
	remote    bool        // the server may hold something at path, so removing it needs a request
	isDir     bool        // kGone: what was deleted was a directory
	writers   int         // kFile: open handles that may write
	tempNamed bool        // kFile: named like an editor's temp, swap or backup file; its upload waits longer
	due       time.Time   // kFile: when its unsent data goes at the latest (the op's Deadline); zero if not armed
	detached  bool        // no longer in the overlay (renamed over, removed)
	refused   uint64      // kFile: 1 + the generation of its data the server refused for good, kept in failed/ (0: none)
	// kDir: the queued delete of what was at this path before the directory
	// was created here (0 if none). Should the directory go again before
	// reaching the server, the path is deleted, not back to the old thing.
	gone      uint64
	goneIsDir bool
}

// overlay indexes entries by path and by parent directory.
type overlay struct {
	byPath map[string]*entry
	byDir  map[string]map[string]*entry
}

func newOverlay() overlay {
	return overlay{byPath: map[string]*entry{}, byDir: map[string]map[string]*entry{}}
}

func (o *overlay) get(p string) *entry { return o.byPath[p] }

// set puts e at e.path, replacing (and detaching) what was there.
func (o *overlay) set(e *entry) {
	if old := o.byPath[e.path]; old != nil && old != e {
		old.detached = true
	}
	o.byPath[e.path] = e
	dir, name := rpath.Split(e.path)
	m := o.byDir[dir]
	if m == nil {
		m = map[string]*entry{}
		o.byDir[dir] = m
	}
	m[name] = e
	e.detached = false
}

// remove takes e out of the overlay (if it is still there).
func (o *overlay) remove(e *entry) {
	if o.byPath[e.path] != e {
		return
	}
	delete(o.byPath, e.path)
	dir, name := rpath.Split(e.path)
	if m := o.byDir[dir]; m != nil {
		delete(m, name)
		if len(m) == 0 {
			delete(o.byDir, dir)
		}
	}
	e.detached = true
}

func (o *overlay) children(dir string) map[string]*entry { return o.byDir[dir] }

// below returns the entries strictly inside dir.
func (o *overlay) below(dir string) []*entry {
	var out []*entry
	for p, e := range o.byPath {
		if rpath.IsBelow(p, dir) {
			out = append(out, e)
		}
	}
	return out
}

// completion is a change the server has confirmed. Listings fetched while it
// was under way may not show it, so they are patched with recent completions.
type completion struct {
	seq   uint64
	path  string
	kind  kind // kFile or kDir: now present; kGone: now absent
	isDir bool
}

const maxRecent = 4096

// recordLocked notes a confirmed change. f.mu must be held.
func (f *FS) recordLocked(p string, k kind, isDir bool) {
	f.seq++
	f.recent = append(f.recent, completion{seq: f.seq, path: p, kind: k, isDir: isDir})
	if len(f.recent) > maxRecent {
		f.recent = append([]completion(nil), f.recent[len(f.recent)-maxRecent/2:]...)
	}
}

// patchLocked applies the completions after since to a listing of dir.
func (f *FS) patchLocked(dir string, ents map[string]bool, since uint64) {
	for _, c := range f.recent {
		if c.seq <= since {
			continue
		}
		d, name := rpath.Split(c.path)
		if d != dir {
			continue
		}
		if c.kind == kGone {
			delete(ents, name)
		} else {
			ents[name] = c.isDir
		}
	}
}

// goneLocked reports whether p or one of its ancestors is deleted locally.
func (f *FS) goneLocked(p string) bool {
	for q := p; ; {
		if e := f.ov.get(q); e != nil && e.kind == kGone {
			return true
		}
		if q == "/" {
			return false
		}
		q, _ = rpath.Split(q)
	}
}

// queuedBelowLocked reports whether an op is queued for something inside dir
// (whose upload or mkdir will create dir on the server as a side effect).
func (f *FS) queuedBelowLocked(dir string) bool {
	for _, e := range f.ov.below(dir) {
		if e.op != 0 && (e.kind == kFile || e.kind == kDir) {
			return true
		}
	}
	return false
}

// listedLocked reports whether the server may hold p, as far as the last
// listing of its directory tells (true when there is no listing to ask).
func (f *FS) listedLocked(p string) bool {
	dir, name := rpath.Split(p)
	if e := f.ov.get(dir); e != nil && e.kind == kDir && !e.remote {
		return false
	}
	l, ok := f.meta.PeekListing(dir)
	if !ok {
		return true
	}
	_, has := l.Entries[name]
	return has
}
