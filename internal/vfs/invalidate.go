package vfs

import (
	"time"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
)

// Invalidate makes the next look at each of paths ask the server: the server
// has changed them, or made them, behind the caches' back (a web app's
// reload writes its logs, a task's new schedule gives its log a new name).
// The cached content of each path is dropped, unless it holds local changes
// not yet uploaded, and the listing of its directory is marked expired
// (kept as the copy to serve should the server be unreachable). Open files
// keep what they read. No request is made.
func (f *FS) Invalidate(paths ...string) {
	for _, p := range paths {
		p = rpath.Clean(p)
		// Under f.mu, as Create makes its items; a truncating open makes
		// one before it takes f.mu, and should this drop it, the overlay
		// entry and the open file still hold it and upload it.
		f.mu.Lock()
		if f.ov.get(p) == nil {
			if it, ok := f.content.Peek(p); ok {
				if dirty, _ := it.Dirty(); !dirty {
					f.content.Remove(p)
				}
			}
		}
		f.mu.Unlock()
		dir, _ := rpath.Split(p)
		if l, ok := f.meta.PeekListing(dir); ok {
			f.meta.PutListing(dir, &cache.Listing{Entries: l.Entries, Fetched: time.Time{}})
		}
	}
}
