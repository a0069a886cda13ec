package vfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/ratelimit"
)

// Exact sizes. The API lists names and types only; the one way to learn a
// file's size is to download it. Tools trust the size stat reports — git
// add and tar c read that many bytes and store the rest as missing — so when
// stat asks for a file whose size pafs does not know (getattr; file
// attributes have a zero timeout, so the kernel asks before every stat, see
// fs/attr.go), the file is fetched and the caller waits. The fetch is the
// download a read would make: a body up to probeKeepMax goes on into the
// content cache, so the read that usually follows costs nothing; a larger
// one waits, unread, for an open for parkTime (open(2) asks getattr first,
// to check permissions) and is dropped if none comes, its length recorded
// (ls -l must not download gigabytes). Sizes are recorded (cache.Meta), so
// a size costs one request per file per content version: a size learnt from
// a download, an upload or a write counts.
//
// Only getattr pays. A lookup answers without the size (the kernel does not
// trust a lookup's attributes for stat, their timeout being zero), so
// readdir, READDIRPLUS included, and find -name, ls without -l, rm, mv cost
// what they cost before.
//
// Walks. ls -l, du, find -size, git add and tar c read a directory, then
// stat its entries one after another, in the order readdir gave them. When
// a process stats two entries of a directory it just listed in that order,
// the sizes of the next sizesAhead files are fetched in parallel, as probes:
// the lowest priority of the rate limiter, behind uploads, leaving a reserve
// (ratelimit.Probe). The walk then finds each size known or on its way; a
// probe it reaches before the rate limit let it go becomes interactive. A
// stat given up (Ctrl-C) leaves its fetch running: its answer is recorded
// all the same.
//
// With LazySizes (--sizes=lazy), a file of unknown size shows as empty, as
// pafs did before; when a read then finds it was not, the log and the status
// file say so, since a copy taken by size meanwhile is empty.

const (
	// probeKeepMax is the largest body a size fetch reads without an open.
	probeKeepMax = 8 << 20
	// parkTime is how long a larger body waits for an open.
	parkTime = time.Second
	// sizesAhead is how many files a walk's sizes are fetched ahead.
	sizesAhead = 32
	// walkStepMax: a stat at most this many entries after the previous
	// one of the same process continues a walk (ls -l skips dotfiles).
	walkStepMax = 3
	// maxReportedEmpty bounds the files remembered as shown empty (lazy).
	maxReportedEmpty = 1 << 14
)

// errUnclaimed ends a parked body no open came for.
var errUnclaimed = errors.New("size fetch: no open came for the body")

// sizes is the state of size fetches.
type sizes struct {
	mu     sync.Mutex             // guards the maps below; taken alone
	probes map[string]*probe      // in flight, by path
	parked map[string]*parkedBody // large bodies waiting for an open
	empty  map[string]bool        // lazy: files shown empty while their size was unknown
}

// probe is one size fetch.
type probe struct {
	done   chan struct{} // closed when the size is known or the fetch failed
	err    error         // set before done is closed
	urgent chan struct{} // closed when someone waits: see ratelimit.Probe
	once   sync.Once
}

func (pr *probe) urge() { pr.once.Do(func() { close(pr.urgent) }) }

// sized completes a, the attributes of p, with p's true size: known, or
// fetched now (the caller waits, with ctx). In lazy mode an unknown size is
// shown as 0 and remembered as such.
func (f *FS) sized(ctx context.Context, p string, a Attr) (Attr, error) {
	if a.IsDir || a.SizeKnown {
		return a, nil
	}
	if f.o.LazySizes {
		f.shownEmpty(p)
		return a, nil
	}
	pr := f.probeSize(p, true)
	select {
	case <-pr.done:
	case <-ctx.Done():
		return Attr{}, syscall.EINTR // the fetch goes on, and is remembered
	}
	if pr.err != nil {
		return Attr{}, pr.err
	}
	if a = f.Stat(p, false); !a.SizeKnown {
		return Attr{}, fmt.Errorf("size of %s: %w", p, syscall.EIO)
	}
	return a, nil
}

