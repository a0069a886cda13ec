package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
)

// Files that tools take the size of from stat before they read them. Every
// test seeds them on the server and never reads them through the mount
// first: a size pafs made up (0) would be stored by git and tar as an empty
// file.
func seedSized(e *mounttest.Env, dir string) map[string][]byte {
	files := map[string][]byte{
		"a.txt":        []byte("alpha\n"),
		"b.py":         []byte(strings.Repeat("print('hello')\n", 300)),
		"empty":        nil,
		"sub/c.md":     []byte(strings.Repeat("# c\n", 2000)),
		"sub/deep/d.x": []byte("d"),
	}
	for rel, b := range files {
		e.Emu.WriteFile("/home/alice/"+dir+"/"+rel, b)
	}
	return files
}

// git add of never-read files stores the server's bytes: git takes a file's
// size from lstat and reads that many bytes.
func TestSizesGitAddStoresServerBytes(t *testing.T) {
	e := start(t)
	files := seedSized(e, "site")
	repo := t.TempDir()
	git := func(args ...string) string {
		return e.MustRun(e.Home, "git", append([]string{"--git-dir=" + repo + "/.git", "--work-tree=site"}, args...)...)
	}
	e.MustRun(repo, "git", "init", "-q")
	git("add", "-A")
	git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "site")
	for rel, want := range files {
		got := git("show", "HEAD:"+rel)
		mustEqual(t, "git show HEAD:"+rel, []byte(got), want)
	}
	if out := git("status", "--porcelain"); out != "" {
		t.Errorf("git status after the commit: %q, want clean", out)
	}
}

// tar c of never-read files, then tar x elsewhere, gives the server's bytes.
func TestSizesTarRoundTrip(t *testing.T) {
	e := start(t)
	files := seedSized(e, "site")
	out := t.TempDir()
	tarball := filepath.Join(t.TempDir(), "site.tar")
	e.MustRun(e.Home, "tar", "cf", tarball, "site")
	e.MustRun(out, "tar", "xf", tarball)
	for rel, want := range files {
		got, err := os.ReadFile(filepath.Join(out, "site", rel))
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "tar x "+rel, got, want)
	}
}

// du -b and find -size see the true sizes of never-read files, and so do
// test -s and stat.
func TestSizesDuFindTest(t *testing.T) {
	e := start(t)
	files := seedSized(e, "site")
	// du -ab lists every file with its apparent size.
	for _, line := range strings.Split(strings.TrimSpace(e.MustRun(e.Home, "du", "-ab", "site")), "\n") {
		n, p, _ := strings.Cut(line, "\t")
		rel := strings.TrimPrefix(p, "site/")
		want, ok := files[rel]
		if !ok {
			continue // a directory
		}
		if n != strconv.Itoa(len(want)) {
			t.Errorf("du -b %s = %s, want %d", rel, n, len(want))
		}
	}
	var bigger []string
	for rel, b := range files {
		if len(b) > 100 {
			bigger = append(bigger, "site/"+rel)
		}
	}
	got := strings.Fields(e.MustRun(e.Home, "find", "site", "-type", "f", "-size", "+100c"))
	slices.Sort(got)
	slices.Sort(bigger)
	if !slices.Equal(got, bigger) {
		t.Errorf("find -size +100c = %v, want %v", got, bigger)
	}
	if _, code := e.Sh(e.Home, "test -s site/a.txt"); code != 0 {
		t.Errorf("test -s site/a.txt: false, want true")
	}
	if _, code := e.Sh(e.Home, "test -s site/empty"); code == 0 {
		t.Errorf("test -s site/empty: true, want false")
	}
	if out := e.MustRun(e.Home, "stat", "-c", "%s", "site/sub/c.md"); strings.TrimSpace(out) != strconv.Itoa(len(files["sub/c.md"])) {
		t.Errorf("stat -c %%s = %s, want %d", out, len(files["sub/c.md"]))
	}
}

// Listing names costs listings only: find -name and ls without -l of a cold
// tree never pay for a size.
func TestSizesNamesOnlyCostListings(t *testing.T) {
	e := start(t)
	seedTree(e, "/home/alice/proj", 5, 8)
	seedTree(e, "/home/alice/other", 1, 30)
	before := e.Counts()
	out := e.MustRun(e.Home, "find", "proj", "-name", "file0*")
	if n := len(strings.Fields(out)); n != 5*8 {
		t.Errorf("find -name found %d files, want %d", n, 5*8)
	}
	// home, proj, its five directories.
	equalCounts(t, "find -name", mounttest.Delta(before, e.Counts()), map[string]int{"GET files/path": 1 + 1 + 5})

	before = e.Counts()
	out = e.MustRun(e.Home, "ls", "other/dir00")
	if n := len(strings.Fields(out)); n != 30 {
		t.Errorf("ls shows %d names, want 30", n)
	}
	equalCounts(t, "ls", mounttest.Delta(before, e.Counts()), map[string]int{"GET files/path": 2})
}

