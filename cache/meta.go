package cache

import (
	"errors"
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

// changes are records changed in memory and not yet committed; a nil value
// is a deletion.
type changes struct {
	attrs    map[string]*Attr
	listings map[string]*Listing
}

func newChanges() changes {
	return changes{attrs: map[string]*Attr{}, listings: map[string]*Listing{}}
}

func (c changes) len() int { return len(c.attrs) + len(c.listings) }

// maxFailures is how many flushes in a row may fail (a full disk that may
// free up) before Meta gives up on the store.
const maxFailures = 5

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
		if !o.Store.WasClean() {
			// The last mount died: its last changes (a file its last
			// upload created, added to a listing) may not have reached
			// the store. Its listings are kept for when the server
			// cannot be reached, but are fetched again before they are
			// trusted; attributes need no such care (what they lose is
			// learnt again; vfs commits the size an upload set
			// before the upload leaves the journal).
			m.unsure = o.Now()
		}
		m.pending = newChanges()
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

// Attr returns the attributes known for p.
func (m *Meta) Attr(p string) (Attr, bool) {
	if a, ok := m.attrs.Get(p); ok {
		return a, true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attrLocked(p)
}

// UpdateAttr applies f to p's attributes (starting from the zero Attr with
// Size -1 when none are known) and stores the result.
func (m *Meta) UpdateAttr(p string, f func(*Attr)) Attr {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.attrOrNewLocked(p)
	f(&a)
	m.setAttrLocked(p, &a)
	return a
}

func (m *Meta) attrOrNewLocked(p string) Attr {
	a, ok := m.attrLocked(p)
	if !ok {
		a = Attr{Size: -1, FirstSeen: m.now()}
	}
	return a
}

// Ino returns p's inode number, assigning the next unused one if p has
// none. The number stays with p across remounts and moves with MoveAttr
// and MoveTree; numbers are never handed out twice.
func (m *Meta) Ino(p string) uint64 {
	if a, ok := m.attrs.Get(p); ok && a.Ino != 0 {
		return a.Ino
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.attrOrNewLocked(p)
	if a.Ino == 0 {
		a.Ino = m.nextIno
		m.nextIno++
		m.setAttrLocked(p, &a)
		if m.store != nil && m.nextIno+inoReserve/2 >= m.inoLimit {
			m.kick(m.full)
		}
	}
	return a.Ino
}

// SawContent records that p's content (downloaded, or written through pafs)
// has this size and SHA-256 hash. Content other than the one recorded last
// is new: its size and hash replace the old ones and ContentSeen becomes
// now, and so does Mtime unless the caller sets it (a write through pafs
// sets it to the write's time; touch -d to its own). The same content
// changes nothing, so mtimes stay stable for make and rsync.
//
// The first content seen of a path (no hash recorded) keeps the mtime shown
// until then, the time pafs first saw the path (FirstSeen): nothing tells
// it apart from what was there then, and nobody can have read older
// content through pafs. Only a size recorded before that differs makes it
// new. It returns the attributes and whether the content was new.
func (m *Meta) SawContent(p string, size int64, hash [32]byte) (Attr, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.attrOrNewLocked(p)
	if a.HasHash && a.Hash == hash && a.Size == size {
		return a, false
	}
	now := m.now()
	switch {
	case a.HasHash || (a.Size >= 0 && a.Size != size):
		a.Mtime = now
	case a.Mtime.IsZero() && !a.FirstSeen.IsZero():
		a.Mtime = a.FirstSeen
	case a.Mtime.IsZero():
		a.Mtime = now
	}
	a.Size, a.Hash, a.HasHash, a.ContentSeen = size, hash, true, now
	m.setAttrLocked(p, &a)
	return a, true
}

// DeleteAttr forgets p's attributes (and with them its inode number).
func (m *Meta) DeleteAttr(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setAttrLocked(p, nil)
}

// MoveAttr moves p's attributes, inode number included, to q (a rename of
// a file); q's own are dropped.
func (m *Meta) MoveAttr(p, q string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.attrLocked(p); ok {
		m.setAttrLocked(q, &a)
		m.setAttrLocked(p, nil)
	} else {
		m.setAttrLocked(q, nil)
	}
}

// MoveTree moves the attributes (with their inode numbers) and listings
// (with their fetch times) of p and of everything below it to the same
// places under q (a rename of a directory), dropping what q held. Moving a
// directory into itself does nothing.
func (m *Meta) MoveTree(p, q string) {
	if p == q || rpath.Overlaps(p, q) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	srcAttrs, srcDirs := m.belowLocked(p, false), m.belowLocked(p, true)
	type moved[T any] struct {
		to string
		v  T
	}
	var as []moved[Attr]
	var ls []moved[*Listing]
	for _, k := range srcAttrs {
		if a, ok := m.attrLocked(k); ok {
			as = append(as, moved[Attr]{q + k[len(p):], a})
		}
	}
	for _, k := range srcDirs {
		if l, ok := m.listingLocked(k); ok {
			ls = append(ls, moved[*Listing]{q + k[len(p):], l})
		}
	}
	dstAttrs, dstDirs := m.belowLocked(q, false), m.belowLocked(q, true)
	for _, k := range append(srcAttrs, dstAttrs...) {
		m.setAttrLocked(k, nil)
	}
	for _, k := range append(srcDirs, dstDirs...) {
		m.setListingLocked(k, nil)
	}
	for _, e := range as {
		m.setAttrLocked(e.to, &e.v)
	}
	for _, e := range ls {
		m.setListingLocked(e.to, e.v)
	}
}

// Stats returns listing hits and misses so far, and the number of listings
// held in memory.
func (m *Meta) Stats() (hits, misses uint64, dirs int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits, m.misses, m.listings.Len()
}

// attrLocked looks p up in memory, then in what is pending for the store,
// then in the store.
func (m *Meta) attrLocked(p string) (Attr, bool) {
	if a, ok := m.attrs.Get(p); ok {
		return a, true
	}
	if m.store == nil {
		return Attr{}, false
	}
	for _, c := range []changes{m.pending, m.inflight} {
		if a, ok := c.attrs[p]; ok {
			if a == nil {
				return Attr{}, false
			}
			m.attrs.Add(p, *a)
			return *a, true
		}
	}
	a, ok, err := m.store.Attr(p)
	if err != nil {
		m.dropStoreLocked(err)
		return Attr{}, false
	}
	if ok {
		m.attrs.Add(p, a)
	}
	return a, ok
}

// listingLocked is attrLocked for listings.
func (m *Meta) listingLocked(dir string) (*Listing, bool) {
	if l, ok := m.listings.Get(dir); ok {
		return l, true
	}
	if m.store == nil {
		return nil, false
	}
	for _, c := range []changes{m.pending, m.inflight} {
		if l, ok := c.listings[dir]; ok {
			if l == nil {
				return nil, false
			}
			m.listings.Add(dir, l)
			return l, true
		}
	}
	l, ok, err := m.store.Listing(dir)
	if err != nil {
		m.dropStoreLocked(err)
		return nil, false
	}
	if ok {
		m.listings.Add(dir, l)
	}
	return l, ok
}

// setAttrLocked stores a (nil: deletes) in memory and marks it for the store.
func (m *Meta) setAttrLocked(p string, a *Attr) {
	if a == nil {
		m.attrs.Remove(p)
	} else {
		m.attrs.Add(p, *a)
	}
	if m.store != nil {
		m.pending.attrs[p] = a
		m.dirtyLocked()
	}
}

func (m *Meta) setListingLocked(dir string, l *Listing) {
	if l == nil {
		m.listings.Remove(dir)
	} else {
		m.listings.Add(dir, l)
	}
	if m.store != nil {
		m.pending.listings[dir] = l
		m.dirtyLocked()
	}
}

func (m *Meta) dirtyLocked() {
	switch n := m.pending.len(); {
	case n >= m.maxPending:
		m.kick(m.full)
	case n == 1:
		m.kick(m.wake)
	}
}

func (m *Meta) kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// belowLocked returns the paths at or below p that have attributes (or,
// with dirs, listings), wherever they are: in memory, pending, or in the
// store.
func (m *Meta) belowLocked(p string, dirs bool) []string {
	var out []string
	seen := map[string]bool{}
	add := func(k string) {
		if (k == p || rpath.IsBelow(k, p)) && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	mem := m.attrs.Keys
	if dirs {
		mem = m.listings.Keys
	}
	for _, k := range mem() {
		add(k)
	}
	if m.store == nil {
		return out
	}
	for _, c := range []changes{m.pending, m.inflight} {
		if dirs {
			for k := range c.listings {
				add(k)
			}
		} else {
			for k := range c.attrs {
				add(k)
			}
		}
	}
	sa, sl, err := m.store.Below(p)
	if err != nil {
		m.dropStoreLocked(err)
	}
	if dirs {
		sa = sl
	}
	for _, k := range sa {
		add(k)
	}
	return out
}

// dropStoreLocked stops using a failing store: Meta goes on in memory only,
// as it did before there was a store. The file stays; the next mount's
// Open checks it and sets it aside if it is damaged.
func (m *Meta) dropStoreLocked(err error) {
	if m.store == nil {
		return
	}
	m.onErr(err)
	m.onErr(errors.New("metadata store: no longer used by this mount; metadata is kept in memory only"))
	m.store = nil
	m.pending, m.inflight = changes{}, changes{}
}

// flusher commits pending changes: FlushInterval after the first of them,
// or at once when FlushRecords have piled up.
func (m *Meta) flusher() {
	defer close(m.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-m.wake:
		case <-m.full:
		case <-m.stop:
			m.Flush()
			return
		}
		t.Reset(m.interval)
		select {
		case <-t.C:
		case <-m.full:
			t.Stop()
		case <-m.stop:
			t.Stop()
			m.Flush()
			return
		}
		m.Flush()
	}
}

// Flush commits every change made so far to the store (nothing without
// one). The flusher calls it; a caller may too, e.g. before a snapshot.
func (m *Meta) Flush() error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	m.mu.Lock()
	st := m.store
	if st == nil || m.pending.len() == 0 {
		m.mu.Unlock()
		return nil
	}
	m.inflight, m.pending = m.pending, newChanges()
	b := metastore.Batch{Attrs: m.inflight.attrs, Listings: m.inflight.listings, NextIno: m.nextIno + inoReserve}
	m.mu.Unlock()

	err := st.Apply(b)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.store != st { // dropped meanwhile
		return err
	}
	if err == nil {
		m.inoLimit, m.failures = b.NextIno, 0
		m.inflight = changes{}
		return nil
	}
	// Keep the batch for the next try; what changed since is newer.
	for k, v := range m.inflight.attrs {
		if _, newer := m.pending.attrs[k]; !newer {
			m.pending.attrs[k] = v
		}
	}
	for k, v := range m.inflight.listings {
		if _, newer := m.pending.listings[k]; !newer {
			m.pending.listings[k] = v
		}
	}
	m.inflight = changes{}
	if m.failures++; m.failures >= maxFailures || errors.Is(err, metastore.ErrCorrupt) {
		m.dropStoreLocked(err)
	} else {
		m.onErr(err)
		m.kick(m.wake)
	}
	return err
}

// Close commits what is pending, stops the flusher and closes the store.
// Meta goes on working in memory only afterwards.
func (m *Meta) Close() error {
	var err error
	m.closeOnce.Do(func() {
		if m.stop == nil {
			return
		}
		close(m.stop)
		<-m.done
		err = m.Flush()
		m.mu.Lock()
		if st := m.store; st != nil && err == nil {
			// Everything learnt is committed: the next mount may trust
			// the listings (see NewMeta).
			err = st.MarkClean()
		}
		m.store = nil
		m.mu.Unlock()
		err = errors.Join(err, m.owned.Close())
	})
	return err
}
