package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/pafs/pafs/remote/ratelimit"
)

// Background marks ctx's requests as background work, such as the upload
// queue's: in each endpoint family they wait behind the requests a user is
// waiting for (listings, downloads) and leave those the last slots of every
// rate-limit window (see ratelimit.Background).
func Background(ctx context.Context) context.Context { return ratelimit.Background(ctx) }

// endpoint is an API path relative to the user base (/api/v0/user/{u}/):
// raw for messages, logs and the family; esc, percent-encoded, for the URL.
type endpoint struct {
	raw, esc, family string
}

// ep builds a non-files endpoint from segments. Every segment is escaped
// (a domain or name with a "/" cannot change the route), and the path always
// ends in "/": Django answers a missing slash with a redirect that turns a
// POST into a GET.
func ep(segs ...string) endpoint {
	esc := make([]string, len(segs))
	for i, s := range segs {
		esc[i] = url.PathEscape(s)
	}
	raw := strings.Join(segs, "/") + "/"
	return endpoint{raw: raw, esc: strings.Join(esc, "/") + "/", family: Family(raw)}
}

// idSeg renders a numeric id as a path segment.
func idSeg(id int) string { return strconv.Itoa(id) }

// filesEndpoint builds files/path{p} for an absolute file path. Each segment
// is percent-encoded on its own, so spaces, '#', '?', '%' and non-ASCII names
// survive and '/' stays the separator. Repeated slashes are collapsed; a
// trailing slash given by the caller is kept; no slash is added.
func filesEndpoint(p string) (endpoint, error) {
	clean, err := checkFilePath(p)
	if err != nil {
		return endpoint{}, err
	}
	segs := splitSegments(clean)
	esc := make([]string, len(segs))
	for i, s := range segs {
		esc[i] = url.PathEscape(s)
	}
	raw, escPath := "/"+strings.Join(segs, "/"), "/"+strings.Join(esc, "/")
	if strings.HasSuffix(clean, "/") && len(segs) > 0 {
		raw += "/"
		escPath += "/"
	}
	return endpoint{raw: "files/path" + raw, esc: "files/path" + escPath, family: "files/path"}, nil
}

// checkFilePath rejects paths the API cannot address: relative ones, "." and
// ".." segments (which servers and proxies resolve, even percent-encoded),
// and NUL bytes.
func checkFilePath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w %q: not absolute", ErrInvalidPath, p)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%w %q: contains NUL", ErrInvalidPath, p)
	}
	for s := range strings.SplitSeq(p, "/") {
		if s == "." || s == ".." {
			return "", fmt.Errorf("%w %q: contains %q", ErrInvalidPath, p, s)
		}
	}
	return p, nil
}

// newRequest builds the HTTP request of one attempt.
func (c *Client) newRequest(ctx context.Context, cl *call) (*http.Request, error) {
	u := c.apiBase + cl.ep.esc
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var (
		rd     io.Reader
		length int64
		err    error
	)
	if cl.body != nil {
		if rd, length, err = cl.body.open(); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, rd)
	if err != nil {
		return nil, err
	}
	if cl.body != nil {
		req.ContentLength = length
		req.Header.Set("Content-Type", cl.body.contentType)
		if fixed := cl.body.fixed; fixed != nil {
			// Lets the transport replay the body itself when a reused
			// connection turns out dead before anything was written.
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(fixed)), nil }
		}
	}
	req.Header.Set("Authorization", "Token "+c.token)
	req.Header.Set("User-Agent", c.userAgent)
	if cl.accept != "" {
		req.Header.Set("Accept", cl.accept)
	}
	return req, nil
}

// body produces the request body of each attempt.
type body struct {
	contentType string
	// fixed is the whole body when it is held in memory (JSON, forms).
	fixed []byte
	// upload is set for streamed file uploads.
	upload *uploadBody
}

func jsonBody(v any) (*body, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &body{contentType: "application/json", fixed: b}, nil
}

func formBody(v url.Values) *body {
	return &body{contentType: "application/x-www-form-urlencoded", fixed: []byte(v.Encode())}
}

// open returns a reader for a new attempt and its length (-1 if unknown).
func (b *body) open() (io.Reader, int64, error) {
	if b.upload != nil {
		return b.upload.open()
	}
	return bytes.NewReader(b.fixed), int64(len(b.fixed)), nil
}

// replayable reports whether another attempt can send the same body.
func (b *body) replayable() bool {
	return b.upload == nil || b.upload.replayable()
}