// StatExact is Stat with the true size of a file (see sized): getattr of a
// file whose size is not known yet waits for it. It is a step of a walk
// (see walkSizes).
func (f *FS) StatExact(ctx context.Context, p string, isDir bool) (Attr, error) {
	if !isDir {
		dir, name := rpath.Split(p)
		f.walkSizes(ctx, dir, name)
	}
	return f.sized(ctx, p, f.Stat(p, isDir))
}

// probeSize returns the fetch of p's size, started now if none is under
// way; urgent: someone waits for it.
func (f *FS) probeSize(p string, urgent bool) *probe {
	f.sizes.mu.Lock()
	pr := f.sizes.probes[p]
	if pr == nil {
		if f.sizes.probes == nil {
			f.sizes.probes = map[string]*probe{}
		}
		pr = &probe{done: make(chan struct{}), urgent: make(chan struct{})}
		f.sizes.probes[p] = pr
		go func() {
			pr.err = f.runProbe(p, pr)
			f.sizes.mu.Lock()
			delete(f.sizes.probes, p)
			f.sizes.mu.Unlock()
			close(pr.done)
		}()
	}
	f.sizes.mu.Unlock()
	if urgent {
		pr.urge()
	}
	return pr
}

// runProbe fetches p's size. It shares the flight of a download of p (an
// open joins the probe's request, or the probe the open's), and returns
// once the size is known.
func (f *FS) runProbe(p string, pr *probe) error {
	if _, err := f.wait(f.bgCtx, "D"+p, func() (any, error) { return nil, f.fetchSize(p, pr.urgent) }); err != nil {
		return err
	}
	if it, ok := f.content.Peek(p); ok {
		// A body without a length: its size is known once it is all in.
		if _, err := it.WaitSize(); err != nil {
			return fmt.Errorf("size of %s: %w", p, syscall.EIO)
		}
	}
	return nil
}

// fetchSize starts downloading p at probe priority and returns once the
// response headers are in; the body goes on into the content cache, a large
// one only if an open comes for it (see park).
func (f *FS) fetchSize(p string, urgent <-chan struct{}) error {
	if it, ok := f.content.Lookup(p); ok {
		it.Release()
		return nil
	}
	if f.serverDown() {
		// Waiting out every retry for each file of an ls -l would hang it;
		// the server was just found unreachable. Offline since the mount
		// began, the user is told which files cannot be read.
		if f.offline() {
			f.report("size", p, ErrOffline)
		}
		return fmt.Errorf("size of %s: server unreachable: %w", p, syscall.EIO)
	}
	ctx, cancel := context.WithCancel(f.bgCtx)
	mark := f.seen.mark(p)
	dl, err := f.r.Download(ratelimit.Probe(ctx, urgent), p)
	if err != nil {
		cancel()
		return f.downloadFailed("size", p, err)
	}
	f.serverUp()
	old, _ := f.content.Peek(p)
	return f.keep(fill{op: "size", p: p, dl: dl, old: old, mark: mark, cancel: cancel,
		prepare: func() io.Reader { return f.probed(p, dl) }})
}

// probed records what a size fetch's headers say of p, and returns what to
// fill its item from: the body, or for a large one the body parked until an
// open claims it.
func (f *FS) probed(p string, dl *remote.Download) io.Reader {
	now := f.o.Now()
	f.meta.UpdateAttr(p, func(a *cache.Attr) {
		// The mtime shown from the first stat on, so that it does not
		// change under tar c when the body is in (SawContent keeps it).
		if a.Mtime.IsZero() {
			a.Mtime = now
		}
		if dl.Size > probeKeepMax && a.Size != dl.Size {
			// Recorded now: the body is dropped if no open comes. A new
			// size is new content: the hash was of the old one.
			if a.Size >= 0 {
				a.Mtime = now
			}
			a.Size, a.HasHash = dl.Size, false
		}
	})
	if dl.Size > probeKeepMax {
		return f.park(p, dl.Body)
	}
	return dl.Body
}

// parkedBody is a large body that is read only once an open claims it
// (opened), and dropped if none does within parkTime.
type parkedBody struct {
	io.Reader
	f       *FS
	claim   chan struct{} // closed by the open that claims it
	dropped chan struct{} // closed once a dropped body's item has failed
	waited  bool

	claimed, dropping bool // guarded by f.sizes.mu
}

