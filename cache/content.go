package cache

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pafs/pafs/internal/rpath"
)

// ContentOptions configures the on-disk content cache.
type ContentOptions struct {
	Dir      string        // where item files live (created 0700)
	MaxBytes int64         // clean items are evicted beyond this (dirty ones never)
	TTL      time.Duration // a clean item is served for this long after its download or upload
	Now      func() time.Time
}

// Content is the on-disk content cache. Each cached file is one Item backed by
// one local file. Items are found by remote path; an item whose path is taken
// over (rename, overwrite, unlink) is detached and its file removed when the
// last reference goes.
type Content struct {
	dir string
	max int64
	ttl time.Duration
	now func() time.Time

	used atomic.Int64

	mu     sync.Mutex
	byPath map[string]*Item
	idle   *list.List // clean items without references, least recently used first
	hits   uint64
	misses uint64
}

// OpenContent opens (creating if needed) a content cache in o.Dir. Item files
// left by an earlier run are kept if keep reports their ID (the dirty files
// the upload queue still owns, adopted later) or if the index written by
// SaveIndex at that run's clean shutdown lists them (clean copies, cached
// again for their path as they were); the rest are removed.
func OpenContent(o ContentOptions, keep func(id string) bool) (*Content, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("content cache %s: %w", o.Dir, err)
	}
	if err := os.Chmod(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("content cache %s: %w", o.Dir, err)
	}
	c := &Content{dir: o.Dir, max: o.MaxBytes, ttl: o.TTL, now: o.Now,
		byPath: map[string]*Item{}, idle: list.New()}
	ents, err := os.ReadDir(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("content cache %s: %w", o.Dir, err)
	}
	index := c.takeIndex()
	for _, e := range ents {
		id := e.Name()
		switch {
		case id == indexName:
		case keep != nil && keep(id):
		case index[id] != nil && c.restore(index[id]):
		default:
			os.Remove(filepath.Join(o.Dir, id))
		}
	}
	c.evict()
	return c, nil
}

// indexName is the file SaveIndex writes in the cache directory (item IDs
// are hex, so it cannot be one).
const indexName = "index.json"

// indexEntry is one clean item in the index.
type indexEntry struct {
	Path    string    `json:"path"`
	ID      string    `json:"id"`
	Size    int64     `json:"size"`
	Fetched time.Time `json:"fetched"` // its TTL counts from here, as before the unmount
}

// SaveIndex records the complete, clean items and the paths they belong to,
// so that the next OpenContent keeps them: after a remount, what was read
// before is read again without a download while its TTL lasts, and served
// when the server cannot be reached. Call it at a clean shutdown, once
// nothing writes to the cache any more. The index is only trusted from
// that shutdown to the next OpenContent, which removes it: a run that dies
// leaves none, and its clean copies are removed (an item may have changed
// after the index was written).
func (c *Content) SaveIndex() error {
	var ents []indexEntry
	c.mu.Lock()
	for p, it := range c.byPath {
		it.mu.Lock()
		if it.complete && !it.dirty && it.err == nil && it.f != nil && !it.detached {
			ents = append(ents, indexEntry{Path: p, ID: it.id, Size: it.size, Fetched: it.fetched})
		}
		it.mu.Unlock()
	}
	c.mu.Unlock()
	b, err := json.Marshal(ents)
	if err != nil {
		return fmt.Errorf("content cache index: %w", err)
	}
	tmp := filepath.Join(c.dir, indexName+".tmp")
	if err := writeSync(tmp, b); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("content cache index: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, indexName)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("content cache index: %w", err)
	}
	return syncDir(c.dir)
}

