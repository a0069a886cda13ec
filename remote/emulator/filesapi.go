package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxUpload is the largest request body the emulator accepts by default (the
// real limit is unknown; the web UI allows 100 MiB, and pafs needs up to 1 GiB to
// work). Quirks.MaxUpload lowers it.
const MaxUpload = 2 << 30

// dirEntry is one value of a directory listing. Nothing else: the API sends no
// size, mtime or mode.
type dirEntry struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// decodeFilePath turns the escaped path after files/path into clean parts. An
// encoded "/" (%2F) inside a name is refused rather than taken as a separator, as
// are NUL and names that are not UTF-8 (they could not round-trip through JSON).
func decodeFilePath(raw string) ([]string, *response) {
	var segs []string
	for _, s := range strings.Split(raw, "/") {
		if s == "" {
			continue // repeated and trailing slashes
		}
		d, err := url.PathUnescape(s)
		msg := ""
		switch {
		case err != nil:
			msg = fmt.Sprintf("Invalid path segment %q.", s)
		case strings.Contains(d, "/"):
			msg = fmt.Sprintf("Invalid file name %q: an encoded \"/\" is not allowed in a name.", d)
		case strings.Contains(d, "\x00") || !utf8.ValidString(d):
			msg = fmt.Sprintf("Invalid file name %q.", d)
		}
		if msg != "" {
			resp := detail(http.StatusBadRequest, msg)
			return nil, &resp
		}
		segs = append(segs, d)
	}
	return splitPath(joinPath(segs)), nil
}

// baseURL is the scheme and host for absolute URLs in listings.
func (e *Emulator) base(r *http.Request) string {
	if e.baseURL != "" {
		return e.baseURL
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// fileURL is the API URL of a path: absolute, segments escaped, no trailing slash.
func (e *Emulator) fileURL(base string, parts []string) string {
	var b strings.Builder
	b.WriteString(base + apiPrefix + url.PathEscape(e.user) + "/" + filesFamily)
	for _, s := range parts {
		b.WriteString("/" + url.PathEscape(s))
	}
	return b.String()
}

func noSuchFile(p string) response {
	return detail(http.StatusNotFound, "No such file or directory: "+p)
}

func (e *Emulator) filesGet(c *call) response {
	parts, bad := decodeFilePath(c.rawFile)
	if bad != nil {
		return *bad
	}
	base := e.base(c.r)
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.lookupLocked(parts)
	if n == nil || e.hidden(parts) {
		return noSuchFile(joinPath(parts))
	}
	if !n.isDir() {
		return response{status: http.StatusOK, ctype: "application/octet-stream", body: n.data}
	}
	listing := make(map[string]dirEntry, len(n.children))
	for name, child := range n.children {
		cp := append(parts[:len(parts):len(parts)], name)
		if e.hidden(cp) {
			continue
		}
		typ := "file"
		if child.isDir() {
			typ = "directory"
		}
		listing[name] = dirEntry{Type: typ, URL: e.fileURL(base, cp)}
	}
	return jsonResponse(http.StatusOK, listing)
}

func writeDenied() response {
	return detail(http.StatusForbidden, "You do not have permission to write to this path.")
}

func (e *Emulator) filesPost(c *call) response {
	parts, bad := decodeFilePath(c.rawFile)
	if bad != nil {
		return *bad
	}
	// Cheap checks first, so a doomed upload is not read into memory.
	if resp := e.checkUpload(parts); resp != nil {
		return *resp
	}
	data, bad := readUpload(c.r, e.maxUpload())
	if bad != nil {
		return *bad
	}
	e.mu.Lock()
	created, err := e.putFileLocked(parts, data, time.Now(), false)
	e.mu.Unlock()
	switch {
	case err != nil:
		return detail(http.StatusBadRequest, err.Error())
	case created:
		return response{status: http.StatusCreated}
	}
	return response{status: http.StatusOK}
}

// checkUpload refuses uploads onto a directory, below a file, or outside the
// writable trees.
func (e *Emulator) checkUpload(parts []string) *response {
	e.mu.Lock()
	defer e.mu.Unlock()
	var resp response
	n := e.root
	for i := range parts {
		if n = n.children[parts[i]]; n == nil {
			break
		}
		if n.isDir() == (i == len(parts)-1) {
			msg := " is a directory"
			if !n.isDir() {
				msg = " is not a directory"
			}
			resp = detail(http.StatusBadRequest, joinPath(parts[:i+1])+msg)
			return &resp
		}
	}
	if !e.writable(parts) {
		resp = writeDenied()
		return &resp
	}
	return nil
}

func missingContent() *response {
	resp := detail(http.StatusBadRequest, "You must provide a file with the name 'content'.")
	return &resp
}

// limitedBody notes when a body without Content-Length (chunked) turns out
// bigger than the limit; the gate refuses a declared length before the view runs.
type limitedBody struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		b.exceeded = true
		return 0, errTooLarge
	}
	p = p[:min(int64(len(p)), b.left+1)]
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		b.exceeded = true
		return n, errTooLarge
	}
	return n, err
}

