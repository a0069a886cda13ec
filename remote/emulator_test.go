package remote_test

// Functional tests of every endpoint against the emulator, over real HTTP.

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

const user = "alice"

// setup starts an emulator (demo data, no throttling, unless ecfg says
// otherwise) and a client for it (no client-side limiting, fast retries,
// unless cfg says otherwise).
func setup(t *testing.T, ecfg emulator.Config, mods ...func(*remote.Config)) (*emulator.Emulator, *remote.Client, *httptest.Server) {
	t.Helper()
	ecfg.Username, ecfg.Token = user, testToken
	if ecfg.RateLimit == 0 {
		ecfg.RateLimit = -1
	}
	emu := emulator.New(ecfg)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	cfg := remote.Config{BaseURL: srv.URL, Username: user, Token: testToken,
		RateLimit: -1, RetryBase: time.Millisecond, MaxRetries: 3}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := remote.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkFamilies(t, emu, c) })
	return emu, c, srv
}

// checkFamilies cross-checks the client's endpoint families with the
// emulator's (written independently): every request matched a route (no
// 404 page, no redirect for a missing slash), and the client counted it
// under the family the server throttled it under.
func checkFamilies(t *testing.T, emu *emulator.Emulator, c *remote.Client) {
	known := emulator.Families()
	for key := range emu.Stats().Requests {
		if _, fam, _ := strings.Cut(key, " "); !slices.Contains(known, fam) {
			t.Errorf("emulator counted %q: not an API family", key)
		}
	}
	for _, st := range c.Stats() {
		if !slices.Contains(known, st.Family) {
			t.Errorf("client family %q unknown to the emulator (%v)", st.Family, known)
		}
		for method := range st.Sent {
			if emu.Count(method, st.Family) == 0 {
				t.Errorf("client sent %s %s; the emulator counted none", method, st.Family)
			}
		}
	}
}

func demo() emulator.Config { return emulator.Config{Demo: true} }

// must and must2 unwrap a result in tests; a failure panics, which fails the
// test with a stack trace pointing at the call.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

func wantStatus(t *testing.T, err error, status int, errno syscall.Errno, msgPart string) *remote.APIError {
	t.Helper()
	e := apiErr(t, err)
	if e.Status != status || remote.Errno(err) != errno || !strings.Contains(e.Message, msgPart) {
		t.Fatalf("got %d %q (errno %v), want %d containing %q (errno %v)",
			e.Status, e.Message, remote.Errno(err), status, msgPart, errno)
	}
	return e
}

func TestFiles(t *testing.T) {
	emu, c, srv := setup(t, demo())
	ctx := context.Background()
	home := "/home/" + user

	entries := must(c.ListDir(ctx, home))
	if e := entries["mysite"]; !e.IsDir() || !strings.HasSuffix(e.URL, "/files/path/home/alice/mysite") {
		t.Fatalf("mysite entry %+v", e)
	}
	if e, ok := entries[".bashrc"]; !ok || e.IsDir() {
		t.Fatalf(".bashrc entry %+v in %v", e, entries)
	}
	if _, ok := entries["README.txt"]; !ok {
		t.Fatalf("README.txt missing: %v", entries)
	}

	d := must(c.Download(ctx, home+"/README.txt"))
	got := must(io.ReadAll(d.Body))
	d.Body.Close()
	want, _ := emu.ReadFile(home + "/README.txt")
	if string(got) != string(want) || d.Size != int64(len(want)) {
		t.Fatalf("download: %d bytes (Size %d), want %d", len(got), d.Size, len(want))
	}

	if created := must(c.Upload(ctx, home+"/new/dir/f.txt", strings.NewReader("hello"))); !created {
		t.Fatal("new file not reported created")
	}
	if created := must(c.Upload(ctx, home+"/new/dir/f.txt", strings.NewReader("hello again"))); created {
		t.Fatal("overwrite reported created")
	}
	if b, _ := emu.ReadFile(home + "/new/dir/f.txt"); string(b) != "hello again" {
		t.Fatalf("stored %q", b)
	}

	_, err := c.ListDir(ctx, home+"/new/dir/f.txt")
	if !errors.Is(err, remote.ErrNotDir) || remote.Errno(err) != syscall.ENOTDIR {
		t.Fatalf("ListDir on a file: %v", err)
	}
	_, err = c.ListDir(ctx, home+"/nope")
	wantStatus(t, err, 404, syscall.ENOENT, "No such file or directory: "+home+"/nope")
	_, err = c.Download(ctx, home+"/nope")
	wantStatus(t, err, 404, syscall.ENOENT, "No such file or directory")

	tree := must(c.Tree(ctx, home))
	for _, p := range []string{home + "/mysite/", home + "/mysite/flask_app.py", home + "/new/dir/f.txt"} {
		if !slices.Contains(tree, p) {
			t.Fatalf("tree lacks %s: %v", p, tree)
		}
	}
	if slices.Contains(tree, home+"/.bashrc") {
		t.Fatal("tree includes a dotfile")
	}
	_, err = c.Tree(ctx, home+"/nope")
	wantStatus(t, err, 400, syscall.EINVAL, "does not exist")
	_, err = c.Tree(ctx, home+"/README.txt")
	wantStatus(t, err, 400, syscall.EINVAL, "is not a directory")

	link, created := must2(c.Share(ctx, home+"/README.txt"))
	if !created || !strings.HasPrefix(link, srv.URL+"/user/alice/shares/") {
		t.Fatalf("share: %q created %v", link, created)
	}
	link2, created := must2(c.Share(ctx, home+"/README.txt"))
	if created || link2 != link {
		t.Fatalf("second share: %q created %v", link2, created)
	}
	if u := must(c.SharedURL(ctx, home+"/README.txt")); u != link {
		t.Fatalf("SharedURL %q, want %q", u, link)
	}
	if _, ok := emu.Shares()[home+"/README.txt"]; !ok {
		t.Fatalf("emulator shares: %v", emu.Shares())
	}
	if err := c.Unshare(ctx, home+"/README.txt"); err != nil {
		t.Fatal(err)
	}
	_, err = c.SharedURL(ctx, home+"/README.txt")
	wantStatus(t, err, 404, syscall.ENOENT, "")

	if err := c.Delete(ctx, home+"/new"); err != nil {
		t.Fatal(err)
	}
	if _, ok := emu.ReadFile(home + "/new/dir/f.txt"); ok {
		t.Fatal("recursive delete left a file")
	}
	err = c.Delete(ctx, home+"/new")
	if e := wantStatus(t, err, 404, syscall.ENOENT, "File does not exist"); e.Code != "not_found" {
		t.Fatalf("code %q", e.Code)
	}
	err = c.Delete(ctx, home)
	if e := wantStatus(t, err, 403, syscall.EACCES, "permission"); e.Code != "forbidden" {
		t.Fatalf("code %q", e.Code)
	}
	if _, err := c.ListDir(ctx, "relative/path"); !errors.Is(err, remote.ErrInvalidPath) || remote.Errno(err) != syscall.EINVAL {
		t.Fatalf("relative path: %v", err)
	}
}

