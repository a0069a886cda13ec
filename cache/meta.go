package cache

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/pafs/pafs/cache/metastore"
	"github.com/pafs/pafs/internal/rpath"
)

// Listing is one directory's entries as the server last reported them, name →
// is-directory, and when they were fetched (by this mount or, read back from
// the store, by an earlier one). A Listing is never modified after it is
// stored: updates copy it, so readers may hold one without locks.
type Listing = metastore.Listing

func withEntry(l *Listing, name string, isDir bool) *Listing {
	e := make(map[string]bool, len(l.Entries)+1)
	for k, v := range l.Entries {
		e[k] = v
	}
	e[name] = isDir
	return &Listing{Entries: e, Fetched: l.Fetched}
}

func withoutEntry(l *Listing, name string) *Listing {
	e := make(map[string]bool, len(l.Entries))
	for k, v := range l.Entries {
		if k != name {
			e[k] = v
		}
	}
	return &Listing{Entries: e, Fetched: l.Fetched}
}

// Attr is what pafs knows about one path beyond its type (see
// metastore.Attr for the fields). The API reports no size, mtime or mode,
// so every field was learnt locally.
type Attr = metastore.Attr

// MetaOptions sizes the metadata cache.
type MetaOptions struct {
	TTL      time.Duration // how long a listing is trusted, from its Fetched time
	MaxDirs  int           // listings kept in memory (default 10000)
	MaxAttrs int           // attribute records kept in memory (default 100000)
	Now      func() time.Time

	// Store, if set, makes the cache durable: what is not in memory is read
	// from it, and every change is written to it behind the caller's back
	// (see Meta). Meta owns it from now on: Close closes it.
	Store *metastore.Store
	// FlushInterval is the most a change waits before it is committed to
	// the store (default 200ms); FlushRecords changes pending commit at
	// once (default 500). A kill -9 loses at most the changes of the last
	// interval: the store is a cache, and the server has the truth.
	FlushInterval time.Duration
	FlushRecords  int
	// OnStoreError is told when the store fails; Meta then stops using it
	// and goes on in memory only. It is called with Meta's lock held, so it
	// must not call Meta (logging is what it is for).
	OnStoreError func(error)
}

// inoReserve is how far the persisted inode counter runs ahead of the
// numbers handed out: after a kill -9, a remount starts above every number
// the dead mount may have shown, though its last records were lost.
const inoReserve = 1024

// Meta is the metadata cache: listings expire TTL after they were fetched
// (a name a fresh listing lacks is a negative lookup, so they need no cache
// of their own); attributes do not expire (they describe local knowledge,
// not server state). Both live in bounded LRUs and, with a Store, on disk.
//
// Synchronisation: every method is safe for concurrent use. The LRUs lock
// themselves for single gets and adds; every read-modify-write of a listing
// or an attribute record (and every removal that must not interleave with
// one) holds mu, so concurrent updates never lose each other. Readers take
// no lock when the record is in memory: a stored *Listing is never modified.
//
// With a store, a change updates the LRU and records the new value in
// pending (under mu); the flusher commits pending in batches. A read that
// misses the LRU looks, under mu, at pending, then at the batch being
// committed (inflight), then at the store, so it never sees a value older
// than the last change. Lock order: flushMu, then mu, then the store's own
// locks (bbolt's); the store never calls back into Meta, and the flusher
// never holds mu while it commits, so the hot path does not wait for disk.
type Meta struct {
	ttl      time.Duration
	now      func() time.Time
	unsure   time.Time // listings fetched before this are never fresh (see NewMeta)
	listings *lru.Cache[string, *Listing]
	attrs    *lru.Cache[string, Attr]

	mu     sync.Mutex // guards read-modify-writes of listings and attrs, everything below, and hits/misses
	hits   uint64
	misses uint64

	nextIno  uint64           // the next inode number to hand out
	store    *metastore.Store // nil: memory only (none given, closed, or failed)
	owned    *metastore.Store // what Close closes, even after store was dropped
	onErr    func(error)
	pending  changes // changed since the last flush began
	inflight changes // being committed; read-only until the commit ends
	inoLimit uint64  // the counter the store has (or is getting): kick a flush before reaching it
	failures int     // consecutive failed flushes

	flushMu    sync.Mutex // one flush at a time
	interval   time.Duration
	maxPending int
	wake, full chan struct{}
	stop, done chan struct{}
	closeOnce  sync.Once
}

