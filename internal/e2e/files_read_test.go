package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
)

// ls -lR of 300 files in 30 directories costs one listing per directory and
// one download per file (its size); find afterwards costs nothing.
func TestLsLRCostsListingsAndSizes(t *testing.T) {
	e := start(t)
	files := seedTree(e, "/home/alice/proj", 30, 10)
	before := e.Counts()
	out := e.MustRun(e.Home, "ls", "-lRa", "proj")
	equalCounts(t, "ls -lR", mounttest.Delta(before, e.Counts()), map[string]int{"GET files/path": 1 + 1 + 30 + len(files)})
	for p := range files {
		if !strings.Contains(out, filepath.Base(p)) {
			t.Fatalf("ls -lR does not show %s", p)
		}
	}
	before = e.Counts()
	found := e.MustRun(e.Home, "find", "proj", "-type", "f")
	if n := len(strings.Fields(found)); n != len(files) {
		t.Errorf("find found %d files, want %d", n, len(files))
	}
	equalCounts(t, "find within the TTL", mounttest.Delta(before, e.Counts()), map[string]int{})
}

// Reading 20 files costs 20 downloads; reading them again within the TTL
// costs nothing. Content is exact although listings carry no sizes.
func TestReadTwiceSecondIsFree(t *testing.T) {
	e := start(t)
	files := seedTree(e, "/home/alice/r", 2, 10)
	e.MustRun(e.Home, "ls", "r/dir00", "r/dir01")
	before := e.Counts()
	for p, want := range files {
		if strings.HasSuffix(p, ".hidden") {
			continue
		}
		mustEqual(t, p, []byte(readFile(t, filepath.Join(e.Dir, "files", p))), want)
	}
	equalCounts(t, "first read", mounttest.Delta(before, e.Counts()), map[string]int{"GET files/path": 20})
	before = e.Counts()
	out := e.MustSh(e.Home, "cat r/dir0*/file*.txt | wc -c")
	var total int
	for p, d := range files {
		if !strings.HasSuffix(p, ".hidden") {
			total += len(d)
		}
	}
	if strings.TrimSpace(out) != strconv.Itoa(total) {
		t.Errorf("cat | wc -c = %s, want %d", out, total)
	}
	equalCounts(t, "second read", mounttest.Delta(before, e.Counts()), map[string]int{})
}

// stat shows a never-read file's true size (the API lists no sizes: pafs
// fetches it), and so it stays once read; grep -r and cp -r out read full
// contents.
func TestSizesBeforeAndAfterRead(t *testing.T) {
	e := start(t)
	data := strings.Repeat("0123456789", 10000)
	e.Emu.WriteFile("/home/alice/big.txt", []byte(data))
	e.Emu.WriteFile("/home/alice/tree/a/x.py", []byte("print('x')\n"))
	st, err := os.Stat(filepath.Join(e.Home, "big.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != 100000 {
		t.Errorf("size before read = %d, want 100000", st.Size())
	}
	if out := e.MustSh(e.Home, "wc -c < big.txt"); strings.TrimSpace(out) != "100000" {
		t.Errorf("wc -c = %q", out)
	}
	if st, _ = os.Stat(filepath.Join(e.Home, "big.txt")); st.Size() != 100000 {
		t.Errorf("size after read = %d, want 100000", st.Size())
	}
	out := t.TempDir()
	e.MustRun(e.Home, "cp", "-r", "tree", out)
	if got := readFile(t, filepath.Join(out, "tree/a/x.py")); got != "print('x')\n" {
		t.Errorf("cp -r out: %q", got)
	}
	if got := e.MustRun(e.Home, "grep", "-r", "print", "tree"); !strings.Contains(got, "tree/a/x.py:print('x')") {
		t.Errorf("grep -r: %q", got)
	}
}

// Changes made elsewhere show within the TTL without remounting.
func TestChangesElsewhereShowAfterTTL(t *testing.T) {
	e := start(t, "--dir-cache-time", "300ms")
	e.Emu.WriteFile("/home/alice/a.txt", []byte("one\n"))
	if got := readFile(t, filepath.Join(e.Home, "a.txt")); got != "one\n" {
		t.Fatalf("read %q", got)
	}
	e.Emu.WriteFile("/home/alice/a.txt", []byte("two, longer\n"))
	e.Emu.WriteFile("/home/alice/b.txt", []byte("new\n"))
	e.Emu.Remove("/home/alice/gone.txt")
	e.WaitFor("new content", 10*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(e.Home, "a.txt"))
		return err == nil && string(b) == "two, longer\n"
	})
	e.WaitFor("new file", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(e.Home, "b.txt"))
		return err == nil
	})
	e.Emu.Remove("/home/alice/b.txt")
	e.WaitFor("deleted file to vanish", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(e.Home, "b.txt"))
		return os.IsNotExist(err)
	})
}

// Names with spaces, #, ?, %, unicode and leading dots round-trip exactly.
func TestOddNamesRoundTrip(t *testing.T) {
	e := start(t)
	e.Emu.WriteFile("/home/alice/odd2/sp ace#?%ü", []byte("x"))
	names := []string{"with space.txt", "hash#tag", "what?.md", "100%.csv", "ünïcødé ✓.txt", ".dotfile", "a+b=c&d", "semi;colon"}
	for _, n := range names {
		writeLocal(t, filepath.Join(e.Home, "odd", n), []byte(n+"\n"))
	}
	e.WaitIdle()
	for _, n := range names {
		if got, ok := remote(e, "odd/"+n); !ok || got != n+"\n" {
			t.Errorf("remote %q = %q, %v", n, got, ok)
		}
	}
	if got := readFile(t, filepath.Join(e.Home, "odd2", "sp ace#?%ü")); got != "x" {
		t.Errorf("read back %q", got)
	}
	ents, err := os.ReadDir(filepath.Join(e.Home, "odd"))
	if err != nil || len(ents) != len(names) {
		t.Errorf("readdir: %v, %d entries", err, len(ents))
	}
}
