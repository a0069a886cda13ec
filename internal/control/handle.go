package control

import (
	"bytes"
	"context"
	"strconv"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// fileHandle is an open control file: a snapshot to read, or the content
// being written. Its state is guarded by its node's mutex.
type fileHandle struct {
	n        *fileNode
	writable bool
	pid      uint32 // the process that opened it
	buf      []byte
	dirty    bool     // written or truncated since open
	written  bool     // data written since open (not only truncated)
	last     *attempt // the latest application of buf
	fired    *attempt // triggerPolicy: this open's action
}

var (
	_ gofs.FileReader   = (*fileHandle)(nil)
	_ gofs.FileWriter   = (*fileHandle)(nil)
	_ gofs.FileFlusher  = (*fileHandle)(nil)
	_ gofs.FileFsyncer  = (*fileHandle)(nil)
	_ gofs.FileReleaser = (*fileHandle)(nil)
)

func (h *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	if off >= int64(len(h.buf)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(h.buf)))
	return fuse.ReadResultData(bytes.Clone(h.buf[off:end])), 0
}

func (h *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n := h.n
	if off < 0 || off+int64(len(data)) > maxWrite {
		n.c.fail("write", n.path, errTooBig)
		return 0, syscall.EFBIG
	}
	switch n.f.policy {
	case readOnly:
		return 0, syscall.EBADF
	case triggerPolicy:
		if errno := n.fire(ctx, []*fileHandle{h}); errno != 0 {
			return 0, errno
		}
		return uint32(len(data)), 0
	case streamPolicy:
		// Keyed by offset: a write the kernel retries after a signal is
		// the same input, not more typing.
		key := strconv.FormatInt(off, 10) + ":" + string(data)
		if errno := h.apply(ctx, key, bytes.Clone(data), true); errno != 0 {
			return 0, errno
		}
		return uint32(len(data)), 0
	}
	n.mu.Lock()
	h.buf = place(h.buf, data, off)
	h.dirty, h.written = true, true
	content := bytes.Clone(h.buf)
	n.mu.Unlock()
	if err := h.verdict(content, data); err != nil {
		return 0, h.reject(content, err)
	} else if h.ready(content, data) {
		if errno := h.apply(ctx, string(content), content, true); errno != 0 {
			return 0, errno
		}
	}
	return uint32(len(data)), 0
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

// valueDone says whether a write of data, leaving content, ends a value:
// the content ends a line, or the write is short and all there is.
func valueDone(content, data []byte) bool {
	return (len(content) > 0 && content[len(content)-1] == '\n') ||
		(len(data) < stdioBuf && bytes.Equal(content, data))
}

// ready says whether the write of data, leaving content, completes it.
func (h *fileHandle) ready(content, data []byte) bool {
	switch h.n.f.policy {
	case valuePolicy:
		return valueDone(content, data)
	case jsonPolicy:
		return jsonStatus(content) == jsonComplete
	case closePolicy:
		if h.n.f.early != nil && valueDone(content, data) {
			ok, _ := h.n.f.early(content)
			return ok
		}
	}
	return false
}

// verdict refuses a write that cannot be completed. For JSON: the last,
// short write of a writer (stdio writes whole blocks before it) that left
// something other than one JSON value.
func (h *fileHandle) verdict(content, data []byte) error {
	switch h.n.f.policy {
	case jsonPolicy:
		if len(data) >= stdioBuf || len(data) == 0 || data[len(data)-1] != '\n' {
			return nil
		}
		return checkJSON(content)
	case closePolicy:
		if h.n.f.early != nil && valueDone(content, data) {
			_, err := h.n.f.early(content)
			return err
		}
	}
	return nil
}

// reject records a refusal made without a request, so that close reports
// it again without asking the API.
func (h *fileHandle) reject(content []byte, err error) syscall.Errno {
	h.n.c.fail("write", h.n.path, err)
	h.n.mu.Lock()
	h.last = failed(string(content), err)
	h.n.mu.Unlock()
	return errnoOf(err)
}

// apply makes the API take content, once: a repeat of the content the
// handle last applied (a flush after the write that applied it, a write
// the kernel retries after a signal) gets that outcome again without a
// request. Only a write (retry) sends again what the API refused, since
// the user may have fixed the cause meanwhile (opened the console in a
// browser); a local refusal stays refused. One application at a time per
// open file, in order.
func (h *fileHandle) apply(ctx context.Context, key string, content []byte, retry bool) syscall.Errno {
	n := h.n
	for {
		n.mu.Lock()
		a := h.last
		if a != nil && a.key == key && (!retry || !a.finished() || a.err == nil || isInputError(a.err)) {
			n.mu.Unlock()
			return a.wait(ctx)
		}
		if a != nil && !a.finished() {
			n.mu.Unlock()
			if a.wait(ctx) == syscall.EINTR && ctx.Err() != nil {
				return syscall.EINTR
			}
			continue
		}
		a = n.start(key, content)
		h.last = a
		n.mu.Unlock()
		return a.wait(ctx)
	}
}

// truncate is a size change on this open file.
func (h *fileHandle) truncate(size int) {
	h.n.mu.Lock()
	h.buf = resize(h.buf, size)
	h.dirty = true
	h.n.mu.Unlock()
}

// Flush applies what the writes left unapplied. It comes at every
// close(2), dup2 included: a shell opens `> file` (OPEN, then a truncating
// SETATTR), moves the descriptor to 1 (FLUSH) and only then writes. So a
// flush with nothing written yet applies nothing: a truncation alone is
// applied at release, and a trigger fires at its first write or SETATTR
// (touch), else at release.
func (h *fileHandle) Flush(ctx context.Context) syscall.Errno {
	n := h.n
	if !h.writable {
		return 0
	}
	n.mu.Lock()
	written, content, last, fired := h.written, bytes.Clone(h.buf), h.last, h.fired
	n.mu.Unlock()
	switch n.f.policy {
	case triggerPolicy:
		if fired != nil {
			return fired.wait(ctx)
		}
		return 0
	case streamPolicy:
		return 0
	}
	if !written {
		return 0
	}
	if n.f.policy == jsonPolicy {
		if err := checkJSON(content); err != nil {
			if last != nil && last.key == string(content) {
				return last.wait(ctx)
			}
			return h.reject(content, err)
		}
	}
	return h.apply(ctx, string(content), content, false)
}

func (h *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno { return h.Flush(ctx) }

// Release is the last close: what is still unapplied (a truncation alone,
// an open for writing of a trigger that nothing fired) is applied now, in
// the background, since the kernel ignores release errors; failures go to
// the log and the status file.
func (h *fileHandle) Release(ctx context.Context) syscall.Errno {
	n := h.n
	n.mu.Lock()
	delete(n.writers, h)
	pending := h.writable && h.dirty && (h.last == nil || h.last.key != string(h.buf))
	unfired := h.writable && h.fired == nil && n.f.policy == triggerPolicy
	content := bytes.Clone(h.buf)
	n.mu.Unlock()
	switch {
	case unfired:
		n.start("fire", nil)
	case !pending || n.f.policy == streamPolicy || n.f.policy == triggerPolicy:
	case n.f.policy == jsonPolicy && checkJSON(content) != nil:
		n.c.fail("write", n.path, checkJSON(content))
	default:
		n.start(string(content), content)
	}
	return 0
}
