package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Files API (docs/api.md, "Files"). Paths are absolute file-system paths ("/home/u/x.py").

const jsonType = "application/json"

// ListDir lists a directory: entry name → {type, url}. The API has no sizes
// or times. A path that is a file gives ErrNotDir.
func (c *Client) ListDir(ctx context.Context, path string) (map[string]DirEntry, error) {
	e, err := filesEndpoint(path)
	if err != nil {
		return nil, err
	}
	var out map[string]DirEntry
	_, err = c.do(ctx, &call{
		method: http.MethodGet, ep: e, accept: jsonType, safe: true,
		// The official client tells a listing from file bytes by the JSON
		// content type; don't read a (possibly huge) file to find out.
		check: func(resp *http.Response) error {
			if !strings.Contains(resp.Header.Get("Content-Type"), "json") {
				return ErrNotDir
			}
			return nil
		},
		decode: func(_ *http.Response, body []byte) error {
			var err error
			out, err = decodeListing(body)
			return err
		},
	})
	return out, err
}

// decodeListing decodes a directory listing. Malformed JSON is reported as
// such (the answer was cut: retry); well-formed JSON that is not a listing
// means the path is a file that happens to be served as JSON.
func decodeListing(body []byte) (map[string]DirEntry, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, err
		}
		return nil, ErrNotDir
	}
	out := make(map[string]DirEntry, len(raw))
	for name, v := range raw {
		var e DirEntry
		if decodeJSON(v, &e) != nil || e.Type == "" {
			return nil, ErrNotDir
		}
		out[name] = e
	}
	return out, nil
}

// Download opens a file for reading. The caller must close Body. Errors while
// reading Body carry the method and endpoint; there is no resuming (the API
// documents no Range support), so a failed read means downloading again.
//
// Body ends with io.EOF only for a body the answer proves whole: one of the
// announced Content-Length (net/http fails a shorter one), chunked with its
// terminator, HTTP/2, or gzip with its trailer. A body with no such framing
// ends when the server closes the connection, which a server dying half way
// does too; for it, the client downloads the file a second time when the
// first body ends (one more request) and accepts it only if both agree, and
// fails the read with ErrIncomplete otherwise.
func (c *Client) Download(ctx context.Context, path string) (*Download, error) {
	e, err := filesEndpoint(path)
	if err != nil {
		return nil, err
	}
	cl := &call{method: http.MethodGet, ep: e, safe: true, stream: true}
	resp, err := c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	body := &downloadBody{rc: resp.Body, prefix: cl.method + " " + cl.display()}
	if !provenWhole(resp) {
		body.sum = sha256.New()
		body.verify = func() ([]byte, int64, error) { return c.digest(ctx, cl) }
	}
	d := &Download{
		Body:        body,
		Size:        resp.ContentLength,
		ContentType: resp.Header.Get("Content-Type"),
	}
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			d.ModTime = t
		}
	}
	if d.Size < 0 {
		d.Size = -1
	}
	return d, nil
}

// provenWhole reports whether the end of resp's body proves the body whole
// (net/http then reports a cut body as io.ErrUnexpectedEOF).
func provenWhole(resp *http.Response) bool {
	return resp.ContentLength >= 0 || slices.Contains(resp.TransferEncoding, "chunked") ||
		resp.ProtoMajor >= 2 || resp.Uncompressed
}

// digest downloads cl's file again and returns its hash and length.
func (c *Client) digest(ctx context.Context, cl *call) ([]byte, int64, error) {
	resp, err := c.do(ctx, cl)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: reading body: %w", cl.method, cl.display(), err)
	}
	return h.Sum(nil), n, nil
}

// downloadBody wraps read errors of a download with the request they belong
// to, and checks a body whose end proves nothing (see Download).
type downloadBody struct {
	rc     io.ReadCloser
	prefix string
	verify func() ([]byte, int64, error) // nil: the answer's framing proves the body whole
	sum    hash.Hash                     // of what was read, when verify is set
	n      int64
}

func (d *downloadBody) Read(p []byte) (int, error) {
	n, err := d.rc.Read(p)
	if d.verify != nil {
		d.sum.Write(p[:n])
		d.n += int64(n)
		if err == io.EOF {
			err = d.check()
		}
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: reading body: %w", d.prefix, err)
	}
	return n, err
}