// TestPathEncoding round-trips awkward names through upload, listing,
// download, tree, share and delete.
func TestPathEncoding(t *testing.T) {
	emu, c, _ := setup(t, demo())
	ctx := context.Background()
	dir := "/home/" + user + "/odd names #1"
	names := []string{
		"a b.txt", "hash#tag", "what?.py", "100%.txt", "%41%2F", "ünïcødé ✓.md", "日本語",
		".hidden", "..dots", "...", "semi;colon", "plus+sign", "amp&eq=x", "quote\"s'", "tab\tname",
		"back\\slash", "trailing space ", "emoji 😀",
	}
	for _, n := range names {
		p := dir + "/" + n
		if _, err := c.Upload(ctx, p, strings.NewReader("content of "+n)); err != nil {
			t.Fatalf("upload %q: %v", n, err)
		}
		if b, ok := emu.ReadFile(p); !ok || string(b) != "content of "+n {
			t.Fatalf("emulator has %q (%v) for %q", b, ok, p)
		}
	}
	entries := must(c.ListDir(ctx, dir))
	if len(entries) != len(names) {
		t.Fatalf("listing has %d entries, want %d: %v", len(entries), len(names), entries)
	}
	for _, n := range names {
		if _, ok := entries[n]; !ok {
			t.Fatalf("listing lacks %q", n)
		}
		d := must(c.Download(ctx, dir+"/"+n))
		b := must(io.ReadAll(d.Body))
		d.Body.Close()
		if string(b) != "content of "+n {
			t.Fatalf("download %q: %q", n, b)
		}
	}
	tree := must(c.Tree(ctx, dir))
	if !slices.Contains(tree, dir+"/what?.py") || !slices.Contains(tree, dir+"/100%.txt") {
		t.Fatalf("tree: %q", tree)
	}
	link, _ := must2(c.Share(ctx, dir+"/hash#tag"))
	if u := must(c.SharedURL(ctx, dir+"/hash#tag")); u != link {
		t.Fatalf("shared url %q vs %q", u, link)
	}
	for _, n := range names {
		if err := c.Delete(ctx, dir+"/"+n); err != nil {
			t.Fatalf("delete %q: %v", n, err)
		}
	}
	if entries := must(c.ListDir(ctx, dir)); len(entries) != 0 {
		t.Fatalf("left: %v", entries)
	}
}

func TestAuthErrors(t *testing.T) {
	_, _, srv := setup(t, demo())
	ctx := context.Background()
	bad, err := remote.New(remote.Config{BaseURL: srv.URL, Username: user, Token: strings.Repeat("f", 40), RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.ListDir(ctx, "/home/alice")
	wantStatus(t, err, 401, syscall.EACCES, "Invalid token.")

	other, err := remote.New(remote.Config{BaseURL: srv.URL, Username: "mallory", Token: testToken, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.ListWebapps(ctx)
	wantStatus(t, err, 403, syscall.EACCES, "You do not have permission to perform this action.")
}

// TestServerErrorPages exhausts retries on injected faults to see the HTML
// 500 and 503 bodies parsed into short messages.
func TestServerErrorPages(t *testing.T) {
	emu, c, _ := setup(t, emulator.Config{Demo: true, Faults: emulator.Faults{ErrorRate: 1}},
		func(cfg *remote.Config) { cfg.MaxRetries = -1 })
	seen := map[int]bool{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		_, err := c.CPU(context.Background())
		e := apiErr(t, err)
		switch e.Status {
		case 500:
			if e.Message != "Server Error (500)" {
				t.Fatalf("500 message %q", e.Message)
			}
		case 503:
			if e.Message != "HTTP 503" {
				t.Fatalf("503 message %q", e.Message)
			}
		default:
			t.Fatalf("status %d", e.Status)
		}
		if remote.Errno(err) != syscall.EIO {
			t.Fatalf("errno %v", remote.Errno(err))
		}
		seen[e.Status] = true
	}
	if len(seen) != 2 {
		t.Fatalf("saw %v", seen)
	}
	if emu.Stats().Faults == 0 {
		t.Fatal("no faults counted")
	}
}
