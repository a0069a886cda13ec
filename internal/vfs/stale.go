package vfs

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/remote"
)

// When the server cannot be reached, a listing or a file read before is
// served as it was last seen rather than failing: stale is better than an
// error, and far better than a hang. Asking the server is then bounded by
// staleWait (a copy is at hand, so waiting out every retry would only hold
// the caller up), and the old copy counts as fresh for another lifetime, so
// that an outage costs one such wait per path per lifetime, not one per call.
const staleWait = 3 * time.Second

// staleHold: after a request found the server unreachable, requests that a
// stale copy can answer do not ask for this long (or until a request
// succeeds): during an outage, listing one directory after another costs one
// staleWait, not one each.
const staleHold = 10 * time.Second

// errNotAsked is the failure of a download not made because a request had
// found the server unreachable moments ago (serverDown): it is no news of
// the server, so it does not extend that hold; otherwise a file read in a
// loop would keep the mount from asking the server for good.
var errNotAsked = fmt.Errorf("%w: the server was found unreachable moments ago; not asked", syscall.EIO)

// errStaleWait is the failure of a request cut off by staleWait.
var errStaleWait = fmt.Errorf("%w: no answer within %s", context.DeadlineExceeded, staleWait)

// unreachable reports failures that say nothing about the path itself: the
// server could not be reached or did not answer properly (transport errors,
// timeouts, 5xx, 429 after the retries).
func unreachable(err error) bool {
	if errors.Is(err, remote.ErrNotDir) || errors.Is(err, remote.ErrInvalidPath) || errors.Is(err, context.Canceled) {
		return false
	}
	s := remote.StatusOf(err)
	return s == 0 || s >= 500 || s == 429
}

// serverDown reports whether a recent request found the server unreachable
// (and none has succeeded since), or pafs is offline.
func (f *FS) serverDown() bool { return f.offline() || f.o.Now().UnixNano() < f.downUntil.Load() }

// serverUp records that a request succeeded. After an outage, queued
// changes that wait out the backoff of their failed attempts go now.
func (f *FS) serverUp() {
	if f.downUntil.Load() != 0 && f.downUntil.Swap(0) != 0 {
		f.q.Retry()
	}
	if f.offline() {
		f.backOnline()
	}
}

// askCtx returns the context for a request that a stale copy could answer
// instead (bounded by staleWait until stop is called) or the background
// context. stop reports whether the bound was hit; cancel frees the context
// once the request (and its body) is done.
func (f *FS) askCtx(haveStale bool) (ctx context.Context, stop func() (timedOut bool), cancel func()) {
	ctx, cancel = context.WithCancel(f.bgCtx)
	// A request that must first wait for the rate limit is not a sign of an
	// outage: bounding it would serve stale data (and call the server down)
	// whenever the budget is spent.
	if !haveStale || (f.o.Spare != nil && f.o.Spare() == 0) {
		return ctx, func() bool { return false }, cancel
	}
	t := time.AfterFunc(staleWait, cancel)
	return ctx, func() bool { return !t.Stop() }, cancel
}

// staleListing answers a failed listing of dir from its expired cache entry,
// if the failure is the server's and there is one. err nil: the server was
// not asked (serverDown). The listing keeps the time it was fetched (the
// store must not take it for fresh at the next mount); it counts as fresh
// in this mount through revive.
func (f *FS) staleListing(dir string, err error) (*cache.Listing, bool) {
	l, ok := f.meta.PeekListing(dir)
	if !ok || (err != nil && !unreachable(err)) {
		return nil, false
	}
	if err != nil {
		f.downUntil.Store(f.o.Now().Add(staleHold).UnixNano())
		f.report("list", dir, err)
	}
	f.log.Warn("files: server unreachable; showing the listing as last seen", "dir", dir, "age", f.o.Now().Sub(l.Fetched).Round(time.Second))
	f.revive(dir)
	return l, true
}

// staleContent answers a failed download of p with the copy cached before,
// if the failure is the server's and there is one.
func (f *FS) staleContent(p string, err error) (*cache.Item, bool) {
	if !errors.Is(err, syscall.EIO) && !errors.Is(err, syscall.ETIMEDOUT) {
		return nil, false
	}
	it, ok := f.content.Revive(p)
	if ok {
		if !errors.Is(err, errNotAsked) {
			f.downUntil.Store(f.o.Now().Add(staleHold).UnixNano())
		}
		f.log.Warn("files: server unreachable; reading the copy downloaded before", "path", p)
	}
	return it, ok
}