// check compares the body read with a second download of the file.
func (d *downloadBody) check() error {
	verify := d.verify
	d.verify = nil
	h, n, err := verify()
	switch {
	case err != nil:
		return fmt.Errorf("%w: the answer had no length, and downloading it again to check failed: %w", ErrIncomplete, err)
	case n != d.n || !bytes.Equal(h, d.sum.Sum(nil)):
		return fmt.Errorf("%w: the answer had no length and ended after %d bytes; a second download has %d bytes", ErrIncomplete, d.n, n)
	}
	return io.EOF
}

func (d *downloadBody) Close() error { return d.rc.Close() }

// Upload writes r as the whole content of the file at path, creating parent
// directories; created reports a new file (201) rather than an overwrite
// (200). The body is streamed. Failed attempts are retried only when r is an
// io.Seeker (it is rewound to where it was when Upload was called), or when
// nothing had been read from r yet.
func (c *Client) Upload(ctx context.Context, path string, r io.Reader) (created bool, err error) {
	e, err := filesEndpoint(path)
	if err != nil {
		return false, err
	}
	b, err := newUploadBody(uploadFilename(path), r)
	if err != nil {
		return false, err
	}
	resp, err := c.do(ctx, &call{method: http.MethodPost, ep: e, body: b, accept: jsonType, safe: true})
	if err != nil {
		return false, err
	}
	return resp.StatusCode == http.StatusCreated, nil
}

// Delete removes a file or, recursively, a directory.
func (c *Client) Delete(ctx context.Context, path string) error {
	e, err := filesEndpoint(path)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, &call{method: http.MethodDelete, ep: e, accept: jsonType, safe: true})
	return err
}

// Tree lists the files under a directory as absolute paths, directories with
// a trailing "/". The server caps it at 1000 entries without saying so and
// leaves out dotfiles.
func (c *Client) Tree(ctx context.Context, path string) ([]string, error) {
	if _, err := checkFilePath(path); err != nil {
		return nil, err
	}
	var out []string
	_, err := c.do(ctx, &call{
		method: http.MethodGet, ep: ep("files", "tree"), query: url.Values{"path": {path}},
		accept: jsonType, safe: true, decode: decoder(&out),
	})
	return out, err
}

type shareURL struct {
	URL string `json:"url"`
}

// Share makes a file public and returns its public URL (resolved against
// BaseURL); created is false when it was already shared.
func (c *Client) Share(ctx context.Context, path string) (link string, created bool, err error) {
	if _, err := checkFilePath(path); err != nil {
		return "", false, err
	}
	b, err := jsonBody(map[string]string{"path": path})
	if err != nil {
		return "", false, err
	}
	var out shareURL
	// Sharing an already shared file answers 200 with the same URL, so the
	// call is idempotent.
	resp, err := c.do(ctx, &call{
		method: http.MethodPost, ep: ep("files", "sharing"), body: b,
		accept: jsonType, safe: true, decode: decoder(&out),
	})
	if err != nil {
		return "", false, err
	}
	return c.absolute(out.URL), resp.StatusCode == http.StatusCreated, nil
}

// SharedURL returns the public URL of a shared file; a file that is not
// shared gives an *APIError with Status 404.
func (c *Client) SharedURL(ctx context.Context, path string) (string, error) {
	if _, err := checkFilePath(path); err != nil {
		return "", err
	}
	var out shareURL
	_, err := c.do(ctx, &call{
		method: http.MethodGet, ep: ep("files", "sharing"), query: url.Values{"path": {path}},
		accept: jsonType, safe: true, decode: decoder(&out),
	})
	if err != nil {
		return "", err
	}
	return c.absolute(out.URL), nil
}

// Unshare stops sharing a file.
func (c *Client) Unshare(ctx context.Context, path string) error {
	if _, err := checkFilePath(path); err != nil {
		return err
	}
	_, err := c.do(ctx, &call{
		method: http.MethodDelete, ep: ep("files", "sharing"), query: url.Values{"path": {path}},
		accept: jsonType, safe: true,
	})
	return err
}

// absolute resolves a host-relative URL ("/user/u/shares/h/") against the
// site.
func (c *Client) absolute(u string) string {
	if strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") {
		return c.site + u
	}
	return u
}
