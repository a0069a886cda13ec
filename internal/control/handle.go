package control

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"syscall"
)

// Handle is an open control file. Its type is chosen at open: readHandle
// for reading, else the handle of the file's write policy (write.go).
type Handle interface {
	// Size is the size of the content the handle holds.
	Size() int
	// Read copies the content at off into dest.
	Read(dest []byte, off int64) int
	// Write takes data at off; what it completes is applied before it
	// returns, and a refusal fails it.
	Write(ctx context.Context, data []byte, off int64) (int, error)
	// Truncate is a size change on this open file.
	Truncate(size int)
	// Flush comes at every close(2): it applies what the writes left
	// unapplied.
	Flush(ctx context.Context) error
	// Release is the last close: what is still unapplied is applied in the
	// background (the kernel ignores release errors; failures go to the
	// log and the status file).
	Release()
}

// writer is a handle open for writing.
type writer interface {
	Handle
	opener() uint32 // the process that opened it
}

var (
	_ Handle = (*readHandle)(nil)
	_ writer = (*valueHandle)(nil)
	_ writer = (*jsonHandle)(nil)
	_ writer = (*closeHandle)(nil)
	_ writer = (*streamHandle)(nil)
	_ writer = (*triggerHandle)(nil)
)

// base is what every handle has: its file, and content (a snapshot to
// read, or what is being written), guarded by the file's mutex.
type base struct {
	f   *File
	buf []byte
}

func (h *base) Size() int {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	return len(h.buf)
}

func (h *base) Read(dest []byte, off int64) int {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	return readAt(h.buf, dest, off)
}

func (h *base) Truncate(size int) {
	h.f.mu.Lock()
	h.buf = resize(h.buf, size)
	h.f.mu.Unlock()
}

// readHandle serves the snapshot taken at open.
type readHandle struct{ base }

func (h *readHandle) Write(ctx context.Context, data []byte, off int64) (int, error) {
	return 0, syscall.EBADF
}
func (h *readHandle) Flush(ctx context.Context) error { return nil }
func (h *readHandle) Release()                        {}

// buffered is the state of a handle that collects what is written and
// applies it once complete; all but the trigger's. Its fields are guarded
// by the file's mutex.
type buffered struct {
	base
	pid     uint32
	dirty   bool     // written or truncated since open
	written bool     // data written since open (not only truncated)
	last    *attempt // the latest application of buf (of a stream: of a write)
}

func (h *buffered) opener() uint32 { return h.pid }

func (h *buffered) Truncate(size int) {
	h.f.mu.Lock()
	h.buf = resize(h.buf, size)
	h.dirty = true
	h.f.mu.Unlock()
}

// put writes data at off into the content and returns a copy of it.
func (h *buffered) put(data []byte, off int64) []byte {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	h.buf = place(h.buf, data, off)
	h.dirty, h.written = true, true
	return bytes.Clone(h.buf)
}

// apply makes the API take content, once: a repeat of the content the
// handle last applied (a flush after the write that applied it, a write
// the kernel retries after a signal) gets that outcome again without a
// request. Only a write (retry) sends again what the API refused, since
// the user may have fixed the cause meanwhile (opened the console in a
// browser); a local refusal stays refused. One application at a time per
// open file, in order.
func (h *buffered) apply(ctx context.Context, key string, content []byte, retry bool) error {
	f := h.f
	for {
		f.mu.Lock()
		a := h.last
		if a != nil && a.key == key && (!retry || !a.finished() || a.err == nil || isInputError(a.err)) {
			f.mu.Unlock()
			return a.wait(ctx)
		}
		if a != nil && !a.finished() {
			f.mu.Unlock()
			if err := a.wait(ctx); errors.Is(err, syscall.EINTR) && ctx.Err() != nil {
				return syscall.EINTR
			}
			continue
		}
		a = f.start(key, content)
		h.last = a
		f.mu.Unlock()
		return a.wait(ctx)
	}
}

// reject records a refusal made without a request, so that close reports
// it again without asking the API.
func (h *buffered) reject(content []byte, err error) error {
	h.f.c.fail("write", h.f.path, err)
	h.f.mu.Lock()
	h.last = failed(string(content), err)
	h.f.mu.Unlock()
	return err
}

// state is what Flush needs: the content, whether anything was written,
// and the last attempt.
func (h *buffered) state() (content []byte, written bool, last *attempt) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	return bytes.Clone(h.buf), h.written, h.last
}

// Flush applies what the writes left unapplied. It comes at every
// close(2), dup2 included: a shell opens `> file` (OPEN, then a truncating
// SETATTR), moves the descriptor to 1 (FLUSH) and only then writes. So a
// flush with nothing written yet applies nothing: a truncation alone is
// applied at release.
func (h *buffered) Flush(ctx context.Context) error {
	content, written, _ := h.state()
	if !written {
		return nil
	}
	return h.apply(ctx, string(content), content, false)
}

// release forgets the handle self (the handle embedding h) and returns
// what is still unapplied: pending is false when the content was applied
// as it is, or never touched.
func (h *buffered) release(self writer) (content []byte, pending bool) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	delete(h.f.writers, self)
	return bytes.Clone(h.buf), h.dirty && (h.last == nil || h.last.key != string(h.buf))
}