func (b *parkedBody) Read(p []byte) (int, error) {
	if !b.waited {
		b.waited = true
		t := time.NewTimer(parkTime)
		defer t.Stop()
		select {
		case <-b.claim:
		case <-t.C:
			if b.drop() {
				return 0, errUnclaimed
			}
		}
	}
	return b.Reader.Read(p)
}

// drop gives the body up, unless an open claimed it meanwhile.
func (b *parkedBody) drop() bool {
	b.f.sizes.mu.Lock()
	defer b.f.sizes.mu.Unlock()
	if b.claimed {
		return false
	}
	b.dropping = true
	return true
}

// park makes p's body wait for an open (opened).
func (f *FS) park(p string, r io.Reader) *parkedBody {
	b := &parkedBody{Reader: r, f: f, claim: make(chan struct{}), dropped: make(chan struct{})}
	f.sizes.mu.Lock()
	if f.sizes.parked == nil {
		f.sizes.parked = map[string]*parkedBody{}
	}
	f.sizes.parked[p] = b
	f.sizes.mu.Unlock()
	return b
}

// unpark forgets p's body once it is read, or dropped and its item failed.
func (f *FS) unpark(p string, r io.Reader) {
	b, ok := r.(*parkedBody)
	if !ok {
		return
	}
	f.sizes.mu.Lock()
	if f.sizes.parked[p] == b {
		delete(f.sizes.parked, p)
	}
	if b.dropping {
		close(b.dropped)
	}
	f.sizes.mu.Unlock()
}

// walkSizes notes that the caller looked name up in dir and, if that
// continues a walk through dir's listing, fetches the sizes of the files
// the walk comes to next.
func (f *FS) walkSizes(ctx context.Context, dir, name string) {
	caller := callerOf(ctx)
	if f.o.LazySizes || caller == 0 {
		return
	}
	now := f.o.Now()
	var ahead []string
	f.walks.mu.Lock()
	w, ok := f.walks.dirs[dir]
	if ok && w.caller == caller && now.Sub(w.at) <= readAheadSpan {
		j := sort.SearchStrings(w.names, name)
		if j < len(w.names) && w.names[j] == name {
			if w.last >= 0 && j > w.last && j <= w.last+walkStepMax {
				end := min(j+sizesAhead, len(w.names)-1)
				for i := max(j, w.probed) + 1; i <= end; i++ {
					if !w.isDir[i] {
						ahead = append(ahead, rpath.Join(dir, w.names[i]))
					}
				}
				w.probed = max(w.probed, end)
			}
			w.last, w.at = j, now
			f.walks.dirs[dir] = w
		}
	}
	f.walks.mu.Unlock()
	for _, p := range ahead {
		if !f.Stat(p, false).SizeKnown {
			f.probeSize(p, false)
		}
	}
}

// shownEmpty remembers that p was shown as empty while its size was unknown
// (lazy mode).
func (f *FS) shownEmpty(p string) {
	f.sizes.mu.Lock()
	defer f.sizes.mu.Unlock()
	if f.sizes.empty == nil || len(f.sizes.empty) >= maxReportedEmpty {
		f.sizes.empty = map[string]bool{} // forgetting loses a notice, never data
	}
	f.sizes.empty[p] = true
}

// opened is told by fetch that p's content, of this size, is about to go
// to an open: a parked body is read on; in lazy mode, a file shown empty
// before that is not is reported. False: the item is a parked body dropped
// just now, failed by the time opened returns; fetch downloads again.
func (f *FS) opened(p string, size int64) bool {
	f.sizes.mu.Lock()
	if b := f.sizes.parked[p]; b != nil {
		if b.dropping {
			f.sizes.mu.Unlock()
			<-b.dropped
			return false
		}
		if !b.claimed {
			b.claimed = true
			close(b.claim)
		}
	}
	was := f.sizes.empty[p]
	delete(f.sizes.empty, p)
	f.sizes.mu.Unlock()
	if was && size > 0 {
		msg := fmt.Sprintf("shown as empty before it was read (--sizes=lazy), it holds %d bytes: "+
			"a copy taken by size meanwhile (tar c, git add, rsync) is empty", size)
		f.log.Warn("files: "+msg, "path", p)
		if f.o.OnNotice != nil {
			f.o.OnNotice("size", p, errors.New(msg))
		}
	}
	return true
}
