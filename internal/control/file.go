package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"
)

// file is what a control file shows and does: the table entry a File node
// is made from.
type file struct {
	mode  uint32                                    // permission bits
	read  func(ctx context.Context) ([]byte, error) // nil: reads empty
	peek  func() ([]byte, bool)                     // content from the cache, no request
	mtime func() time.Time
	// atOpen: read asks the API at each open (a console's output, which
	// changes all the time), so a stat does not, and reports size 0.
	atOpen bool
	// write is what writing the file means and when it takes effect
	// (write.go); nil for read-only files.
	write writePolicy
	// put applies content. It runs on a background context (see attempt).
	put func(ctx context.Context, content []byte) error
}

// File is one control file's node: its table entry, and the handles open
// on it for writing (a SETATTR without a handle acts on those of its
// process).
type File struct {
	c    *Control
	key  string
	path string
	spec file

	// mu guards writers and the state of every handle open on this file:
	// their content, their last attempt and whether a trigger fired.
	mu      sync.Mutex
	writers map[writer]bool
}

// fileEntry is an entry for a control file.
func (c *Control) fileEntry(name, path string, f file) Entry {
	key := "file/" + path
	return Entry{Name: name, Mode: syscall.S_IFREG, Key: key, New: func() Node {
		return &File{key: key, c: c, path: path, spec: f}
	}}
}

func (f *File) Key() string { return f.key }
func (*File) isNode()       {}

// Mode is the file's permission bits.
func (f *File) Mode() uint32 { return f.spec.mode }

// Mtime is when what the file shows last changed, as far as known.
func (f *File) Mtime() time.Time {
	if f.spec.mtime == nil {
		return f.c.started
	}
	return f.c.orStarted(f.spec.mtime())
}

// statWait bounds how long a stat waits for the content it reports the
// size of: with the API slow or down, it reports the cached content's
// size (or 0) rather than hang ls. The fetch goes on for the next reader.
const statWait = 3 * time.Second

// Size is the size of what h holds, or without a handle of what a read
// would return now: `[ -s account/system_image ]` and `ls -l` tell the
// truth. That may cost the fetch a read would make (a list or a setting,
// cached for the TTL). Triggers and other write-only files read empty:
// 0. A file read anew at each open (atOpen) reports 0 too.
func (f *File) Size(ctx context.Context, h Handle) int {
	switch {
	case h != nil:
		return h.Size()
	case f.spec.atOpen || f.spec.read == nil:
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, statWait)
	defer cancel()
	if b, err := f.spec.read(ctx); err == nil {
		return len(b)
	}
	if f.spec.peek != nil {
		if b, ok := f.spec.peek(); ok {
			return len(b)
		}
	}
	return 0
}

// content is what the file reads as now.
func (f *File) content(ctx context.Context) ([]byte, error) {
	if f.spec.read == nil {
		return nil, nil
	}
	return f.spec.read(ctx)
}

// Open snapshots the content for reading (reads always see one consistent
// version), or makes the handle of the file's write policy.
func (f *File) Open(ctx context.Context, write bool, pid uint32) (Handle, error) {
	if !write {
		b, err := f.content(ctx)
		if err != nil {
			f.c.fail("read", f.path, err)
			return nil, err
		}
		return &readHandle{base{f: f, buf: b}}, nil
	}
	if f.spec.write == nil {
		return nil, syscall.EACCES
	}
	h, err := f.spec.write.open(ctx, f, pid)
	if err != nil {
		f.c.fail("read", f.path, err)
		return nil, err
	}
	f.mu.Lock()
	if f.writers == nil {
		f.writers = map[writer]bool{}
	}
	f.writers[h] = true
	f.mu.Unlock()
	return h, nil
}

// prefilled is the current content, for the handle of a file whose writes
// edit it (a one-value or JSON file opened read-write).
func (f *File) prefilled(ctx context.Context, pid uint32) (buffered, error) {
	b, err := f.content(ctx)
	return buffered{base: base{f: f, buf: b}, pid: pid}, err
}