// releaseApplying is release, applying what is still unapplied in the
// background.
func (h *buffered) releaseApplying(self writer) {
	if content, pending := h.release(self); pending {
		h.f.start(string(content), content)
	}
}

// valueHandle is an open one-value file (valuePolicy).
type valueHandle struct{ buffered }

func (h *valueHandle) Write(ctx context.Context, data []byte, off int64) (int, error) {
	if err := h.f.checkWrite(data, off); err != nil {
		return 0, err
	}
	content := h.put(data, off)
	if valueDone(content, data) {
		if err := h.apply(ctx, string(content), content, true); err != nil {
			return 0, err
		}
	}
	return len(data), nil
}

func (h *valueHandle) Release() { h.releaseApplying(h) }

// valueDone says whether a write of data, leaving content, ends a value:
// the content ends a line, or the write is short and all there is.
func valueDone(content, data []byte) bool {
	return (len(content) > 0 && content[len(content)-1] == '\n') ||
		(len(data) < stdioBuf && bytes.Equal(content, data))
}

// jsonHandle is an open JSON file (jsonPolicy).
type jsonHandle struct{ buffered }

// Write applies the content as soon as it is one JSON value. The last,
// short write of a writer (stdio writes whole blocks before it), ending in
// a newline, that leaves something else is refused at once.
func (h *jsonHandle) Write(ctx context.Context, data []byte, off int64) (int, error) {
	if err := h.f.checkWrite(data, off); err != nil {
		return 0, err
	}
	content := h.put(data, off)
	if len(data) < stdioBuf && len(data) > 0 && data[len(data)-1] == '\n' {
		if err := checkJSON(content); err != nil {
			return 0, h.reject(content, err)
		}
	}
	if jsonStatus(content) == jsonComplete {
		if err := h.apply(ctx, string(content), content, true); err != nil {
			return 0, err
		}
	}
	return len(data), nil
}

// Flush refuses what is not one JSON value (again, without a new log
// line, if a write refused the same content).
func (h *jsonHandle) Flush(ctx context.Context) error {
	content, written, last := h.state()
	if !written {
		return nil
	}
	if err := checkJSON(content); err != nil {
		if last != nil && last.key == string(content) {
			return last.wait(ctx)
		}
		return h.reject(content, err)
	}
	return h.apply(ctx, string(content), content, false)
}

func (h *jsonHandle) Release() {
	content, pending := h.release(h)
	if !pending {
		return
	}
	if err := checkJSON(content); err != nil {
		h.f.c.fail("write", h.f.path, err)
		return
	}
	h.f.start(string(content), content)
}

// closeHandle is an open file applied at close (closePolicy).
type closeHandle struct {
	buffered
	early func(content []byte) (apply bool, err error) // nil: always wait for close
}

func (h *closeHandle) Write(ctx context.Context, data []byte, off int64) (int, error) {
	if err := h.f.checkWrite(data, off); err != nil {
		return 0, err
	}
	content := h.put(data, off)
	if h.early == nil || !valueDone(content, data) {
		return len(data), nil
	}
	apply, err := h.early(content)
	if err != nil {
		return 0, h.reject(content, err)
	}
	if apply {
		if err := h.apply(ctx, string(content), content, true); err != nil {
			return 0, err
		}
	}
	return len(data), nil
}

func (h *closeHandle) Release() { h.releaseApplying(h) }

// streamHandle is an open console input (streamPolicy): each write is sent
// as it comes, nothing at close.
type streamHandle struct{ buffered }

// Write is keyed by offset: a write the kernel retries after a signal is
// the same input, not more typing.
func (h *streamHandle) Write(ctx context.Context, data []byte, off int64) (int, error) {
	if err := h.f.checkWrite(data, off); err != nil {
		return 0, err
	}
	key := strconv.FormatInt(off, 10) + ":" + string(data)
	if err := h.apply(ctx, key, bytes.Clone(data), true); err != nil {
		return 0, err
	}
	return len(data), nil
}

func (h *streamHandle) Flush(ctx context.Context) error { return nil }

func (h *streamHandle) Release() { h.release(h) }

// triggerHandle is an open trigger (triggerPolicy): its first write or
// SETATTR fires, else its release does.
type triggerHandle struct {
	base
	pid   uint32
	fired *attempt // this open's action; guarded by the file's mutex
}

func (h *triggerHandle) opener() uint32 { return h.pid }

func (h *triggerHandle) Write(ctx context.Context, data []byte, off int64) (int, error) {
	if err := h.f.checkWrite(data, off); err != nil {
		return 0, err
	}
	if err := fire(ctx, h.f, []*triggerHandle{h}); err != nil {
		return 0, err
	}
	return len(data), nil
}

// Flush reports the action of this open, if it fired.
func (h *triggerHandle) Flush(ctx context.Context) error {
	h.f.mu.Lock()
	fired := h.fired
	h.f.mu.Unlock()
	if fired != nil {
		return fired.wait(ctx)
	}
	return nil
}

// Release fires for an open for writing that nothing fired yet (`: > reload`).
func (h *triggerHandle) Release() {
	h.f.mu.Lock()
	delete(h.f.writers, h)
	unfired := h.fired == nil
	h.f.mu.Unlock()
	if unfired {
		h.f.start("fire", nil)
	}
}
