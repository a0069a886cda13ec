package vfs

import (
	"context"
	"sync"
	"time"

	"github.com/pafs/pafs/internal/rpath"
)

// Tree walks (ls -R, find, grep -r, du, rsync, git status) read one directory
// after another and pay the API's latency for each listing in turn. When a
// walk shows — a directory was listed, then one of its subdirectories — the
// next few subdirectories are listed ahead, in parallel, from the rate
// budget left over: the same requests, sooner. Outside walks it does nothing,
// and it never takes the last part of the budget that a user's own request
// might need.

const (
	readAheadDirs = 4               // subdirectories listed ahead of a walk
	readAheadSpan = 5 * time.Second // how long a listing counts as the walk's
)

// walks remembers the subdirectories of recently listed directories.
type walks struct {
	mu   sync.Mutex
	dirs map[string]walkDir
}

type walkDir struct {
	subdirs []string // sorted, as a walk visits them
	at      time.Time
	caller  uint32 // the process that listed it

	// For walks that stat every entry (sizes.go): the entries, sorted as
	// readdir gave them, the one the caller looked up last (-1: none),
	// and how far sizes were fetched ahead.
	names  []string
	isDir  []bool
	last   int
	probed int
}

type callerKey struct{}

// WithCaller tells vfs which process a request comes from: a tree walk is one
// process listing a directory and then its subdirectories.
func WithCaller(ctx context.Context, pid uint32) context.Context {
	return context.WithValue(ctx, callerKey{}, pid)
}

func callerOf(ctx context.Context) uint32 {
	pid, _ := ctx.Value(callerKey{}).(uint32)
	return pid
}

// listed records dir's entries (for walks of sizes.go) and subdirectories
// and, if dir is a step of a walk through its parent by the same process,
// lists the parent's next subdirectories ahead.
func (f *FS) listed(ctx context.Context, dir string, ents []DirEntry) {
	caller := callerOf(ctx)
	if caller == 0 {
		return
	}
	now := f.o.Now()
	var subdirs []string
	names, isDir := make([]string, len(ents)), make([]bool, len(ents))
	for i, e := range ents {
		names[i], isDir[i] = e.Name, e.IsDir
		if e.IsDir {
			subdirs = append(subdirs, rpath.Join(dir, e.Name))
		}
	}
	f.walks.mu.Lock()
	if f.walks.dirs == nil {
		f.walks.dirs = map[string]walkDir{}
	}
	for d, w := range f.walks.dirs {
		if now.Sub(w.at) > readAheadSpan {
			delete(f.walks.dirs, d)
		}
	}
	f.walks.dirs[dir] = walkDir{subdirs: subdirs, at: now, caller: caller, names: names, isDir: isDir, last: -1, probed: -1}
	parent, _ := rpath.Split(dir)
	var ahead []string
	if w, ok := f.walks.dirs[parent]; ok && dir != "/" && w.caller == caller && f.o.Spare != nil {
		ahead = nextAfter(w.subdirs, dir, readAheadDirs)
		w.at = now
		f.walks.dirs[parent] = w
	}
	f.walks.mu.Unlock()
	for _, d := range ahead {
		f.listAhead(d)
	}
}

// nextAfter returns up to n entries of sorted that follow x.
func nextAfter(sorted []string, x string, n int) []string {
	for i, s := range sorted {
		if s == x {
			end := min(i+1+n, len(sorted))
			return sorted[i+1 : end]
		}
	}
	return nil
}

// listAhead lists dir in the background if it is not cached and the budget
// allows; a user's listing of it joins the same request.
func (f *FS) listAhead(dir string) {
	if _, ok := f.meta.PeekListing(dir); ok {
		if _, fresh := f.meta.Listing(dir); fresh {
			return
		}
	}
	if spare := f.o.Spare(); spare >= 0 && spare <= readAheadDirs {
		return
	}
	f.mu.Lock()
	local := f.ov.get(dir) != nil
	f.mu.Unlock()
	if local {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(f.bgCtx, time.Minute)
		defer cancel()
		f.listing(ctx, dir)
	}()
}