// uploadBody streams a multipart/form-data body with one file part named
// "content" straight from the caller's reader: a fixed prefix (boundary and
// part headers), the data, and the closing boundary. Memory stays flat
// whatever the size. It does the job of an io.Pipe with a writer goroutine,
// without the goroutine, and knows its length when the reader is seekable,
// so the request carries a Content-Length instead of chunked encoding (which
// WSGI servers may not accept).
type uploadBody struct {
	prefix, suffix []byte
	src            io.Reader
	seeker         io.Seeker // nil when src cannot be rewound
	start          int64     // offset of the data in seeker
	last           *guardedReader
	read           atomic.Int64 // bytes taken from a non-seekable src
}

func newUploadBody(filename string, r io.Reader) (*body, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if _, err := mw.CreateFormFile("content", filename); err != nil {
		return nil, err
	}
	prefix := bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := mw.Close(); err != nil {
		return nil, err
	}
	u := &uploadBody{prefix: prefix, suffix: bytes.Clone(buf.Bytes()), src: r}
	if s, ok := r.(io.Seeker); ok {
		// Pipes and terminals implement Seek but fail it: those stream.
		if off, err := s.Seek(0, io.SeekCurrent); err == nil {
			u.seeker, u.start = s, off
		}
	}
	return &body{contentType: mw.FormDataContentType(), upload: u}, nil
}

func (u *uploadBody) open() (io.Reader, int64, error) {
	if u.last != nil {
		// Wait for the previous attempt's transport to stop reading before
		// rewinding under it.
		u.last.stop()
	}
	length, data := int64(-1), int64(-1)
	if u.seeker != nil {
		end, err := u.seeker.Seek(0, io.SeekEnd)
		if err == nil {
			_, err = u.seeker.Seek(u.start, io.SeekStart)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("rewinding upload source: %w", err)
		}
		data = end - u.start
		length = int64(len(u.prefix)) + data + int64(len(u.suffix))
	} else if u.read.Load() > 0 {
		return nil, 0, errors.New("upload source cannot be replayed")
	}
	u.last = &guardedReader{r: io.MultiReader(
		bytes.NewReader(u.prefix),
		&sourceReader{r: u.src, n: &u.read, want: data},
		bytes.NewReader(u.suffix),
	)}
	return u.last, length, nil
}

// replayable: a seekable source always; any other only while not a byte of
// it has been consumed (a failure before the body started, e.g. a refused
// connection).
func (u *uploadBody) replayable() bool {
	if u.seeker != nil {
		return true
	}
	if u.last != nil {
		u.last.stop()
	}
	return u.read.Load() == 0
}

// sourceReader counts what is taken from the caller's reader and marks its
// errors, so that a failing source is not mistaken for a network failure.
type sourceReader struct {
	r    io.Reader
	n    *atomic.Int64
	want int64 // bytes announced in the Content-Length; -1 if none
	got  int64
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n.Add(int64(n))
	s.got += int64(n)
	if err == io.EOF && s.want >= 0 && s.got < s.want {
		err = fmt.Errorf("%w (%d of %d bytes)", ErrSourceShrank, s.got, s.want)
	}
	if err != nil && err != io.EOF {
		err = &sourceError{err}
	}
	return n, err
}

// sourceError is a read error of the upload source.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return "reading upload source: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// guardedReader is the body of one attempt. The transport may still read it
// after Do has returned, until it closes it; stop cuts it off and waits out a
// read in progress, so that a retry can rewind the source safely.
type guardedReader struct {
	mu      sync.Mutex // guards r: held across a Read, so stop waits for it
	r       io.Reader
	stopped atomic.Bool
}

var errBodyStopped = errors.New("request body closed")

func (g *guardedReader) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped.Load() {
		return 0, errBodyStopped
	}
	return g.r.Read(p)
}

// Close is called by the transport; it must not block on a read in progress.
func (g *guardedReader) Close() error {
	g.stopped.Store(true)
	return nil
}

func (g *guardedReader) stop() {
	g.stopped.Store(true)
	g.mu.Lock()
	defer g.mu.Unlock()
}

// uploadFilename is the filename of the multipart part (the server ignores
// it; the base name keeps request logs readable).
// Control characters (other than CR and LF, which mime/multipart encodes)
// are replaced: a multipart header cannot carry them, and a server parsing it
// refuses the whole upload ("malformed MIME header line").
func uploadFilename(p string) string {
	name := path.Base(p)
	if name == "/" || name == "." {
		return "content"
	}
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\r' && r != '\n') || r == 0x7f || r == utf8.RuneError {
			return '_'
		}
		return r
	}, strings.ToValidUTF8(name, "_"))
}