// NewMeta returns a metadata cache, empty or backed by o.Store.
func NewMeta(o MetaOptions) *Meta {
	if o.MaxDirs <= 0 {
		o.MaxDirs = 10000
	}
	if o.MaxAttrs <= 0 {
		o.MaxAttrs = 100000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 200 * time.Millisecond
	}
	if o.FlushRecords <= 0 {
		o.FlushRecords = 500
	}
	if o.OnStoreError == nil {
		o.OnStoreError = func(error) {}
	}
	l, _ := lru.New[string, *Listing](o.MaxDirs)
	a, _ := lru.New[string, Attr](o.MaxAttrs)
	m := &Meta{ttl: o.TTL, now: o.Now, listings: l, attrs: a, nextIno: metastore.FirstIno,
		onErr: o.OnStoreError, interval: o.FlushInterval, maxPending: o.FlushRecords}
	if o.Store != nil {
		m.store, m.owned = o.Store, o.Store
		m.nextIno = o.Store.NextIno()
		m.pending = newChanges()
		if !o.Store.WasClean() {
			// The last mount died: its last changes (a file its last
			// upload created, added to a listing) may not have reached
			// the store. Its listings are kept for when the server
			// cannot be reached, but are fetched again before they are
			// trusted; its sizes are not trusted at all.
			m.unsure = o.Now()
			m.forgetSizes()
		}
		// Reserve the first numbers before handing any out, so that a
		// kill -9 before the first flush cannot make them reappear.
		m.inoLimit = m.nextIno + inoReserve
		if err := o.Store.Apply(metastore.Batch{NextIno: m.inoLimit}); err != nil {
			m.dropStoreLocked(err)
		}
		m.wake, m.full = make(chan struct{}, 1), make(chan struct{}, 1)
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		go m.flusher()
	}
	return m
}

// TTL returns the listing lifetime.
func (m *Meta) TTL() time.Duration { return m.ttl }

func (m *Meta) fresh(t time.Time) bool { return m.now().Sub(t) < m.ttl && !t.Before(m.unsure) }

// Listing returns the cached listing of dir if it is still fresh.
func (m *Meta) Listing(dir string) (*Listing, bool) {
	l, ok := m.listings.Get(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !ok {
		l, ok = m.listingLocked(dir)
	}
	ok = ok && m.fresh(l.Fetched)
	if ok {
		m.hits++
	} else {
		m.misses++
	}
	return l, ok
}

// PeekListing returns the cached listing of dir even if it expired (for
// emptiness checks that may accept slightly old data when offline).
func (m *Meta) PeekListing(dir string) (*Listing, bool) {
	if l, ok := m.listings.Peek(dir); ok {
		return l, true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.listingLocked(dir)
}

// PutListing stores a freshly fetched listing.
func (m *Meta) PutListing(dir string, l *Listing) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setListingLocked(dir, l)
}

// AddEntry records that dir now holds name, if dir's listing is cached; a
// local create, upload or mkdir must never vanish from a re-listing.
func (m *Meta) AddEntry(dir, name string, isDir bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.listingLocked(dir); ok {
		if cur, has := l.Entries[name]; !has || cur != isDir {
			m.setListingLocked(dir, withEntry(l, name, isDir))
		}
	}
}

// RemoveEntry records that dir no longer holds name, and forgets every
// listing cached below it.
func (m *Meta) RemoveEntry(dir, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.listingLocked(dir); ok {
		if _, has := l.Entries[name]; has {
			m.setListingLocked(dir, withoutEntry(l, name))
		}
	}
	m.forgetTreeLocked(rpath.Join(dir, name))
}

// ForgetTree drops the listings of p and of every directory below it.
func (m *Meta) ForgetTree(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgetTreeLocked(p)
}

func (m *Meta) forgetTreeLocked(p string) {
	for _, k := range m.belowLocked(p, true) {
		m.setListingLocked(k, nil)
	}
}

// Stats returns listing hits and misses so far, and the number of listings
// held in memory.
func (m *Meta) Stats() (hits, misses uint64, dirs int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits, m.misses, m.listings.Len()
}