// takeIndex reads and removes the index a clean shutdown left, by item ID.
// The removal is made durable before any item is used, so that a crash
// later never finds an index that no longer describes the items.
func (c *Content) takeIndex() map[string]*indexEntry {
	name := filepath.Join(c.dir, indexName)
	os.Remove(name + ".tmp")
	b, err := os.ReadFile(name)
	if err != nil {
		return nil
	}
	if err := os.Remove(name); err != nil || syncDir(c.dir) != nil {
		return nil // kept, it could outlive changes to the items it names
	}
	var ents []indexEntry
	if json.Unmarshal(b, &ents) != nil {
		return nil
	}
	out := make(map[string]*indexEntry, len(ents))
	for i := range ents {
		out[ents[i].ID] = &ents[i]
	}
	return out
}

// restore caches the item file e names for its path again, clean and idle,
// if it is whole (the size the index recorded).
func (c *Content) restore(e *indexEntry) bool {
	if _, taken := c.byPath[e.Path]; taken || e.Path == "" {
		return false
	}
	f, err := os.OpenFile(filepath.Join(c.dir, e.ID), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	if st, err := f.Stat(); err != nil || st.Size() != e.Size {
		f.Close()
		return false
	}
	it := &Item{c: c, id: e.ID, path: e.Path, f: f, size: e.Size, total: e.Size, complete: true, fetched: e.Fetched}
	it.cond.L = &it.mu
	c.byPath[e.Path] = it
	it.elem = c.idle.PushBack(it)
	c.used.Add(e.Size)
	return true
}

// writeSync writes b to a new file name and syncs it.
func writeSync(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// syncDir makes the directory entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// Dir returns the directory holding item files.
func (c *Content) Dir() string { return c.dir }

// Used returns the bytes held by item files.
func (c *Content) Used() int64 { return c.used.Load() }

// Stats returns content hits and misses (opens served locally vs fetched).
func (c *Content) Stats() (hits, misses uint64, items int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses, len(c.byPath)
}

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Lookup returns a referenced item for path if one is cached and usable: dirty,
// or clean and younger than the TTL, and not failed. The caller must Release it.
// An item that is merely old stays cached (see Revive) until a new download
// replaces it.
func (c *Content) Lookup(path string) (*Item, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.byPath[path]
	if ok && !it.usable(c.now(), c.ttl) {
		if it.failed() {
			c.detachLocked(it)
		}
		ok = false
	}
	if !ok {
		c.misses++
		return nil, false
	}
	c.hits++
	c.refLocked(it)
	return it, true
}

// Revive returns a referenced item for path if a complete copy is cached,
// however old, and makes it count as fresh for another TTL: the copy to serve
// when the server cannot be reached (stale is better than an error). The
// caller must Release it.
func (c *Content) Revive(path string) (*Item, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.byPath[path]
	if !ok || !it.revive(c.now()) {
		return nil, false
	}
	c.refLocked(it)
	return it, true
}

// Peek returns the item for path without taking a reference or judging its age.
func (c *Content) Peek(path string) (*Item, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.byPath[path]
	return it, ok
}

// New creates an empty item for path, replacing (detaching) any other, with
// one reference. dirty marks it as local data (a create or a truncating open);
// a clean item is about to be filled by a download.
func (c *Content) New(path string, dirty bool) (*Item, error) {
	return c.newItem(path, newID(), dirty, false)
}

// Adopt registers an existing item file (a dirty file recovered from the
// upload queue after a restart) for path, with one reference.
func (c *Content) Adopt(path, id string) (*Item, error) {
	return c.newItem(path, id, true, true)
}

// ErrBusy is returned by New for a download when the path holds local data.
var ErrBusy = errors.New("path holds local data")

func (c *Content) newItem(path, id string, dirty, existing bool) (*Item, error) {
	if !dirty {
		c.mu.Lock()
		old, ok := c.byPath[path]
		busy := ok && old.isDirty()
		c.mu.Unlock()
		if busy {
			return nil, ErrBusy
		}
	}
	// A new item's file must not exist yet; an adopted one must (a missing
	// file is lost data, never an empty upload).
	flags := os.O_RDWR
	if !existing {
		flags |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(filepath.Join(c.dir, id), flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("content cache: %w", err)
	}
	it := &Item{c: c, id: id, path: path, f: f, total: -1, dirty: dirty, fetched: c.now()}
	it.cond.L = &it.mu
	if existing {
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("content cache: %w", err)
		}
		it.size, it.total, it.complete = st.Size(), st.Size(), true
		c.used.Add(st.Size())
	}
	if dirty {
		it.complete = true
		it.total = it.size
	}
	c.mu.Lock()
	if old, ok := c.byPath[path]; ok {
		c.detachLocked(old)
	}
	c.byPath[path] = it
	it.refs = 1
	c.mu.Unlock()
	return it, nil
}

// Rename moves the item at from to to, detaching whatever was at to.
func (c *Content) Rename(from, to string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.byPath[from]
	if old, has := c.byPath[to]; has && old != it {
		c.detachLocked(old)
	}
	if ok {
		delete(c.byPath, from)
		it.path = to
		c.byPath[to] = it
	}
}

// Remove detaches the item at path (its file goes when the last reference does).
func (c *Content) Remove(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it, ok := c.byPath[path]; ok {
		c.detachLocked(it)
	}
}

// RemoveTree detaches every item at or below dir.
func (c *Content) RemoveTree(dir string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, it := range c.byPath {
		if p == dir || rpath.IsBelow(p, dir) {
			c.detachLocked(it)
		}
	}
}

func (c *Content) refLocked(it *Item) {
	if it.elem != nil {
		c.idle.Remove(it.elem)
		it.elem = nil
	}
	it.refs++
}

// detachLocked unlinks it from its path; the file is removed now if unused.
func (c *Content) detachLocked(it *Item) {
	if c.byPath[it.path] == it {
		delete(c.byPath, it.path)
	}
	it.detached = true
	if it.elem != nil {
		c.idle.Remove(it.elem)
		it.elem = nil
	}
	if it.refs == 0 {
		it.destroy()
	}
}

// release drops one reference; idle clean items become evictable.
func (c *Content) release(it *Item) {
	c.mu.Lock()
	it.refs--
	if it.refs > 0 {
		c.mu.Unlock()
		return
	}
	if it.detached || it.failed() {
		if c.byPath[it.path] == it {
			delete(c.byPath, it.path)
		}
		it.destroy()
	} else if !it.isDirty() {
		it.elem = c.idle.PushBack(it)
	}
	c.mu.Unlock()
	c.evict()
}

// evict drops least recently used idle clean items until under the byte cap.
func (c *Content) evict() {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.used.Load() > c.max {
		e := c.idle.Front()
		if e == nil {
			return
		}
		it := e.Value.(*Item)
		c.detachLocked(it)
	}
}

// roomSlack is what makeRoom frees beyond the bytes asked for, so that a
// stream of writes to a full disk does not evict once per write.
const roomSlack = 4 << 20

// makeRoom evicts idle clean items, least recently used first, until need
// bytes (and roomSlack more) are freed or none is left. It reports whether
// anything was freed. Items waiting for upload are never evicted.
// MakeRoom evicts idle clean copies until need bytes (and some slack) are
// free, for others sharing the cache disk (the upload journal); it reports
// whether any were.
func (c *Content) MakeRoom(need int64) bool { return c.makeRoom(need) }

func (c *Content) makeRoom(need int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	var freed int64
	for freed < need+roomSlack {
		e := c.idle.Front()
		if e == nil {
			break
		}
		it := e.Value.(*Item)
		before := c.used.Load()
		c.detachLocked(it)
		freed += before - c.used.Load()
	}
	return freed > 0
}

// markIdleIfClean puts an unreferenced item back on the idle list after an
// upload turned it clean.
func (c *Content) markIdleIfClean(it *Item) {
	c.mu.Lock()
	if it.refs == 0 && !it.detached && it.elem == nil && !it.isDirty() {
		it.elem = c.idle.PushBack(it)
	}
	c.mu.Unlock()
	c.evict()
}
