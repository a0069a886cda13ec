package control

import "context"

// What writing a control file means and when it takes effect: one policy
// per kind of file, named in its table entry, each opening a handle of its
// own type (handle.go).
//
// Shells ignore errors of close(2) (`echo 25 > hour` exits 0 if only the
// flush fails), so a value is applied during the write(2) that completes
// it, and a refusal fails that write. Flush applies what no write did.
type writePolicy interface {
	// open makes the handle of an open for writing by process pid.
	open(ctx context.Context, f *File, pid uint32) (writer, error)
	// setattr applies a size or times change.
	setattr(ctx context.Context, f *File, s setattr) error
	// replace applies content as a whole new version, without a handle.
	replace(ctx context.Context, f *File, content []byte) error
}

var (
	_ writePolicy = valuePolicy{}
	_ writePolicy = jsonPolicy{}
	_ writePolicy = closePolicy{}
	_ writePolicy = triggerPolicy{}
	_ writePolicy = streamPolicy{}
)

// Parts the policies share: what a truncation without a handle does, and
// how a new version is applied.

// truncNow: a truncation without an open handle (truncate -s) is a new
// version of the file, applied at once (value and JSON files).
type truncNow struct{}

func (truncNow) setattr(ctx context.Context, f *File, s setattr) error {
	return truncate(ctx, f, s, true)
}

// truncHandles: a truncation acts on open handles only (files applied at
// close, or sent as written).
type truncHandles struct{}

func (truncHandles) setattr(ctx context.Context, f *File, s setattr) error {
	return truncate(ctx, f, s, false)
}

// replaceAsIs applies a new version as it is.
type replaceAsIs struct{}

func (replaceAsIs) replace(ctx context.Context, f *File, content []byte) error {
	return f.start("replace", content).wait(ctx)
}

// valuePolicy: one value, applied by a write that leaves the content
// ending in a newline, or by a short write that is the whole content
// (printf 3.11), else at close.
type valuePolicy struct {
	truncNow
	replaceAsIs
}

func (valuePolicy) open(ctx context.Context, f *File, pid uint32) (writer, error) {
	b, err := f.prefilled(ctx, pid)
	return &valueHandle{b}, err
}

// jsonPolicy: a JSON value, applied as soon as the content is one; a short
// write ending in a newline that leaves invalid or incomplete JSON is
// final: EINVAL.
type jsonPolicy struct{ truncNow }

func (jsonPolicy) open(ctx context.Context, f *File, pid uint32) (writer, error) {
	b, err := f.prefilled(ctx, pid)
	return &jsonHandle{b}, err
}

func (jsonPolicy) replace(ctx context.Context, f *File, content []byte) error {
	if err := checkJSON(content); err != nil {
		f.c.fail("write", f.path, err)
		return err
	}
	return f.start("replace", content).wait(ctx)
}

// closePolicy: applied at close (PEM certificates come in several writes),
// unless early says the content a write left looking complete (see
// valueDone) is: apply it now, refuse it now, or wait.
type closePolicy struct {
	truncHandles
	replaceAsIs
	early func(content []byte) (apply bool, err error)
}

func (p closePolicy) open(ctx context.Context, f *File, pid uint32) (writer, error) {
	return &closeHandle{buffered{base: base{f: f}, pid: pid}, p.early}, nil
}

// streamPolicy: each write is sent as it comes (console input).
type streamPolicy struct {
	truncHandles
	replaceAsIs
}

func (streamPolicy) open(ctx context.Context, f *File, pid uint32) (writer, error) {
	return &streamHandle{buffered{base: base{f: f}, pid: pid}}, nil
}

// triggerPolicy: any write, truncation or touch acts, once per open.
type triggerPolicy struct{}

func (triggerPolicy) open(ctx context.Context, f *File, pid uint32) (writer, error) {
	return &triggerHandle{base: base{f: f}, pid: pid}, nil
}

// setattr fires for a size or time change, once for the open it belongs
// to: its own handle's, else the caller's open writers that have not fired
// yet (a SETATTR while an earlier writer that already fired is still open
// is a new touch).
func (triggerPolicy) setattr(ctx context.Context, f *File, s setattr) error {
	if s.size < 0 && !s.times {
		return nil
	}
	f.mu.Lock()
	var hs []*triggerHandle
	for _, w := range s.hs {
		if h, ok := w.(*triggerHandle); ok && (s.own != nil || h.fired == nil) {
			hs = append(hs, h)
		}
	}
	f.mu.Unlock()
	return fire(ctx, f, hs)
}

func (triggerPolicy) replace(ctx context.Context, f *File, content []byte) error {
	return fire(ctx, f, nil)
}

// fire runs a trigger once for the handles hs (one touch opens the file
// and sets its times: both belong to the same action). Without handles it
// fires anew.
func fire(ctx context.Context, f *File, hs []*triggerHandle) error {
	f.mu.Lock()
	var a *attempt
	for _, h := range hs {
		if h.fired != nil {
			a = h.fired
			break
		}
	}
	if a == nil {
		a = f.start("fire", nil)
	}
	for _, h := range hs {
		h.fired = a
	}
	f.mu.Unlock()
	return a.wait(ctx)
}

// truncate applies a size change to the open handles it belongs to;
// without any (truncate -s), now says whether it is applied at once, as a
// new version of the file (a value or JSON file), or not at all (a file
// applied at close, or sent as written).
func truncate(ctx context.Context, f *File, s setattr, now bool) error {
	switch {
	case s.size < 0:
		return nil
	case len(s.hs) > 0:
		for _, h := range s.hs {
			h.Truncate(int(s.size))
		}
		return nil
	case !now:
		return nil
	}
	var cur []byte
	if s.size > 0 {
		b, err := f.content(ctx)
		if err != nil {
			return err
		}
		cur = b
	}
	return f.Replace(ctx, resize(cur, int(s.size)))
}
