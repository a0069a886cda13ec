package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/remote/emulator"
)

// Odd names round-trip exactly: written through the mount, they reach the
// server under the same name (one name, not a path: a slash lookalike is not
// a separator), list, and read back — after a remount too (from the server,
// not the local cache). Names the API cannot carry fail at once with an
// errno that says why, instead of failing for ever in the upload queue.
func TestReliabilityOddNames(t *testing.T) {
	r := startRig(t, rigOptions{Parallel: true, Args: []string{"--write-back", "20ms"}})
	dir := filepath.Join(r.Home, "names")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	good := []string{
		"line\nbreak.txt", "tab\there", "carriage\rreturn", "trailing space ", " leading space",
		"division∕slash", "fullwidth／slash", "big\u29f8solidus", "back\\slash", "quote\"and'apostrophe",
		"percent%2Fencoded", "%00", "question?mark#hash", "ü-ñ-中文-🙂", "\u200bzero-width", "-dash", "...",
		"control\x10char", "delete\x7fchar", "bell\a",
		strings.Repeat("n", 255), strings.Repeat("é", 127) + "x", // 255 bytes, two-byte runes
	}
	for _, n := range good {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("name="+n), 0o644); err != nil {
			t.Errorf("create %q: %v", n, err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "dir∕with／lookalikes"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeLocal(t, filepath.Join(dir, "dir∕with／lookalikes", "inner"), []byte("inner"))

	// Names the kernel or the API cannot take.
	bad := []struct {
		name string
		want syscall.Errno
	}{
		{strings.Repeat("n", 256), syscall.ENAMETOOLONG},
		{strings.Repeat("é", 128), syscall.ENAMETOOLONG}, // 256 bytes
		{"latin1-\xe9t\xe9", syscall.EILSEQ},             // not UTF-8: no JSON listing can carry it
		{"bad-\xff\xfe", syscall.EILSEQ},
		{".pafs-keep", syscall.EINVAL}, // pafs's own placeholder
	}
	for _, c := range bad {
		err := os.WriteFile(filepath.Join(dir, c.name), []byte("x"), 0o644)
		if !errors.Is(err, c.want) {
			t.Errorf("create %q: %v, want %v", c.name, err, c.want)
		}
		if err := os.Mkdir(filepath.Join(dir, c.name), 0o755); !errors.Is(err, c.want) {
			t.Errorf("mkdir %q: %v, want %v", c.name, err, c.want)
		}
	}
	writeLocal(t, filepath.Join(dir, "plain"), []byte("plain"))
	if err := os.Rename(filepath.Join(dir, "plain"), filepath.Join(dir, bad[2].name)); !errors.Is(err, syscall.EILSEQ) {
		t.Errorf("rename to a non-UTF-8 name: %v, want EILSEQ", err)
	}
	if err := os.Rename(filepath.Join(dir, "plain"), filepath.Join(dir, bad[0].name)); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("rename to a 256-byte name: %v, want ENAMETOOLONG", err)
	}
	if _, err := os.Stat(filepath.Join(dir, bad[0].name)); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("stat of a 256-byte name: %v, want ENAMETOOLONG", err)
	}

	r.waitIdle(t, 30*time.Second)
	if q := r.Status().Queue; q.Failing > 0 {
		t.Errorf("uploads failing: %+v", q.Ops)
	}
	// The server has each name as one entry of names/.
	want := map[string]string{"plain": "plain", "dir∕with／lookalikes/inner": "inner"}
	for _, n := range good {
		want[n] = "name=" + n
	}
	got := map[string]string{}
	for p, b := range r.emu.Files(r.remotePath("names")) {
		got[strings.TrimPrefix(p, r.remotePath("names")+"/")] = string(b)
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("server: %q = %q, want %q", n, got[n], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("server has %d files under names/, want %d: %q", len(got), len(want), sortedKeys(got))
	}

	// From the server, after a remount on a fresh cache.
	r.Stop()
	r2 := startRig(t, rigOptions{Emulator: emulator.Config{Token: r.emu.Token()}})
	for p, b := range r.emu.Files(r.remotePath("names")) {
		r2.emu.WriteFile(p, b)
	}
	ents, err := os.ReadDir(filepath.Join(r2.Home, "names"))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, e := range ents {
		listed = append(listed, e.Name())
	}
	sort.Strings(listed)
	if len(listed) != len(want) { // the directory stands for its file inner
		t.Errorf("remounted: %d entries %q", len(listed), listed)
	}
	for _, n := range good {
		if b, err := os.ReadFile(filepath.Join(r2.Home, "names", n)); err != nil || string(b) != "name="+n {
			t.Errorf("remounted: read %q: %q %v", n, b, err)
		}
	}
}

// A listing from the server (or from something pretending to be it) with
// entries named "..", ".", "", "a/b", "../../etc", or with a NUL: none of
// them shows in the mount, none can be looked up, and nothing outside the
// account is ever requested. Truncated and malformed listings fail the
// listing (EIO, after the retries), without taking the mount down.
func TestReliabilityHostileListings(t *testing.T) {
	var mu sync.Mutex
	var requested []string
	r := startRig(t, rigOptions{
		Parallel: true,
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				mu.Lock()
				requested = append(requested, req.Method+" "+req.URL.Path)
				mu.Unlock()
				p := req.URL.Path
				json := func(body string) {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprint(w, body)
				}
				switch {
				case req.Method != http.MethodGet:
				case strings.HasSuffix(p, "/home/alice/evil/"), strings.HasSuffix(p, "/home/alice/evil"):
					entry := func(typ string) string { return `{"type": "` + typ + `", "url": "x"}` }
					json(`{"..": ` + entry("directory") + `, ".": ` + entry("directory") + `, "": ` + entry("file") +
						`, "a/b": ` + entry("file") + `, "../../etc": ` + entry("directory") + `, "/": ` + entry("directory") +
						`, "nul\u0000name": ` + entry("file") + `, "ok.txt": ` + entry("file") + `}`)
					return
				case strings.HasSuffix(p, "/home/alice/evil/ok.txt"):
					w.Header().Set("Content-Type", "application/octet-stream")
					fmt.Fprint(w, "fine\n")
					return
				case strings.HasSuffix(p, "/home/alice/truncated"):
					json(`{"a": {"type": "file", "url": "x"}, "b": {"ty`)
					return
				case strings.HasSuffix(p, "/home/alice/wrongshape"):
					json(`["a", "b"]`)
					return
				case strings.HasSuffix(p, "/home/alice/badtype"):
					json(`{"a": {"type": 7}, "b": "file"}`)
					return
				}
				h.ServeHTTP(w, req)
			})
		},
		Args: []string{"--retries", "1"},
	})
	r.emu.Mkdir(r.remotePath("evil"))
	r.emu.Mkdir(r.remotePath("truncated"))
	r.emu.Mkdir(r.remotePath("wrongshape"))
	r.emu.Mkdir(r.remotePath("badtype"))
	r.emu.WriteFile(r.remotePath("etc-canary"), []byte("x"))

	evil := filepath.Join(r.Home, "evil")
	ents, err := os.ReadDir(evil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "ok.txt" {
		var names []string
		for _, e := range ents {
			names = append(names, fmt.Sprintf("%q", e.Name()))
		}
		t.Errorf("evil/ lists %v, want only ok.txt", names)
	}
	if got := readFile(t, filepath.Join(evil, "ok.txt")); got != "fine\n" {
		t.Errorf("ok.txt = %q", got)
	}
	for _, n := range []string{"a/b", "a", "etc", "nul"} {
		if _, err := os.Stat(filepath.Join(evil, n)); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("stat evil/%s: %v, want ENOENT", n, err)
		}
	}
	// ".." is the kernel's: the parent, never something the listing says.
	if st, err := os.Stat(filepath.Join(evil, "..")); err != nil || !st.IsDir() {
		t.Errorf("evil/..: %v", err)
	}
	out, code := r.Sh(r.Home, "find evil")
	if code != 0 || out != "evil\nevil/ok.txt\n" {
		t.Errorf("find evil: exit %d\n%s", code, out)
	}
	for _, d := range []string{"truncated", "wrongshape", "badtype"} {
		_, err := os.ReadDir(filepath.Join(r.Home, d))
		if err == nil || !(errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENOTDIR)) {
			t.Errorf("ls %s: %v, want EIO or ENOTDIR", d, err)
		}
	}
	// The mount is still fine.
	writeLocal(t, filepath.Join(r.Home, "after.txt"), []byte("still works\n"))
	if got := readFile(t, filepath.Join(r.Home, "after.txt")); got != "still works\n" {
		t.Errorf("after.txt = %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, req := range requested {
		if i := strings.Index(req, "/files/path"); i >= 0 {
			p := req[i+len("/files/path"):]
			if p != "/home/alice" && !strings.HasPrefix(p, "/home/alice/") && p != "/" && p != "/home" && p != "/home/" {
				t.Errorf("requested outside the home directory: %s", req)
			}
			if strings.Contains(p, "..") || strings.Contains(p, "%2F") || strings.Contains(p, "etc") {
				t.Errorf("a hostile name reached a request: %s", req)
			}
		}
	}
}
