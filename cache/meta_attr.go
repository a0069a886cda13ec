package cache

import "github.com/pafs/pafs/internal/rpath"

// Attributes: what pafs knows of each path (size, hash, inode number, times,
// mode, owner), kept in memory and, with a store, across mounts.

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

// SawContent records, in one write, that p's content (a complete download)
// has this size and SHA-256 hash, and reports whether that is a change:
// content other than what pafs knew of p. What it knew is the hash recorded
// here, or else prior (the hash of what this mount last uploaded or
// downloaded there, which the caller may know when the record does not);
// with neither, a size recorded before that differs is a change too.
//
// New content sets ContentSeen to now, and a change Mtime too, so that make
// rebuilds what depends on the file. Anything else keeps the mtime shown until then (the
// last write or touch through pafs, or when pafs first saw the path): a
// first download of a file is no change, nothing tells it apart from what
// was there when it was first shown, and vim refuses to write a file whose
// mtime moved since it read it. The same content changes nothing, so mtimes
// stay stable for make and rsync.
func (m *Meta) SawContent(p string, size int64, hash [32]byte, prior *[32]byte) (Attr, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.attrOrNewLocked(p)
	if a.HasHash && a.Hash == hash && a.Size == size {
		return a, false
	}
	known, was := a.HasHash, a.Hash
	if !known && prior != nil {
		known, was = true, *prior
	}
	changed := known && was != hash || !known && a.Size >= 0 && a.Size != size
	now := m.now()
	switch {
	case changed:
		a.Mtime = now
	case a.Mtime.IsZero() && !a.FirstSeen.IsZero():
		a.Mtime = a.FirstSeen
	case a.Mtime.IsZero():
		a.Mtime = now
	}
	a.Size, a.Hash, a.HasHash, a.ContentSeen = size, hash, true, now
	m.setAttrLocked(p, &a)
	return a, changed
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