// ls -l of a cold directory of N files costs its listings and one download
// per file, and the cat that usually follows costs nothing more.
func TestSizesLsLOneRequestPerFile(t *testing.T) {
	e := start(t)
	const n = 40
	want := map[string]string{}
	for i := range n {
		data := strings.Repeat(fmt.Sprintf("line %d\n", i), i+1)
		e.Emu.WriteFile(fmt.Sprintf("/home/alice/cold/f%02d.txt", i), []byte(data))
		want[fmt.Sprintf("f%02d.txt", i)] = data
	}
	before := e.Counts()
	out := e.MustRun(e.Home, "ls", "-l", "cold")
	equalCounts(t, "ls -l", mounttest.Delta(before, e.Counts()), map[string]int{"GET files/path": 2 + n})
	shown := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 {
			continue
		}
		if data, ok := want[f[8]]; ok {
			shown++
			if f[4] != strconv.Itoa(len(data)) {
				t.Errorf("ls -l shows %s with %s bytes, want %d", f[8], f[4], len(data))
			}
		}
	}
	if shown != n {
		t.Errorf("ls -l shows %d of the %d files:\n%s", shown, n, out)
	}
	before = e.Counts()
	for name, data := range want {
		if got := readFile(t, filepath.Join(e.Home, "cold", name)); got != data {
			t.Fatalf("cat %s = %q, want %q", name, got, data)
		}
	}
	equalCounts(t, "cat after ls -l", mounttest.Delta(before, e.Counts()), map[string]int{})
	before = e.Counts()
	e.MustRun(e.Home, "ls", "-l", "cold")
	equalCounts(t, "ls -l again", mounttest.Delta(before, e.Counts()), map[string]int{})
}

// A large file's size costs one request whose body is not read: answering
// ls must not download it. Reading it downloads it.
func TestSizesLargeFileStopsEarly(t *testing.T) {
	e := start(t)
	big := strings.Repeat("0123456789abcdef", 2<<20) // 32 MiB
	e.Emu.WriteFile("/home/alice/big.bin", []byte(big))
	before := e.Counts()
	out := e.MustRun(e.Home, "stat", "-c", "%s", "big.bin")
	if strings.TrimSpace(out) != strconv.Itoa(len(big)) {
		t.Errorf("stat -c %%s = %s, want %d", out, len(big))
	}
	equalCounts(t, "stat", mounttest.Delta(before, e.Counts()), map[string]int{"GET files/path": 2})
	var cached int64
	filepath.Walk(filepath.Join(e.CacheDir, "content"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			cached += fi.Size()
		}
		return nil
	})
	if cached >= int64(len(big)) {
		t.Errorf("the content cache holds %d bytes after a stat; the body should not have been kept", cached)
	}
	if got := readFile(t, filepath.Join(e.Home, "big.bin")); got != big {
		t.Errorf("read back %d bytes, want %d", len(got), len(big))
	}
}

// --sizes=lazy shows never-read files as empty, and says so when one turns
// out not to be.
func TestSizesLazyShowsZeroThenNotice(t *testing.T) {
	e := start(t, "--sizes=lazy")
	e.Emu.WriteFile("/home/alice/notes.txt", []byte("not empty\n"))
	before := e.Counts()
	if out := e.MustRun(e.Home, "stat", "-c", "%s", "notes.txt"); strings.TrimSpace(out) != "0" {
		t.Errorf("lazy stat -c %%s = %s, want 0", out)
	}
	equalCounts(t, "lazy stat", mounttest.Delta(before, e.Counts()), map[string]int{"GET files/path": 1})
	if got := readFile(t, filepath.Join(e.Home, "notes.txt")); got != "not empty\n" {
		t.Fatalf("read %q", got)
	}
	if out := e.MustRun(e.Home, "stat", "-c", "%s", "notes.txt"); strings.TrimSpace(out) != "10" {
		t.Errorf("stat after read = %s, want 10", out)
	}
	e.WaitFor("a notice in the status", 10*time.Second, func() bool {
		for _, n := range e.Status().Notices {
			if strings.HasSuffix(n.Path, "/notes.txt") && strings.Contains(n.Message, "10 bytes") {
				return true
			}
		}
		return false
	})
	if !strings.Contains(e.Log(), "notes.txt") {
		t.Errorf("the log does not mention notes.txt:\n%s", e.Log())
	}
}

// cat of a large never-read file costs one download: open(2) asks for the
// attributes first, and the body fetched for the size goes on for the read.
func TestSizesLargeFileReadOnce(t *testing.T) {
	e := start(t)
	big := strings.Repeat("fedcba9876543210", 1<<20) // 16 MiB
	e.Emu.WriteFile("/home/alice/big.bin", []byte(big))
	e.MustRun(e.Home, "ls")
	before := e.Counts()
	if got := readFile(t, filepath.Join(e.Home, "big.bin")); got != big {
		t.Errorf("read back %d bytes, want %d", len(got), len(big))
	}
	equalCounts(t, "cat", mounttest.Delta(before, e.Counts()), map[string]int{"GET files/path": 1})
}
