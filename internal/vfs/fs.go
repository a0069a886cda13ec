// Package vfs is the file system of the files API as pafs presents it, keyed
// by remote path and independent of FUSE: listings come from the metadata
// cache, contents from the disk cache, and every change is applied locally at
// once and reaches the server through the persistent write-back queue.
//
// The local view is the server's (as last listed) with an overlay of what this
// mount changed and the server does not show yet: files written locally,
// directories created, paths deleted. The overlay is what makes a write
// visible at once and keeps it from vanishing when a listing is fetched again
// before the upload is done.
package vfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/cache/metastore"
	"github.com/pafs/pafs/internal/writeback"
	"github.com/pafs/pafs/remote"
	"golang.org/x/sync/singleflight"
)

// Remote is what vfs needs of the API client (*remote.Client has it).
type Remote interface {
	ListDir(ctx context.Context, path string) (map[string]remote.DirEntry, error)
	Download(ctx context.Context, path string) (*remote.Download, error)
	Upload(ctx context.Context, path string, r io.Reader) (bool, error)
	Delete(ctx context.Context, path string) error
	Share(ctx context.Context, path string) (string, bool, error)
	SharedURL(ctx context.Context, path string) (string, error)
	Unshare(ctx context.Context, path string) error
}

// Options configures the file system.
type Options struct {
	Home          string        // the account's home directory, "/home/USER"
	CacheDir      string        // holds content/ and queue/ (created 0700)
	DirCacheTime  time.Duration // listing lifetime (default 30 s)
	ContentTTL    time.Duration // cached content lifetime (default DirCacheTime)
	CacheMaxBytes int64         // clean content beyond this is evicted (default 5 GiB)
	WriteBack     time.Duration // delay before an upload; 0 uploads on close, synchronously
	TempNames     []string      // extra patterns of temp names (see TempDelay)
	Workers       int           // uploads and deletes in flight at once (default 4)
	Logger        *slog.Logger
	Now           func() time.Time
	// Spare, if set, says how many files/path requests could start now
	// without waiting for the rate limit (-1: no limit); listing read-ahead
	// for tree walks runs only from spare budget. Nil turns read-ahead off.
	Spare func() int
	// OnError, if set, hears about failures worth showing in the status file.
	OnError func(op, path string, err error)
	// OnNotice, if set, hears about things worth showing in the status
	// file that are not failures.
	OnNotice func(op, path string, err error)
	// LazySizes shows a file whose size pafs does not know yet as empty
	// instead of fetching its size (--sizes=lazy; see sizes.go).
	LazySizes bool
	// TempDelay is how long the upload of a file named like an editor's
	// temp file waits after its last close (default DefaultTempDelay).
	// WriteBackMax bounds how long an upload of a file that keeps being
	// written is pushed back (default DefaultWriteBackMax). Neither is ever
	// shorter than WriteBack.
	TempDelay, WriteBackMax time.Duration
	// Store, if set, keeps what pafs learns (listings, sizes, hashes,
	// inode numbers, times, modes) across mounts. The FS owns it from
	// now on, also when New fails: Close commits and closes it.
	Store *metastore.Store
	// Offline starts the file system with the server taken for
	// unreachable (the token check could not be made): it serves what
	// the store and the content cache hold, fails other reads at once,
	// and queues changes, until a request succeeds (or Online is called).
	Offline bool
	// FollowInterval is the least time between two polls of followed
	// files, all of them together (default DefaultFollowInterval).
	FollowInterval time.Duration
}

// FS is the files/ tree.
type FS struct {
	o       Options
	r       Remote
	meta    *cache.Meta
	content *cache.Content
	q       *writeback.Queue
	log     *slog.Logger
	epoch   time.Time // mtime shown for files whose mtime is unknown
	temps   *tempNames

	flights  singleflight.Group // coalesces listings and downloads of one path
	uploaded listeners
	seen     seen  // what the server holds, as far as this mount knows (conflicts)
	walks    walks // recent listings, to list ahead of tree walks
	sizes    sizes // size fetches (sizes.go)

	conflicts conflicts   // found, for the status file
	live      live        // open readers, content changes, following (changed.go, follow.go)
	failed    failedStore // changes the server refused for good (failed.go)

	// mu guards the overlay and everything queued with it (ov, seq,
	// recent, replayed, replayedSent, unqueued). Lock order: FS.mu, then
	// the queue, Content, an item's mu, Meta (docs/architecture.md). No
	// network wait under it; journal writes happen under it by design.
	mu      sync.Mutex
	ov      overlay
	seq     uint64       // completions so far
	recent  []completion // recent completions, to patch listings fetched meanwhile
	bgCtx   context.Context
	bgStop  context.CancelFunc
	closeMu sync.Once

	downUntil    atomic.Int64 // unix nanoseconds; see serverDown
	offlineSince atomic.Int64 // unix nanoseconds; 0 when online (offline.go)

	revivedMu sync.Mutex
	revived   map[string]time.Time // see staleListing

	// replayed are the uploads left by an earlier run that are checked
	// against the server before they are sent; replayedSent, by path, what
	// that run's attempts sent (conflict.go). Guarded by mu.
	replayed     map[uint64]bool
	replayedSent map[string][]string

	// unqueued are local files whose upload could not be journalled (a
	// full or read-only cache disk): requeueLoop tries again until it is,
	// so changed data never stays without an upload. Guarded by mu.
	unqueued map[*entry]bool
}

