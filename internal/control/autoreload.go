package control

import (
	"context"
	"sync"
	"time"

	"github.com/pafs/pafs/internal/rpath"
	"github.com/pafs/pafs/remote"
)

// autoReloader reloads a web app by itself (pafs mount --auto-reload)
// after uploads under its source directory or to its WSGI file. A burst of
// saves makes one reload: each upload restarts a quiet period, and the
// reload goes when it ends. At most one reload per app is in flight; saves
// meanwhile make at most one more. The client's limiter keeps the reload
// endpoint under its rate limit, and since a waiting reload collects every
// save made while it waits, waiting costs nothing extra.
type autoReloader struct {
	c     *Control
	delay time.Duration

	mu   sync.Mutex // guards apps and every pendingReload in it
	apps map[string]*pendingReload
}

// pendingReload is one app's uploads not yet covered by a reload.
type pendingReload struct {
	timer   *time.Timer
	count   int    // uploads since the last reload was sent
	last    string // the latest of them
	running bool   // a reload is being made
}

// DefaultAutoReloadDelay is the quiet period after the last upload.
const DefaultAutoReloadDelay = 1500 * time.Millisecond

func newAutoReloader(c *Control, delay time.Duration) *autoReloader {
	if delay <= 0 {
		delay = DefaultAutoReloadDelay
	}
	return &autoReloader{c: c, delay: delay, apps: map[string]*pendingReload{}}
}

// uploaded hears about every confirmed upload (vfs.OnUploaded), before
// the upload counts as done: so an upload made by a reload's barrier is
// counted before that reload is sent, and the reload covers it. The web
// app list is taken from the cache, however old (source directories
// rarely change); only the first upload may have to fetch it, on its own
// goroutine rather than hold up the upload queue.
func (a *autoReloader) uploaded(p string) {
	list, have := a.c.webapps.cache.peek()
	if have {
		a.match(list, p)
	}
	// Keep the list within its TTL for the next uploads (no request when
	// it is fresh).
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
		defer cancel()
		list, err := a.c.webapps.cache.get(ctx)
		if err != nil {
			a.c.log.Warn("auto-reload: cannot list web apps", "error", err)
			return
		}
		if !have {
			a.match(list, p)
		}
	}()
}

// match counts an upload for every web app whose code it is.
func (a *autoReloader) match(list []remote.Webapp, p string) {
	for _, w := range list {
		src := rpath.Clean(w.SourceDirectory)
		if p == wsgiPath(w.DomainName) || (w.SourceDirectory != "" && (p == src || rpath.IsBelow(p, src))) {
			a.touch(w.DomainName, p)
		}
	}
}

// touch counts an upload for domain and restarts its quiet period.
func (a *autoReloader) touch(domain, p string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.apps[domain]
	if st == nil {
		st = &pendingReload{}
		a.apps[domain] = st
	}
	st.count++
	st.last = p
	if st.running {
		return // picked up when the running reload ends
	}
	if st.timer == nil {
		st.timer = time.AfterFunc(a.delay, func() { a.fire(domain) })
		return
	}
	st.timer.Reset(a.delay)
}

// fire reloads domain once its uploads have been quiet.
func (a *autoReloader) fire(domain string) {
	a.mu.Lock()
	st := a.apps[domain]
	if st == nil || st.count == 0 || st.running {
		a.mu.Unlock()
		return
	}
	st.running = true
	n, last := st.count, st.last
	a.mu.Unlock()

	a.c.log.Info("auto-reload: reloading web app after uploads", "domain", domain, "uploads", n, "last", last)
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	err := a.c.reload(ctx, domain, "auto-reload")
	cancel()
	if err != nil {
		a.c.fail("auto-reload", "webapps/"+domain, err)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	st.running = false
	if st.count > 0 {
		st.timer.Reset(a.delay)
	}
}

// reloading is told that a reload of domain is being sent now (after the
// uploads barrier): every upload counted so far is on the server and this
// reload serves it, so nothing is left to reload for them.
func (a *autoReloader) reloading(domain string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st := a.apps[domain]; st != nil {
		st.count = 0
		if st.timer != nil && !st.running {
			st.timer.Stop()
		}
	}
}