// readUpload returns the contents of the multipart file part named "content".
// Like Django, it ignores parts without a filename (they are plain fields). A
// body over limit gets the front proxy's 413.
func readUpload(r *http.Request, limit int64) ([]byte, *response) {
	body := &limitedBody{r: r.Body, left: limit}
	r.Body = struct {
		io.Reader
		io.Closer
	}{body, r.Body}
	data, resp := readContent(r, limit)
	if body.exceeded {
		tooLarge := entityTooLarge()
		return nil, &tooLarge
	}
	return data, resp
}

func readContent(r *http.Request, limit int64) ([]byte, *response) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, missingContent()
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, missingContent()
		}
		if err != nil {
			resp := detail(http.StatusBadRequest, "Multipart form parse error - "+err.Error())
			return nil, &resp
		}
		if part.FormName() == "content" && part.FileName() != "" {
			return readPart(part, r.ContentLength, limit)
		}
	}
}

var errTooLarge = errors.New("too large")

// readPart reads a part into one buffer sized from the request's Content-Length,
// which bounds the part, so a big upload is not copied while growing.
func readPart(part io.Reader, contentLength, limit int64) ([]byte, *response) {
	size := int64(512)
	if contentLength > 0 {
		size = min(contentLength, limit+1)
	}
	buf := make([]byte, 0, size)
	err := func() error {
		for {
			if len(buf) == cap(buf) {
				if int64(len(buf)) > limit {
					return errTooLarge
				}
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := part.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}()
	switch {
	case errors.Is(err, errTooLarge) || int64(len(buf)) > limit:
		resp := entityTooLarge()
		return nil, &resp
	case err != nil:
		resp := detail(http.StatusBadRequest, "Upload failed: "+err.Error())
		return nil, &resp
	}
	return buf, nil
}

func (e *Emulator) filesDelete(c *call) response {
	parts, bad := decodeFilePath(c.rawFile)
	if bad != nil {
		return *bad
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.hidden(parts) || e.lookupLocked(parts) == nil {
		return jsonResponse(http.StatusNotFound, map[string]string{"message": "File does not exist", "code": "not_found"})
	}
	if !e.writable(parts) {
		return jsonResponse(http.StatusForbidden,
			map[string]string{"message": "You do not have permission to delete this", "code": "forbidden"})
	}
	e.removeLocked(parts, time.Now())
	p := joinPath(parts)
	for sp := range e.shares {
		if sp == p || strings.HasPrefix(sp, p+"/") {
			delete(e.shares, sp)
		}
	}
	return noContent()
}

// treeLimit is the documented cap of files/tree; longer results are cut silently.
const treeLimit = 1000

func (e *Emulator) treeGet(c *call) response {
	q := c.r.URL.Query()
	if !q.Has("path") {
		return fieldError("path", msgRequired)
	}
	parts := splitPath(q.Get("path"))
	p := joinPath(parts)
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.lookupLocked(parts)
	switch {
	case n == nil || e.hidden(parts):
		return detail(http.StatusBadRequest, p+" does not exist")
	case !n.isDir():
		return detail(http.StatusBadRequest, p+" is not a directory")
	}
	out := make([]string, 0, 64)
	walkLocked(parts, n, func(cp []string, child *node) bool {
		name := cp[len(cp)-1]
		if len(out) >= treeLimit || strings.HasPrefix(name, ".") || e.hidden(cp) {
			return false // dotfiles and everything below a dot directory are left out
		}
		if child.isDir() {
			out = append(out, joinPath(cp)+"/")
		} else {
			out = append(out, joinPath(cp))
		}
		return true
	})
	return jsonResponse(http.StatusOK, out)
}

// shareURL is the host-relative public URL of a shared path; the hash is stable
// per path so tests can predict it.
func (e *Emulator) shareURL(p string) string {
	sum := sha256.Sum256([]byte(e.user + "\x00" + p))
	return "/user/" + e.user + "/shares/" + hex.EncodeToString(sum[:16]) + "/"
}

func (e *Emulator) sharePost(c *call) response {
	f, bad := parseBody(c.r)
	if bad != nil {
		return *bad
	}
	v := newValidator(f)
	raw, _ := v.str("path", true, false)
	if bad := v.result(); bad != nil {
		return *bad
	}
	parts := splitPath(raw)
	p := joinPath(parts)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.hidden(parts) || e.lookupLocked(parts) == nil {
		return noSuchFile(p)
	}
	if u, ok := e.shares[p]; ok {
		return jsonResponse(http.StatusOK, map[string]string{"url": u})
	}
	e.shares[p] = e.shareURL(p)
	return jsonResponse(http.StatusCreated, map[string]string{"url": e.shares[p]})
}

func (e *Emulator) shareGet(c *call) response {
	q := c.r.URL.Query()
	if !q.Has("path") {
		return fieldError("path", msgRequired)
	}
	p := joinPath(splitPath(q.Get("path")))
	e.mu.Lock()
	defer e.mu.Unlock()
	if u, ok := e.shares[p]; ok {
		return jsonResponse(http.StatusOK, map[string]string{"url": u})
	}
	return notFound()
}

// shareDelete unshares; unsharing a path that is not shared also answers 204.
func (e *Emulator) shareDelete(c *call) response {
	q := c.r.URL.Query()
	if !q.Has("path") {
		return fieldError("path", msgRequired)
	}
	p := joinPath(splitPath(q.Get("path")))
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.shares, p)
	return noContent()
}
