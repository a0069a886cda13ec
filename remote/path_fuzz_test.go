package remote_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// inProcess is a transport that hands each request to an http.Handler in
// the same process (no sockets: fast enough for fuzzing), and remembers the
// escaped path of the last request.
type inProcess struct {
	h    http.Handler
	mu   sync.Mutex
	last string
}

func (p *inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	p.mu.Lock()
	p.last = req.URL.EscapedPath()
	p.mu.Unlock()
	sreq := httptest.NewRequest(req.Method, req.URL.String(), req.Body)
	sreq.Header = req.Header.Clone()
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, sreq)
	return rec.Result(), nil
}

// FuzzFilesPathRoundTrip: the client's URL for a file path, decoded by an
// independent implementation — the emulator, which parses the escaped path
// one segment at a time like the real server — names exactly the file the
// client meant: same segments, none lost, merged or split, nothing escaping
// the home directory. Paths the client refuses ("." and ".." segments, NUL)
// send nothing; names that are not UTF-8 are refused by the server (400),
// never stored under another name.
func FuzzFilesPathRoundTrip(f *testing.F) {
	for _, s := range []string{
		"x.py", "a b.txt", "#tag?q=1", "100%", "100%25", "%2F", "a%2Fb", "ü ✓", ".bashrc", "dir/sub/f",
		"a//b", "trailing/", "line\nbreak", "tab\t", "∕lookalike／", "..a", "a..", "...", ".", "..", "a/../b",
		"a/./b", "nul\x00", "\xff\xfe", "semi;colon", "a+b=c&d", "back\\slash", "quote\"", "<>|*", "~user",
		strings.Repeat("x", 300), "%", "%%", "%zz", "?", "#", "a?b#c", " ", "\u200b", "🙂",
	} {
		f.Add(s, []byte("data"))
	}
	emu := emulator.New(emulator.Config{Username: "u", Token: testToken, RateLimit: -1})
	tr := &inProcess{h: emu}
	c, err := remote.New(remote.Config{BaseURL: "http://127.0.0.1:1", Username: "u", Token: testToken,
		RateLimit: -1, MaxRetries: -1, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		emu.Reset(false)
		tr.last = ""
		p := "/home/u/" + name
		var segs []string
		for s := range strings.SplitSeq(p, "/") {
			if s != "" {
				segs = append(segs, s)
			}
		}
		if len(segs) < 3 {
			return // the home directory itself
		}
		_, err := c.Upload(ctx, p, bytes.NewReader(data))
		refused := false
		for _, s := range segs {
			if s == "." || s == ".." || strings.ContainsRune(s, 0) {
				refused = true
			}
		}
		if refused {
			if !errors.Is(err, remote.ErrInvalidPath) || tr.last != "" {
				t.Fatalf("%q: err %v, request %q; want ErrInvalidPath and no request", p, err, tr.last)
			}
			return
		}
		// What went on the wire, decoded segment by segment.
		wire := strings.TrimPrefix(tr.last, "/api/v0/user/u/files/path")
		var got []string
		for s := range strings.SplitSeq(wire, "/") {
			if s == "" {
				continue
			}
			d, derr := url.PathUnescape(s)
			if derr != nil {
				t.Fatalf("%q: the wire path %q has a bad escape: %v", p, wire, derr)
			}
			got = append(got, d)
		}
		if strings.Join(got, "\x00") != strings.Join(segs, "\x00") {
			t.Fatalf("%q: the wire path %q decodes to %q, want %q", p, wire, got, segs)
		}
		for _, s := range segs {
			if !utf8.ValidString(s) {
				if remote.StatusOf(err) != http.StatusBadRequest || len(emu.Files("/")) != 0 {
					t.Fatalf("%q: not UTF-8: err %v, files %v; want a 400 and nothing stored", p, err, emu.Files("/"))
				}
				return
			}
		}
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		clean := "/" + strings.Join(segs, "/")
		files := emu.Files("/")
		if len(files) != 1 || !bytes.Equal(files[clean], data) {
			keys := make([]string, 0, len(files))
			for k := range files {
				keys = append(keys, k)
			}
			t.Fatalf("%q: the server holds %q, want only %q", p, keys, clean)
		}
		parent := "/" + strings.Join(segs[:len(segs)-1], "/")
		ents, err := c.ListDir(ctx, parent)
		if err != nil {
			t.Fatalf("list %q: %v", parent, err)
		}
		if _, ok := ents[segs[len(segs)-1]]; !ok || len(ents) != 1 {
			t.Fatalf("list %q: %v, want just %q", parent, ents, segs[len(segs)-1])
		}
	})
}
