package vfs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/vfs"
)

func (e *env) gets() int { return e.emu.Stats().Requests["GET files/path"] }

// A stat that waits for a file's size and is interrupted (Ctrl-C on ls)
// leaves the fetch running; its answer is remembered, so neither the next
// stat nor the read costs a request.
func TestSizeFetchOutlivesInterruptedStat(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.emu.WriteFile("/home/u/a.txt", []byte("hello"))
	e.names("/home/u")
	e.emu.SetLatency(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(e.ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := e.fs.StatExact(ctx, "/home/u/a.txt", false); err != syscall.EINTR {
		t.Fatalf("interrupted stat: %v, want EINTR", err)
	}
	waitFor(t, "the size to be known", func() bool { return e.fs.Stat("/home/u/a.txt", false).SizeKnown })
	e.emu.SetLatency(0)
	before := e.gets()
	a, err := e.fs.StatExact(e.ctx, "/home/u/a.txt", false)
	if err != nil || a.Size != 5 {
		t.Fatalf("stat: %+v, %v; want size 5", a, err)
	}
	if got := e.read("/home/u/a.txt"); got != "hello" {
		t.Fatalf("read %q", got)
	}
	if n := e.gets() - before; n != 0 {
		t.Errorf("stat and read after the interrupted one: %d requests, want 0", n)
	}
}

// A process that lists a directory and stats its entries in order is
// walking it (ls -l, du): after two steps the sizes of the next files are
// fetched ahead, in parallel, without further stats; the whole walk costs
// one request per file. Lookups alone (READDIRPLUS, rm) fetch nothing.
func TestWalkFetchesSizesAhead(t *testing.T) {
	e := newEnv(t, time.Hour)
	const n = 50
	for i := range n {
		e.emu.WriteFile(fmt.Sprintf("/home/u/w/f%02d", i), []byte(fmt.Sprint(i)))
	}
	ctx := vfs.WithCaller(e.ctx, 42)
	if _, err := e.fs.ReadDir(ctx, "/home/u/w"); err != nil {
		t.Fatal(err)
	}
	before := e.gets()
	for i := range n {
		if _, err := e.fs.Lookup(ctx, "/home/u/w", fmt.Sprintf("f%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.gets() - before; got != 0 {
		t.Fatalf("lookups: %d downloads, want 0", got)
	}
	for i := range 2 {
		if _, err := e.fs.StatExact(ctx, fmt.Sprintf("/home/u/w/f%02d", i), false); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "sizes fetched ahead", func() bool { return e.gets()-before == 2+32 })
	for i := range n {
		p := fmt.Sprintf("/home/u/w/f%02d", i)
		a, err := e.fs.StatExact(ctx, p, false)
		if err != nil || a.Size != int64(len(fmt.Sprint(i))) {
			t.Fatalf("stat %s: %+v, %v", p, a, err)
		}
	}
	if got := e.gets() - before; got != n {
		t.Errorf("walk of %d files: %d downloads, want %d", n, got, n)
	}
}

// Stats of a listed directory's entries out of order (python's imports
// stat a few modules after listing a directory) fetch no size ahead.
func TestNoWalkNoSizesAhead(t *testing.T) {
	e := newEnv(t, time.Hour)
	for i := range 20 {
		e.emu.WriteFile(fmt.Sprintf("/home/u/m/f%02d.py", i), []byte("x"))
	}
	ctx := vfs.WithCaller(e.ctx, 42)
	if _, err := e.fs.ReadDir(ctx, "/home/u/m"); err != nil {
		t.Fatal(err)
	}
	before := e.gets()
	for _, name := range []string{"f10.py", "f03.py", "f17.py"} {
		if _, err := e.fs.StatExact(ctx, "/home/u/m/"+name, false); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.gets() - before; got != 3 {
		t.Errorf("three stats: %d downloads, want 3", got)
	}
}

// A large file's size costs one request whose body is read only for an open
// that comes within a moment; otherwise it is dropped, and a later read
// downloads the file then.
func TestLargeBodyDroppedThenReadAgain(t *testing.T) {
	e := newEnv(t, time.Hour)
	big := strings.Repeat("x", 9<<20)
	e.emu.WriteFile("/home/u/big", []byte(big))
	e.names("/home/u")
	before := e.gets()
	a, err := e.fs.StatExact(e.ctx, "/home/u/big", false)
	if err != nil || a.Size != int64(len(big)) {
		t.Fatalf("stat: %+v, %v", a, err)
	}
	waitFor(t, "the body to be dropped", func() bool {
		ents, _ := os.ReadDir(filepath.Join(e.cache, "content"))
		return len(ents) == 0
	})
	if a := e.fs.Stat("/home/u/big", false); !a.SizeKnown || a.Size != int64(len(big)) {
		t.Fatalf("size after the body was dropped: %+v", a)
	}
	h, err := e.fs.Open(e.ctx, "/home/u/big", syscall.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	buf := make([]byte, len(big)+1)
	n, _ := h.Read(buf, 0)
	if n != len(big) || string(buf[:n]) != big {
		t.Fatalf("read %d bytes, want %d", n, len(big))
	}
	if got := e.gets() - before; got != 2 {
		t.Errorf("stat, then a read after the body was dropped: %d downloads, want 2", got)
	}
}
