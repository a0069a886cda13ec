package cache

import (
	"errors"
	"time"

	"github.com/pafs/pafs/cache/metastore"
	"github.com/pafs/pafs/internal/rpath"
)

// Meta's durable side: reads that fall through to the store, and the
// write-behind that commits changes in batches (flusher, Flush, Close).

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
// forgetSizes makes every stored file size unknown, after a mount that
// died. The store is committed on its own schedule, apart from the journal
// of uploads, so after a crash the two can disagree (a kill -9 in a stream
// of writes and renames once left a 0-byte size for a file the server held
// 3 bytes of: vfs moved a rename's attributes after its upload could have
// recorded the new size, fixed since, but the store cannot tell a record
// that is wrong for such a reason). A size is then learnt
// again at the first stat (one GET, as on a cold mount) rather than shown
// wrong; inode numbers, mtimes and hashes stay (a stale hash only makes a
// download look changed, or an upload look like a conflict: both keep data).
func (m *Meta) forgetSizes() {
	b := metastore.Batch{Attrs: map[string]*Attr{}}
	err := m.store.ForEachAttr(func(p string, a Attr) error {
		if a.Size >= 0 {
			a.Size = -1
			b.Attrs[p] = &a
		}
		return nil
	})
	if err == nil && len(b.Attrs) > 0 {
		err = m.store.Apply(b)
	}
	if err != nil {
		m.dropStoreLocked(err)
	}
}

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
			_ = m.Flush() // a failure is counted and reported by Flush itself
			return
		}
		t.Reset(m.interval)
		select {
		case <-t.C:
		case <-m.full:
			t.Stop()
		case <-m.stop:
			t.Stop()
			_ = m.Flush() // a failure is counted and reported by Flush itself
			return
		}
		_ = m.Flush() // a failure is counted and reported by Flush itself
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
