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

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// policy is what writing a control file means and when it takes effect.
//
// Shells ignore errors of close(2) (`echo 25 > hour` exits 0 if only the
// flush fails), so a value is applied during the write(2) that completes
// it, and a refusal fails that write. Flush applies what no write did.
type policy int

const (
	readOnly policy = iota
	// valuePolicy: one value, applied by a write that leaves the content
	// ending in a newline, or by a short write that is the whole content
	// (printf 3.11), else at close.
	valuePolicy
	// jsonPolicy: a JSON value, applied as soon as the content is one; a
	// short write ending in a newline that leaves invalid or incomplete
	// JSON is final: EINVAL.
	jsonPolicy
	// closePolicy: applied at close (PEM certificates come in several
	// writes), unless early says the content is complete.
	closePolicy
	// triggerPolicy: any write, truncation or touch acts, once per open.
	triggerPolicy
	// streamPolicy: each write is sent as it comes (console input).
	streamPolicy
)

// file is what a control file shows and does.
type file struct {
	mode   uint32                                    // permission bits
	read   func(ctx context.Context) ([]byte, error) // nil: reads empty
	peek   func() ([]byte, bool)                     // content from the cache, no request: the size
	mtime  func() time.Time
	policy policy
	// put applies content. It runs on a background context (see attempt).
	put func(ctx context.Context, content []byte) error
	// early, for closePolicy, judges content that a write left looking
	// complete (see valueDone): apply it now, refuse it now, or wait.
	early func(content []byte) (apply bool, err error)
}

// fileNode is every control file.
type fileNode struct {
	gofs.Inode
	ident
	noXattr
	c    *Control
	path string
	f    file

	mu      sync.Mutex // guards writers and the handles' state
	writers map[*fileHandle]bool
}

var (
	_ gofs.NodeGetattrer = (*fileNode)(nil)
	_ gofs.NodeSetattrer = (*fileNode)(nil)
	_ gofs.NodeOpener    = (*fileNode)(nil)
)

// fileEntry is an entry for a control file.
func (c *Control) fileEntry(name, path string, f file) entry {
	key := "file/" + path
	return entry{name: name, mode: syscall.S_IFREG, key: key, node: func() gofs.InodeEmbedder {
		return &fileNode{ident: ident{key}, c: c, path: path, f: f}
	}}
}

func (n *fileNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	size := 0
	if h, ok := fh.(*fileHandle); ok {
		n.mu.Lock()
		size = len(h.buf)
		n.mu.Unlock()
	} else if n.f.peek != nil {
		b, _ := n.f.peek()
		size = len(b)
	}
	t := n.c.started
	if n.f.mtime != nil {
		t = n.c.orStarted(n.f.mtime())
	}
	fillAttr(&out.Attr, syscall.S_IFREG|n.f.mode, size, t)
	return 0
}

// Open snapshots the content (reads always see one consistent version) and
// serves it with direct I/O, so that sizes never cut a read short.
func (n *fileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	wr := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	if wr && n.f.policy == readOnly {
		return nil, 0, syscall.EACCES
	}
	h := &fileHandle{n: n, writable: wr, pid: callerPid(ctx)}
	prefill := n.f.policy == valuePolicy || n.f.policy == jsonPolicy
	if n.f.read != nil && (!wr || prefill) {
		b, err := n.f.read(ctx)
		if err != nil {
			n.c.fail("read", n.path, err)
			return nil, 0, errnoOf(err)
		}
		h.buf = b
	}
	if wr {
		n.mu.Lock()
		if n.writers == nil {
			n.writers = map[*fileHandle]bool{}
		}
		n.writers[h] = true
		n.mu.Unlock()
	}
	return h, fuse.FOPEN_DIRECT_IO, 0
}