// New opens the caches and the upload queue under o.CacheDir, recovers what
// an earlier run left queued, and starts uploading.
func New(r Remote, o Options) (*FS, error) {
	if o.DirCacheTime <= 0 {
		o.DirCacheTime = 30 * time.Second
	}
	if o.ContentTTL <= 0 {
		o.ContentTTL = o.DirCacheTime
	}
	if o.CacheMaxBytes <= 0 {
		o.CacheMaxBytes = 5 << 30
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TempDelay <= 0 {
		o.TempDelay = DefaultTempDelay
	}
	if o.WriteBackMax <= 0 {
		o.WriteBackMax = DefaultWriteBackMax
	}
	o.TempDelay = max(o.TempDelay, o.WriteBack)
	o.WriteBackMax = max(o.WriteBackMax, o.WriteBack)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := &FS{o: o, log: o.Logger, epoch: o.Now().Truncate(time.Second), ov: newOverlay(),
		replayed: map[uint64]bool{}, replayedSent: map[string][]string{}, revived: map[string]time.Time{}}
	f.r = gate{Remote: r, f: f}
	if o.Offline {
		f.offlineSince.Store(o.Now().UnixNano())
	}
	f.meta = cache.NewMeta(cache.MetaOptions{TTL: o.DirCacheTime, Now: o.Now, Store: o.Store,
		OnStoreError: func(err error) { f.report("metadata store", "", err) }})
	ok := false
	defer func() {
		if !ok {
			_ = f.meta.Close() // New's own error is what the caller needs
		}
	}()
	if o.CacheDir == "" {
		return nil, errors.New("vfs: no cache directory")
	}
	lo, err := newTempNames(o.TempNames)
	if err != nil {
		return nil, err
	}
	f.temps = lo
	f.bgCtx, f.bgStop = context.WithCancel(context.Background())
	q, recovered, errs := writeback.Open(writeback.Options{Dir: filepath.Join(o.CacheDir, "queue"),
		Workers: o.Workers, Now: o.Now, Logger: o.Logger, Permanent: refused, Settle: recoverySettle,
		OnError: f.report, MakeRoom: func(need int64) bool { return f.content != nil && f.content.MakeRoom(need) }})
	if q == nil {
		return nil, fmt.Errorf("vfs: %w", errors.Join(errs...))
	}
	for _, err := range errs {
		f.log.Error("upload queue", "error", err)
	}
	f.q = q
	keep := map[string]bool{}
	for _, op := range recovered {
		if op.Item != "" {
			keep[op.Item] = true
		}
	}
	f.content, err = cache.OpenContent(cache.ContentOptions{Dir: filepath.Join(o.CacheDir, "content"),
		MaxBytes: o.CacheMaxBytes, TTL: o.ContentTTL, Now: o.Now}, func(id string) bool { return keep[id] })
	if err != nil {
		q.Close()
		return nil, err
	}
	f.recover(recovered)
	q.Start(f)
	go f.requeueLoop()
	ok = true
	return f, nil
}

// Close stops the upload queue (what is queued stays on disk for the next
// run), records the clean copies in the content cache for the next mount,
// and commits and closes the metadata store.
func (f *FS) Close() {
	f.closeMu.Do(func() {
		f.bgStop()
		f.q.Close()
		if err := f.content.SaveIndex(); err != nil {
			f.log.Warn("content cache: the next mount downloads again what was read", "error", err)
		}
		if err := f.meta.Close(); err != nil {
			f.log.Warn("metadata store: not closed cleanly; the next mount lists again before it trusts a listing", "error", err)
		}
	})
}

// Ino returns the inode number of p: the same across remounts while p
// exists (and after a rename, at its new name), never one another path
// had.
func (f *FS) Ino(p string) uint64 { return f.meta.Ino(p) }

// Drain uploads everything queued, reporting progress, until done or ctx ends.
func (f *FS) Drain(ctx context.Context, progress func(writeback.Progress)) error {
	f.mu.Lock()
	n := f.requeueLocked()
	f.mu.Unlock()
	if n > 0 {
		return fmt.Errorf("%d changed files could not be queued for upload (the cache disk refuses the journal): their data stays in the cache directory; free space and mount again", n)
	}
	return f.q.Drain(ctx, progress)
}

// Queue exposes the upload queue for status reports.
func (f *FS) Queue() *writeback.Queue { return f.q }

// CacheStats reports listing and content cache hits and misses.
func (f *FS) CacheStats() (metaHits, metaMisses, contentHits, contentMisses uint64, contentBytes int64) {
	mh, mm, _ := f.meta.Stats()
	ch, cm, _ := f.content.Stats()
	return mh, mm, ch, cm, f.content.Used()
}

func (f *FS) report(op, path string, err error) {
	if err == nil || errors.Is(err, context.Canceled) && f.bgCtx.Err() != nil {
		// (A request cut short because the mount is closing is no failure:
		// what it was doing stays queued for the next mount.)
		return
	}
	f.log.Warn("files: "+op+" failed", "path", path, "error", err)
	if f.o.OnError != nil {
		f.o.OnError(op, path, err)
	}
}

// recoverySettle is how long uploads wait after a start that found ops a run
// that died had begun sending (writeback.Options.Settle): long enough for a
// server to finish the requests that run had sent.
const recoverySettle = 5 * time.Second

// refused reports whether the server refused a change for good: a 4xx
// answer other than a timeout or a throttle.
func refused(err error) bool {
	s := remote.StatusOf(err)
	return s >= 400 && s < 500 && s != 408 && s != 429
}