// Setattr applies a SETATTR from process pid, with the handle h if the
// kernel sent one. A size change truncates (the kernel opens with O_TRUNC
// as OPEN then SETATTR size 0, without the handle); on a trigger, a size
// or time change fires. touch, too, sends its SETATTR without the handle
// while it holds the file open, so a handle-less SETATTR belongs to what
// the same process has open: one touch, one reload. Modes, owners and
// other times are accepted and ignored (cp -p, vim and sed copy them onto
// files).
func (f *File) Setattr(ctx context.Context, h Handle, pid uint32, a SetAttr) error {
	size := int64(-1)
	if a.Size != nil {
		size = int64(*a.Size)
	}
	if f.spec.write == nil {
		if size >= 0 {
			return syscall.EPERM
		}
		return nil
	}
	own, _ := h.(writer)
	return f.spec.write.setattr(ctx, f, setattr{own: own, hs: f.targets(own, pid), size: size,
		times: a.Atime != nil || a.Mtime != nil})
}

// setattr is a SETATTR as a write policy sees it.
type setattr struct {
	own   writer   // the write handle it came with, if any
	hs    []writer // the handles it applies to: own, else the caller's open writers
	size  int64    // the new size; -1: unchanged
	times bool     // atime or mtime set
}

// targets are the handles a SETATTR applies to: its own, else those the
// calling process opened for writing (pid 0: unknown, all of them).
func (f *File) targets(own writer, pid uint32) []writer {
	if own != nil {
		return []writer{own}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var hs []writer
	for h := range f.writers {
		if h.opener() == pid || pid == 0 {
			hs = append(hs, h)
		}
	}
	return hs
}

// Replace applies content as a whole new version of the file: what a
// rename of an editor's temp file onto it, or a truncation without an open
// file, means.
func (f *File) Replace(ctx context.Context, content []byte) error {
	if f.spec.write == nil {
		return syscall.EACCES
	}
	return f.spec.write.replace(ctx, f, content)
}

// attempt is one application of a file's content, running on its own: a
// caller interrupted by a signal stops waiting but the call goes on, and a
// retried write of the same content gets this outcome rather than a second
// request.
type attempt struct {
	key  string
	done chan struct{}
	err  error // set before done is closed
}

// start applies content in the background; key names what is applied.
func (f *File) start(key string, content []byte) *attempt {
	a := &attempt{key: key, done: make(chan struct{})}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
		defer cancel()
		a.err = f.spec.put(ctx, content)
		if a.err != nil {
			f.c.fail("write", f.path, a.err)
		}
		close(a.done)
	}()
	return a
}

// failed is an attempt refused before any request.
func failed(key string, err error) *attempt {
	a := &attempt{key: key, done: make(chan struct{}), err: err}
	close(a.done)
	return a
}

// wait returns the attempt's outcome, or EINTR if ctx ends first.
func (a *attempt) wait(ctx context.Context) error {
	select {
	case <-a.done:
		return a.err
	case <-ctx.Done():
		return syscall.EINTR
	}
}

func (a *attempt) finished() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// checkJSON refuses content that is not one complete JSON value.
func checkJSON(content []byte) error {
	switch jsonStatus(content) {
	case jsonComplete:
		return nil
	case jsonIncomplete:
		if strings.TrimSpace(string(content)) == "" {
			return invalidf("empty: write a JSON object")
		}
		return invalidf("incomplete JSON (write the whole object in one go)")
	}
	var v any
	return invalidf("invalid JSON: %v", json.Unmarshal(content, &v))
}

// resize cuts or zero-pads b to size, as truncate(2) does.
func resize(b []byte, size int) []byte {
	if size <= len(b) {
		return bytes.Clone(b[:size])
	}
	return append(bytes.Clone(b), make([]byte, size-len(b))...)
}

// place writes data at off into buf, zero-filling a gap.
func place(buf, data []byte, off int64) []byte {
	end := int(off) + len(data)
	if end > len(buf) {
		buf = append(buf, make([]byte, end-len(buf))...)
	}
	copy(buf[off:], data)
	return buf
}

// readAt copies what b holds at off into dest.
func readAt(b, dest []byte, off int64) int {
	if off < 0 || off >= int64(len(b)) {
		return 0
	}
	return copy(dest, b[off:])
}

// errTooBig is the answer to writes beyond maxWrite.
var errTooBig = fmt.Errorf("%w: control files take at most %d KiB", syscall.EFBIG, maxWrite>>10)

// checkWrite refuses a write beyond maxWrite.
func (f *File) checkWrite(data []byte, off int64) error {
	if off < 0 || off+int64(len(data)) > maxWrite {
		f.c.fail("write", f.path, errTooBig)
		return errTooBig
	}
	return nil
}
