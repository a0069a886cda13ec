package cache

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ErrDownload marks a download that failed part way; readers of the item see it.
var ErrDownload = errors.New("download failed")

// Item is one cached file: a local file plus what is known of its state. A
// download fills it from the front while readers wait for the bytes they need,
// so large files stream through the disk and never sit whole in memory.
type Item struct {
	c  *Content
	id string
	f  *os.File

	// guarded by c.mu
	path     string
	refs     int
	detached bool
	elem     *list.Element

	// io serializes local writes and truncates, and is held across their
	// disk I/O. Lock order: io before mu. mu is never held across disk I/O,
	// so Size, Dirty and the like never wait for a slow disk (vfs asks them
	// under FS.mu, which every lookup needs).
	io sync.Mutex

	mu       sync.Mutex // guards the fields below
	cond     sync.Cond
	size     int64 // bytes present in the file
	total    int64 // expected final size, -1 if unknown
	complete bool  // all data present
	err      error // download failure
	dirty    bool  // holds local data not yet uploaded
	gen      uint64
	upTo     uint64 // 1 + the newest generation an upload confirmed; 0: none
	fetched  time.Time
}

// ID names the item's file inside the cache directory.
func (it *Item) ID() string { return it.id }

// Path returns the remote path the item currently belongs to.
func (it *Item) Path() string {
	it.c.mu.Lock()
	defer it.c.mu.Unlock()
	return it.path
}

// Ref takes another reference; each must be matched by Release.
func (it *Item) Ref() {
	it.c.mu.Lock()
	it.c.refLocked(it)
	it.c.mu.Unlock()
}

// Release drops a reference.
func (it *Item) Release() { it.c.release(it) }

func (it *Item) usable(now time.Time, ttl time.Duration) bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.err != nil {
		return false
	}
	return it.dirty || now.Sub(it.fetched) < ttl
}

// revive marks a complete, healthy item as fetched now; it reports false for
// an incomplete or failed one.
func (it *Item) revive(now time.Time) bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	if !it.complete || it.err != nil || it.f == nil {
		return false
	}
	if !it.dirty {
		it.fetched = now
	}
	return true
}

func (it *Item) failed() bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.err != nil
}

func (it *Item) isDirty() bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.dirty
}

// destroy closes and removes the item's file. Called with c.mu held, refs 0.
func (it *Item) destroy() {
	it.mu.Lock()
	if it.f != nil {
		it.f.Close()
		it.f = nil
		os.Remove(filepath.Join(it.c.dir, it.id))
		it.c.used.Add(-it.size)
		it.size = 0
	}
	if it.err == nil {
		it.err = fmt.Errorf("%w: item removed", ErrDownload)
	}
	it.cond.Broadcast()
	it.mu.Unlock()
}

