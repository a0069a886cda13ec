package cache

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/pafs/pafs/internal/rpath"
)

// Listing is one directory's entries as the server last reported them, name →
// is-directory. A Listing is never modified after it is stored: updates copy it,
// so readers may hold one without locks.
type Listing struct {
	Entries map[string]bool
	Fetched time.Time
}

func (l *Listing) with(name string, isDir bool) *Listing {
	e := make(map[string]bool, len(l.Entries)+1)
	for k, v := range l.Entries {
		e[k] = v
	}
	e[name] = isDir
	return &Listing{Entries: e, Fetched: l.Fetched}
}

func (l *Listing) without(name string) *Listing {
	e := make(map[string]bool, len(l.Entries))
	for k, v := range l.Entries {
		if k != name {
			e[k] = v
		}
	}
	return &Listing{Entries: e, Fetched: l.Fetched}
}

// Attr is what pafs knows about one path beyond its type. The API reports no
// size, mtime or mode, so every field here was learnt locally: Size from a
// download or a write, the rest from the user's own chmod/chown/utimes.
type Attr struct {
	Size      int64 // -1 when unknown
	Mtime     time.Time
	Atime     time.Time
	Mode      uint32 // permission bits; 0 means "use the default"
	UID, GID  uint32
	HasOwner  bool
	FirstSeen time.Time
}

// MetaOptions sizes the metadata cache.
type MetaOptions struct {
	TTL      time.Duration // how long a listing is trusted
	MaxDirs  int           // listings kept (default 10000)
	MaxAttrs int           // attribute records kept (default 100000)
	Now      func() time.Time
}

// Meta is the metadata cache: listings expire after TTL (a name a fresh
// listing lacks is a negative lookup, so they need no cache of their own);
// attributes do not expire (they describe local knowledge, not server state)
// but are bounded by count.
//
// Synchronisation: every method is safe for concurrent use. The LRUs lock
// themselves for single gets and adds; every read-modify-write of a listing
// or an attribute record (and every removal that must not interleave with
// one) holds mu, so concurrent updates never lose each other. Readers take
// no lock: a stored *Listing is never modified.
type Meta struct {
	ttl      time.Duration
	now      func() time.Time
	listings *lru.Cache[string, *Listing]
	attrs    *lru.Cache[string, Attr]

	mu     sync.Mutex // guards read-modify-writes of listings and attrs, and hits/misses
	hits   uint64
	misses uint64
}

// NewMeta returns an empty metadata cache.
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
	l, _ := lru.New[string, *Listing](o.MaxDirs)
	a, _ := lru.New[string, Attr](o.MaxAttrs)
	return &Meta{ttl: o.TTL, now: o.Now, listings: l, attrs: a}
}

// TTL returns the listing lifetime.
func (m *Meta) TTL() time.Duration { return m.ttl }

func (m *Meta) fresh(t time.Time) bool { return m.now().Sub(t) < m.ttl }

func (m *Meta) count(hit bool) {
	m.mu.Lock()
	if hit {
		m.hits++
	} else {
		m.misses++
	}
	m.mu.Unlock()
}

// Listing returns the cached listing of dir if it is still fresh.
func (m *Meta) Listing(dir string) (*Listing, bool) {
	l, ok := m.listings.Get(dir)
	ok = ok && m.fresh(l.Fetched)
	m.count(ok)
	return l, ok
}

// PeekListing returns the cached listing of dir even if it expired (for
// emptiness checks that may accept slightly old data when offline).
func (m *Meta) PeekListing(dir string) (*Listing, bool) {
	return m.listings.Peek(dir)
}

// PutListing stores a freshly fetched listing.
func (m *Meta) PutListing(dir string, l *Listing) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listings.Add(dir, l)
}

// AddEntry records that dir now holds name, if dir's listing is cached; a
// local create, upload or mkdir must never vanish from a re-listing.
func (m *Meta) AddEntry(dir, name string, isDir bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.listings.Peek(dir); ok {
		if cur, has := l.Entries[name]; !has || cur != isDir {
			m.listings.Add(dir, l.with(name, isDir))
		}
	}
}

// RemoveEntry records that dir no longer holds name, and forgets everything
// cached below it.
func (m *Meta) RemoveEntry(dir, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.listings.Peek(dir); ok {
		if _, has := l.Entries[name]; has {
			m.listings.Add(dir, l.without(name))
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
	for _, k := range m.listings.Keys() {
		if k == p || rpath.IsBelow(k, p) {
			m.listings.Remove(k)
		}
	}
}

// Attr returns the attributes known for p.
func (m *Meta) Attr(p string) (Attr, bool) { return m.attrs.Get(p) }

// UpdateAttr applies f to p's attributes (starting from the zero Attr with
// Size -1 when none are known) and stores the result.
func (m *Meta) UpdateAttr(p string, f func(*Attr)) Attr {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.attrs.Get(p)
	if !ok {
		a = Attr{Size: -1, FirstSeen: m.now()}
	}
	f(&a)
	m.attrs.Add(p, a)
	return a
}

// DeleteAttr forgets p's attributes.
func (m *Meta) DeleteAttr(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attrs.Remove(p)
}

// MoveAttr moves p's attributes to q (a rename).
func (m *Meta) MoveAttr(p, q string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.attrs.Get(p); ok {
		m.attrs.Add(q, a)
		m.attrs.Remove(p)
	} else {
		m.attrs.Remove(q)
	}
}

// Stats returns listing hits and misses so far, and the number of listings held.
func (m *Meta) Stats() (hits, misses uint64, dirs int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits, m.misses, m.listings.Len()
}
