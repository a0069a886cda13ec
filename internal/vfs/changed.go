package vfs

import (
	"context"
	"sync"
	"time"

	"github.com/pafs/pafs/cache"
)

// A download that shows content other than what pafs knew of a file is a
// change made elsewhere (the web editor, a web app writing its log). Every
// view must agree on it at once, or a tool reads a size that disagrees with
// the bytes it then gets (tar archiving a file short, tail -f never seeing
// new lines):
//
//   - the metadata: size, hash, and mtime = the time the change was seen
//     (cache.Meta.SawContent), so that make rebuilds what depends on it;
//   - open descriptors: read-only handles read the item they were opened on,
//     and a download supersedes that item, so they move to the new one
//     (a handle whose file was renamed over or unlinked here keeps its
//     item: its path was taken from it locally, not by the server);
//   - the kernel: its cached pages and attributes for the file are dropped
//     (the hook fs/ registers with OnContentChange).
//
// live holds this state and the following of files (follow.go).
type live struct {
	mu sync.Mutex // guards the fields below; never held while taking FS.mu
	// readers are the open read-only handles and the item each reads
	// (a copy of Handle.item, kept here so that a download finds the
	// handles it supersedes without locking them all).
	readers map[*Handle]*cache.Item

	// Kernel invalidation: paths waiting for the hook, which runs on a
	// goroutine of its own (see OnContentChange).
	notify   func(p string)
	notes    map[string]bool
	noteWake chan struct{}

	// Following (follow.go).
	watches  map[string]*watch
	loopOnce sync.Once
	wake     chan struct{}
	slot     time.Time   // when the last follow poll started
	polls    []time.Time // when follow polls started, the last minute of them
}

// OnContentChange registers fn to hear the path of every file whose content
// pafs found changed on the server, once the new content is in place. fs/
// uses it to make the kernel drop what it cached of the file. fn runs on a
// goroutine of its own, never inside a FUSE request: invalidating a file's
// pages waits for reads of those pages that are being served, and a hook
// called from a request could wait for itself.
func (f *FS) OnContentChange(fn func(p string)) {
	l := &f.live
	l.mu.Lock()
	l.notify = fn
	if l.noteWake == nil {
		l.noteWake = make(chan struct{}, 1)
		go f.notifier(f.bgCtx)
	}
	l.mu.Unlock()
}

// notifier passes changed paths to the hook until ctx ends. Paths changed
// again before the hook ran are passed once.
func (f *FS) notifier(ctx context.Context) {
	l := &f.live
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.noteWake:
		}
		l.mu.Lock()
		notes, fn := l.notes, l.notify
		l.notes = nil
		l.mu.Unlock()
		for p := range notes {
			fn(p)
		}
	}
}

// noteChanged queues p for the kernel hook.
func (l *live) noteChanged(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.noteWake == nil {
		return // no hook: not mounted (tests of vfs alone)
	}
	if l.notes == nil {
		l.notes = map[string]bool{}
	}
	l.notes[p] = true
	select {
	case l.noteWake <- struct{}{}:
	default:
	}
}

// sawDownload records a complete download of p into it, which superseded
// old (the item cached for p when it started, nil if none): the content's
// size and hash, and if it differs from what pafs knew, the change event
// (see live). poll says the download was a follow poll (follow.go). It must
// run before f.seen learns of the download.
func (f *FS) sawDownload(p string, old, it *cache.Item, size int64, sum [32]byte, poll bool) {
	// What pafs knew of the content, when the metadata recorded no hash:
	// what this mount last uploaded or downloaded there (f.seen).
	var prior *[32]byte
	if r, _ := f.seen.get(p); r.st == seenContent {
		prior = &r.h
	}
	_, changed := f.meta.SawContent(p, size, sum, prior)
	moved := 0
	if old != nil && old != it {
		moved = f.live.supersede(old, it)
	}
	// Only a file someone holds open can have stale pages in the kernel:
	// it drops them at every open (pafs never asks it to keep them), and
	// attributes of files are not cached at all. Invalidating more often
	// would do harm: an invalidation makes the kernel throw away the
	// answer to any getattr in flight, so a reader racing it could keep a
	// stale size for one read.
	if changed && moved > 0 {
		f.live.noteChanged(p)
	}
	f.followFetched(p, changed, poll)
}

// newReader returns a read-only handle on it (whose reference it takes
// over), registered so that a download superseding it moves the handle on.
func (f *FS) newReader(it *cache.Item) *Handle {
	h := &Handle{f: f, item: it}
	l := &f.live
	l.mu.Lock()
	if l.readers == nil {
		l.readers = map[*Handle]*cache.Item{}
	}
	l.readers[h] = it
	l.mu.Unlock()
	return h
}

// supersede moves the read-only handles reading old to it and returns how
// many it moved. Handles are locked one at a time, after l.mu is released: a
// read holds its handle's lock while it waits for data, and must not hold up
// other handles.
func (l *live) supersede(old, it *cache.Item) int {
	var hs []*Handle
	moved := 0
	l.mu.Lock()
	for h, cur := range l.readers {
		if cur == old {
			l.readers[h] = it
			hs = append(hs, h)
		}
	}
	l.mu.Unlock()
	for _, h := range hs {
		h.mu.Lock()
		if h.released || h.item != old {
			h.mu.Unlock()
			continue
		}
		it.Ref()
		h.item = it
		h.mu.Unlock()
		old.Release()
		moved++
	}
	return moved
}
