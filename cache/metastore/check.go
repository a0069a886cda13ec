package metastore

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// checkFile walks the B+tree of a bbolt file through plain reads, checking
// every page reference and every key and value position against the file's
// bounds, that no page is reached twice (no cycles, no shared pages) and
// that the free list names no page in use.
//
// Why not bbolt's own Tx.Check: bbolt reads the file through mmap and trusts
// the offsets it finds there; on a damaged file it can fault, loop forever
// on a cycle, or (Tx.Check runs in a goroutine of its own) crash the whole
// process, which no recover can stop. After checkFile has passed, every
// offset bbolt will follow is in bounds and every descent ends.
//
// The layout is bbolt's on-disk format version 2 (native byte order), stable
// since bbolt's beginning; the tests open real files with it, so a change
// would be noticed.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	c := &checker{f: f, size: fi.Size()}
	return c.run()
}

const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	elemSize       = 16 // branch and leaf page elements alike
	inBucketSize   = 16 // a bucket's value: root page id, sequence
	flagBranch     = 0x01
	flagLeaf       = 0x02
	flagFreelist   = 0x10
	leafBucket     = 0x01
	noFreelist     = ^uint64(0)
	maxDepth       = 64
)

var ne = binary.NativeEndian

type meta struct {
	pageSize          uint32
	root, free, pages uint64
	txid              uint64
}

type checker struct {
	f    *os.File
	size int64
	m    meta
	seen map[uint64]bool
}

// readMeta reads the meta page at off and validates it as bbolt does.
func (c *checker) readMeta(off int64) (meta, bool) {
	var b [pageHeaderSize + 64]byte
	if _, err := c.f.ReadAt(b[:], off); err != nil {
		return meta{}, false
	}
	m := b[pageHeaderSize:]
	h := fnv.New64a()
	h.Write(m[:56])
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion || ne.Uint64(m[56:]) != h.Sum64() {
		return meta{}, false
	}
	return meta{pageSize: ne.Uint32(m[8:]), root: ne.Uint64(m[16:]), free: ne.Uint64(m[32:]),
		pages: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}, true
}

func (c *checker) run() error {
	m0, ok0 := c.readMeta(0)
	ps := int64(os.Getpagesize())
	if ok0 {
		ps = int64(m0.pageSize)
	}
	m1, ok1 := c.readMeta(ps)
	switch {
	case ok0 && ok1 && m1.txid > m0.txid, !ok0 && ok1:
		c.m = m1
	case ok0:
		c.m = m0
	default:
		return fmt.Errorf("no valid meta page")
	}
	ps = int64(c.m.pageSize)
	if ps < 1024 || ps > 1<<20 || ps&(ps-1) != 0 {
		return fmt.Errorf("page size %d", ps)
	}
	if c.m.pages < 2 || c.m.pages > uint64(c.size/ps) {
		return fmt.Errorf("high water mark %d beyond the file's %d pages", c.m.pages, c.size/ps)
	}
	c.seen = map[uint64]bool{0: true, 1: true}
	if err := c.tree(c.m.root, 0); err != nil {
		return err
	}
	if c.m.free != noFreelist {
		return c.freelist()
	}
	return nil
}

// page reads page id with its overflow pages, marking them seen.
func (c *checker) page(id uint64, want uint16) ([]byte, error) {
	ps := uint64(c.m.pageSize)
	if id < 2 || id >= c.m.pages {
		return nil, fmt.Errorf("page %d out of bounds (%d pages)", id, c.m.pages)
	}
	var h [pageHeaderSize]byte
	if _, err := c.f.ReadAt(h[:], int64(id*ps)); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	flags, over := ne.Uint16(h[8:]), uint64(ne.Uint32(h[12:]))
	if ne.Uint64(h[0:]) != id || flags&want == 0 {
		return nil, fmt.Errorf("page %d: header says page %d, flags %#x", id, ne.Uint64(h[0:]), flags)
	}
	if over >= c.m.pages-id {
		return nil, fmt.Errorf("page %d: %d overflow pages beyond the end", id, over)
	}
	for i := id; i <= id+over; i++ {
		if c.seen[i] {
			return nil, fmt.Errorf("page %d reached twice", i)
		}
		c.seen[i] = true
	}
	b := make([]byte, (over+1)*ps)
	if _, err := c.f.ReadAt(b, int64(id*ps)); err != nil && err != io.EOF {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	return b, nil
}

// tree checks the bucket whose root is page id.
func (c *checker) tree(id uint64, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("page %d: tree deeper than %d", id, maxDepth)
	}
	b, err := c.page(id, flagBranch|flagLeaf)
	if err != nil {
		return err
	}
	return c.nodes(b, id, depth)
}

// nodes checks the elements of the page in b (id 0: inline in a value).
func (c *checker) nodes(b []byte, id uint64, depth int) error {
	if len(b) < pageHeaderSize {
		return fmt.Errorf("page %d: too short", id)
	}
	flags, n := ne.Uint16(b[8:]), int(ne.Uint16(b[10:]))
	if pageHeaderSize+n*elemSize > len(b) {
		return fmt.Errorf("page %d: %d elements overrun it", id, n)
	}
	switch flags {
	case flagBranch:
		if n == 0 {
			return fmt.Errorf("page %d: empty branch", id)
		}
		for i := range n {
			e := pageHeaderSize + i*elemSize
			pos, ks := uint64(ne.Uint32(b[e:])), uint64(ne.Uint32(b[e+4:]))
			if uint64(e)+pos+ks > uint64(len(b)) {
				return fmt.Errorf("page %d: key %d out of bounds", id, i)
			}
			if err := c.tree(ne.Uint64(b[e+8:]), depth+1); err != nil {
				return err
			}
		}
	case flagLeaf:
		for i := range n {
			e := pageHeaderSize + i*elemSize
			fl, pos := ne.Uint32(b[e:]), uint64(ne.Uint32(b[e+4:]))
			ks, vs := uint64(ne.Uint32(b[e+8:])), uint64(ne.Uint32(b[e+12:]))
			end := uint64(e) + pos + ks + vs
			if end > uint64(len(b)) {
				return fmt.Errorf("page %d: element %d out of bounds", id, i)
			}
			if fl&leafBucket == 0 {
				continue
			}
			v := b[end-vs : end]
			if len(v) < inBucketSize {
				return fmt.Errorf("page %d: bucket %d header too short", id, i)
			}
			var err error
			if root := ne.Uint64(v); root != 0 {
				err = c.tree(root, depth+1)
			} else {
				err = c.nodes(v[inBucketSize:], 0, depth+1) // shorter at each level: ends
			}
			if err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("page %d: flags %#x", id, flags)
	}
	return nil
}

// freelist checks that the free pages are in bounds, listed once, and none
// of them in use.
func (c *checker) freelist() error {
	b, err := c.page(c.m.free, flagFreelist)
	if err != nil {
		return err
	}
	off, n := uint64(pageHeaderSize), uint64(ne.Uint16(b[10:]))
	if n == 0xFFFF {
		if len(b) < pageHeaderSize+8 {
			return fmt.Errorf("free list: too short")
		}
		n, off = ne.Uint64(b[off:]), off+8
	}
	if n > (uint64(len(b))-off)/8 {
		return fmt.Errorf("free list: %d ids overrun it", n)
	}
	for i := range n {
		id := ne.Uint64(b[off+8*i:])
		if id < 2 || id >= c.m.pages || c.seen[id] {
			return fmt.Errorf("free list: page %d is in use, listed twice or out of bounds", id)
		}
		c.seen[id] = true
	}
	return nil
}
