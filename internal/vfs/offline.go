package vfs

import (
	"context"
	"errors"
	"time"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/remote"
)

// A mount can start offline (Options.Offline): the API could not be reached
// when it began, but an earlier mount left a metadata store. It then serves
// what that store and the content cache hold, as a mount whose server went
// away does, with one difference: a read the caches cannot answer fails at
// once (EIO, with a message in the log and the status) instead of waiting
// out the client's retries on a server that is known to be away. Changes
// are queued as always; the upload queue's own attempts still go out, so
// the first one that succeeds ends the offline state, as does Online (the
// mount's probe of the API).

// ErrOffline is the failure of a read that only the server could answer,
// while pafs is offline.
var ErrOffline = errors.New("offline since mount time (the API could not be reached), and not in the cache")

// Offline reports whether the file system is offline, and since when.
func (f *FS) Offline() (since time.Time, offline bool) {
	n := f.offlineSince.Load()
	if n == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// Online records that the API answered (the mount's probe): pafs
// revalidates listings as they are used and sends what is queued now.
func (f *FS) Online() { f.serverUp() }

func (f *FS) offline() bool { return f.offlineSince.Load() != 0 }

// backOnline ends the offline state, once: the listings served as last seen
// are asked for again at their next use, and queued changes that wait out a
// backoff go now.
func (f *FS) backOnline() {
	since := f.offlineSince.Swap(0)
	if since == 0 {
		return
	}
	f.log.Info("files: the API answers again; listings are fetched again as they are used, and queued changes are sent",
		"offline_for", f.o.Now().Sub(time.Unix(0, since)).Round(time.Second))
	f.revivedMu.Lock()
	clear(f.revived)
	f.revivedMu.Unlock()
	f.q.Retry()
}

// revive lets the listing of dir, served as last seen because the server
// could not be reached, count as fresh for another lifetime in this mount,
// so that an outage costs one attempt per directory per lifetime. The
// store keeps the time the listing was really fetched: a later mount must
// not take it for fresh.
func (f *FS) revive(dir string) {
	f.revivedMu.Lock()
	f.revived[dir] = f.o.Now()
	f.revivedMu.Unlock()
}

// revivedListing returns dir's listing if it was revived less than a
// lifetime ago.
func (f *FS) revivedListing(dir string) (*cache.Listing, bool) {
	f.revivedMu.Lock()
	at, ok := f.revived[dir]
	f.revivedMu.Unlock()
	if !ok || f.o.Now().Sub(at) >= f.o.DirCacheTime {
		return nil, false
	}
	return f.meta.PeekListing(dir)
}

// gate is the Remote the file system uses: while offline, the requests a
// cached copy could have answered fail at once with ErrOffline (callers
// serve a copy if they have one, see stale.go). Uploads and deletes go
// through: the queue retries them, and one that succeeds shows the server
// back.
type gate struct {
	Remote
	f *FS
}

func (g gate) ListDir(ctx context.Context, path string) (map[string]remote.DirEntry, error) {
	if g.f.offline() {
		return nil, ErrOffline
	}
	return g.Remote.ListDir(ctx, path)
}

func (g gate) Download(ctx context.Context, path string) (*remote.Download, error) {
	if g.f.offline() {
		return nil, ErrOffline
	}
	return g.Remote.Download(ctx, path)
}

func (g gate) Share(ctx context.Context, path string) (string, bool, error) {
	if g.f.offline() {
		return "", false, ErrOffline
	}
	return g.Remote.Share(ctx, path)
}

func (g gate) SharedURL(ctx context.Context, path string) (string, error) {
	if g.f.offline() {
		return "", ErrOffline
	}
	return g.Remote.SharedURL(ctx, path)
}

func (g gate) Unshare(ctx context.Context, path string) error {
	if g.f.offline() {
		return ErrOffline
	}
	return g.Remote.Unshare(ctx, path)
}