// Fill copies a download into the item, waking readers as bytes arrive.
// total is the announced size (-1 if unknown); a body shorter or longer than
// announced fails the item.
func (it *Item) Fill(r io.Reader, total int64) error {
	it.mu.Lock()
	it.total = total
	it.cond.Broadcast()
	it.mu.Unlock()
	buf := make([]byte, 256<<10)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if err := it.appendData(buf[:n]); err != nil {
				return it.fail(err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return it.fail(rerr)
		}
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.total >= 0 && it.size != it.total {
		it.err = fmt.Errorf("%w: got %d of %d bytes", ErrDownload, it.size, it.total)
		it.cond.Broadcast()
		return it.err
	}
	it.total = it.size
	it.complete = true
	it.fetched = it.c.now()
	it.cond.Broadcast()
	return nil
}

func (it *Item) appendData(p []byte) error {
	it.mu.Lock()
	f, off := it.f, it.size
	it.mu.Unlock()
	if f == nil {
		return fmt.Errorf("%w: item removed", ErrDownload)
	}
	n, err := f.WriteAt(p, off)
	if noSpace(err) && it.c.makeRoom(int64(len(p)-n)) {
		_, err = f.WriteAt(p[n:], off+int64(n))
	}
	if err != nil {
		return err
	}
	it.mu.Lock()
	it.size += int64(len(p))
	it.c.used.Add(int64(len(p)))
	it.cond.Broadcast()
	it.mu.Unlock()
	return nil
}

func (it *Item) fail(err error) error {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.err == nil {
		it.err = fmt.Errorf("%w: %w", ErrDownload, err)
	}
	it.cond.Broadcast()
	return it.err
}

// ReadAt reads from the item, waiting for a download in progress to deliver
// the requested range (or finish short of it).
func (it *Item) ReadAt(p []byte, off int64) (int, error) {
	it.mu.Lock()
	for !it.complete && it.err == nil && it.size < off+int64(len(p)) {
		it.cond.Wait()
	}
	if it.err != nil && !it.complete {
		err := it.err
		it.mu.Unlock()
		return 0, err
	}
	f := it.f
	it.mu.Unlock()
	if f == nil {
		return 0, fmt.Errorf("%w: item removed", ErrDownload)
	}
	n, err := f.ReadAt(p, off)
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// WaitComplete blocks until all data is present or the download failed.
func (it *Item) WaitComplete() error {
	it.mu.Lock()
	defer it.mu.Unlock()
	for !it.complete && it.err == nil {
		it.cond.Wait()
	}
	if it.complete {
		return nil
	}
	return it.err
}

// WaitSize blocks until the final size is known (announced or complete).
func (it *Item) WaitSize() (int64, error) {
	it.mu.Lock()
	defer it.mu.Unlock()
	for !it.complete && it.total < 0 && it.err == nil {
		it.cond.Wait()
	}
	if it.complete || it.total >= 0 {
		return it.total, nil
	}
	return 0, it.err
}

// Size returns the final size if known.
func (it *Item) Size() (int64, bool) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.complete {
		return it.size, true
	}
	return it.total, it.total >= 0
}

// WriteAt writes local data; the item must be complete. It becomes dirty.
// On a full disk, clean cached items are evicted to make room and the write
// is tried once more: they can be downloaded again, the write cannot.
func (it *Item) WriteAt(p []byte, off int64) (int, error) {
	n, err := it.writeAt(p, off)
	if noSpace(err) && it.c.makeRoom(int64(len(p)-n)) {
		var m int
		m, err = it.writeAt(p[n:], off+int64(n))
		n += m
	}
	return n, err
}

func (it *Item) writeAt(p []byte, off int64) (int, error) {
	it.io.Lock()
	defer it.io.Unlock()
	it.mu.Lock()
	f, ok := it.f, it.f != nil && it.complete
	it.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("write to incomplete item")
	}
	diskIOHook()
	n, err := f.WriteAt(p, off)
	it.mu.Lock()
	defer it.mu.Unlock()
	if end := off + int64(n); end > it.size {
		it.c.used.Add(end - it.size)
		it.size = end
		it.total = end
	}
	if n > 0 || err == nil {
		it.dirty = true
		it.gen++
	}
	return n, err
}

// diskIOHook runs just before a local write or truncate reaches the disk
// (tests make it slow).
var diskIOHook = func() {}

// noSpace reports a full disk (or quota).
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// Truncate sets the item's size; it becomes dirty.
func (it *Item) Truncate(size int64) error {
	it.io.Lock()
	defer it.io.Unlock()
	it.mu.Lock()
	f, ok := it.f, it.f != nil && it.complete
	it.mu.Unlock()
	if !ok {
		return fmt.Errorf("truncate of incomplete item")
	}
	diskIOHook()
	if err := f.Truncate(size); err != nil {
		return err
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	it.c.used.Add(size - it.size)
	it.size, it.total = size, size
	it.dirty = true
	it.gen++
	return nil
}

// Dirty reports whether the item holds data not yet uploaded, and its
// generation (bumped by every write).
func (it *Item) Dirty() (bool, uint64) {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.dirty, it.gen
}

// MarkDirty marks the item as local data (e.g. a file renamed onto a new name).
func (it *Item) MarkDirty() {
	it.mu.Lock()
	it.dirty = true
	it.gen++
	it.mu.Unlock()
}

// MarkClean records a successful upload of generation gen. It reports false
// (and stays dirty) if the item was written since.
func (it *Item) MarkClean(gen uint64) bool {
	it.mu.Lock()
	it.upTo = max(it.upTo, gen+1)
	if it.gen != gen {
		it.mu.Unlock()
		return false
	}
	it.dirty = false
	it.fetched = it.c.now()
	it.mu.Unlock()
	it.c.markIdleIfClean(it)
	return true
}

// Uploaded reports whether an upload of generation gen, or of a later one,
// was confirmed (MarkClean): everything written up to gen is on the server.
func (it *Item) Uploaded(gen uint64) bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.upTo > gen
}

// Snapshot returns a reader over the item's current content, for an upload,
// with the generation it shows. The reader is seekable so a failed upload can
// be retried; if the item is written meanwhile, the generation check in
// MarkClean makes the caller upload again.
func (it *Item) Snapshot() (*io.SectionReader, uint64, error) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.f == nil {
		return nil, 0, fmt.Errorf("%w: item removed", ErrDownload)
	}
	return io.NewSectionReader(it.f, 0, it.size), it.gen, nil
}