// Setattr: a size change truncates (the kernel opens with O_TRUNC as OPEN
// then SETATTR size 0, without the handle); on a trigger, a size or time
// change fires. touch, too, sends its SETATTR without the handle while it
// holds the file open, so a handle-less SETATTR belongs to what the same
// process has open: one touch, one reload. Modes, owners and other times
// are accepted and ignored (cp -p, vim and sed copy them onto files).
func (n *fileNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	hs := n.targets(fh, callerPid(ctx))
	size, sized := in.GetSize()
	_, mt := in.GetMTime()
	_, at := in.GetATime()
	var errno syscall.Errno
	switch {
	case n.f.policy == triggerPolicy && (sized || mt || at):
		errno = n.fire(ctx, n.unfired(fh, hs))
	case !sized:
	case n.f.policy == readOnly:
		errno = syscall.EPERM
	case len(hs) > 0:
		for _, h := range hs {
			h.truncate(int(size))
		}
	case n.f.policy == valuePolicy || n.f.policy == jsonPolicy:
		errno = n.truncateNow(ctx, int(size))
	}
	if errno != 0 {
		return errno
	}
	return n.Getattr(ctx, fh, out)
}

// targets are the handles a SETATTR applies to: its own, else those the
// calling process opened for writing.
func (n *fileNode) targets(fh gofs.FileHandle, pid uint32) []*fileHandle {
	if h, ok := fh.(*fileHandle); ok && h.writable {
		return []*fileHandle{h}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var hs []*fileHandle
	for h := range n.writers {
		if h.pid == pid || pid == 0 {
			hs = append(hs, h)
		}
	}
	return hs
}

// callerPid is the process a FUSE request comes from (0 if unknown).
func callerPid(ctx context.Context) uint32 {
	if fc, ok := ctx.(*fuse.Context); ok {
		return fc.Caller.Pid
	}
	return 0
}

// unfired narrows the handles a trigger's SETATTR belongs to: its own
// handle, else the caller's open writers that have not fired yet (a SETATTR
// while an earlier writer that already fired is still open is a new touch).
func (n *fileNode) unfired(fh gofs.FileHandle, hs []*fileHandle) []*fileHandle {
	if h, ok := fh.(*fileHandle); ok && h.writable {
		return hs
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*fileHandle
	for _, h := range hs {
		if h.fired == nil {
			out = append(out, h)
		}
	}
	return out
}

// truncateNow applies a truncation made without an open file (truncate -s).
func (n *fileNode) truncateNow(ctx context.Context, size int) syscall.Errno {
	var cur []byte
	if size > 0 && n.f.read != nil {
		b, err := n.f.read(ctx)
		if err != nil {
			return errnoOf(err)
		}
		cur = b
	}
	return n.replace(ctx, resize(cur, size))
}

// replace applies content as a whole new version of the file: what a
// rename of an editor's temp file onto it, or a truncation, means.
func (n *fileNode) replace(ctx context.Context, content []byte) syscall.Errno {
	switch n.f.policy {
	case readOnly:
		return syscall.EACCES
	case triggerPolicy:
		return n.fire(ctx, nil)
	case jsonPolicy:
		if err := checkJSON(content); err != nil {
			n.c.fail("write", n.path, err)
			return syscall.EINVAL
		}
	}
	return n.start("replace", content).wait(ctx)
}

// fire runs a trigger once for the handles hs (one touch opens the file and
// sets its times: both belong to the same action). Without handles it fires
// anew.
func (n *fileNode) fire(ctx context.Context, hs []*fileHandle) syscall.Errno {
	n.mu.Lock()
	var a *attempt
	for _, h := range hs {
		if h.fired != nil {
			a = h.fired
			break
		}
	}
	if a == nil {
		a = n.start("fire", nil)
	}
	for _, h := range hs {
		h.fired = a
	}
	n.mu.Unlock()
	return a.wait(ctx)
}

// attempt is one application of a file's content, running on its own: a
// caller interrupted by a signal stops waiting but the call goes on, and a
// retried write of the same content gets this outcome rather than a second
// request.
type attempt struct {
	key  string
	done chan struct{}
	err  error
}

func (n *fileNode) start(key string, content []byte) *attempt {
	a := &attempt{key: key, done: make(chan struct{})}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
		defer cancel()
		a.err = n.f.put(ctx, content)
		if a.err != nil {
			n.c.fail("write", n.path, a.err)
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

func (a *attempt) wait(ctx context.Context) syscall.Errno {
	select {
	case <-a.done:
		return errnoOf(a.err)
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

// errTooBig is the answer to writes beyond maxWrite.
var errTooBig = fmt.Errorf("%w: control files take at most %d KiB", syscall.EFBIG, maxWrite>>10)
