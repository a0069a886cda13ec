package vfs_test

import (
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/remote/emulator"
)

// Uploads the server refuses for good (here: 413, over its upload limit)
// are tried once, not for ever: their data is kept (RefusedChanges, across
// restarts), the queue lets go of them, and the mount shows the server's
// state of the path again. A rename whose upload is refused keeps its old
// name; what the server accepts is not held up.
func TestRefusedUploadsSetAside(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.emu.SetQuirks(emulator.Quirks{MaxUpload: 400})
	big := strings.Repeat("b", 1000)
	e.emu.WriteFile("/home/u/old.txt", []byte("server version\n"))
	e.emu.WriteFile("/home/u/huge.txt", []byte(big)) // put there some other way
	e.names("/home/u")
	e.write("/home/u", "small.txt", "fits\n")
	e.write("/home/u", "big.bin", big)
	e.write("/home/u", "old.txt", big+"local")
	_ = e.read("/home/u/huge.txt")
	if err := e.fs.Rename(e.ctx, "/home/u", "huge.txt", "/home/u", "moved.txt", 0); err != nil {
		t.Fatal(err)
	}
	before := e.emu.Stats().Requests["POST files/path"]
	e.drain() // returns: nothing is left to retry
	if n := e.emu.Stats().Requests["POST files/path"] - before; n != 4 {
		t.Errorf("%d uploads, want 4 (one each, no retries)", n)
	}
	if got, _ := e.remote("/home/u/small.txt"); got != "fits\n" {
		t.Errorf("small.txt on the server: %q", got)
	}
	if got, _ := e.remote("/home/u/old.txt"); got != "server version\n" {
		t.Errorf("old.txt on the server: %q", got)
	}
	if got, ok := e.remote("/home/u/huge.txt"); !ok || got != big {
		t.Errorf("the old name of a refused rename went from the server (%v)", ok)
	}
	// The mount shows the server's state again.
	if _, err := e.fs.Lookup(e.ctx, "/home/u", "big.bin"); err != syscall.ENOENT {
		t.Errorf("big.bin: %v, want ENOENT", err)
	}
	if _, err := e.fs.Lookup(e.ctx, "/home/u", "moved.txt"); err != syscall.ENOENT {
		t.Errorf("moved.txt: %v, want ENOENT", err)
	}
	if got := e.read("/home/u/old.txt"); got != "server version\n" {
		t.Errorf("old.txt reads %q", got)
	}
	if got := e.read("/home/u/huge.txt"); got != big {
		t.Errorf("huge.txt reads %d bytes", len(got))
	}
	want := map[string]string{"/home/u/big.bin": big, "/home/u/old.txt": big + "local", "/home/u/moved.txt": big}
	check := func() {
		t.Helper()
		got := map[string]string{}
		for _, r := range e.fs.RefusedChanges() {
			if !r.HasData {
				if r.Kind != "delete" || r.Path != "/home/u/huge.txt" {
					t.Errorf("record %+v", r)
				}
				continue
			}
			if r.Status != 413 || r.Kind != "upload" || r.Name != strings.ReplaceAll(r.Path[1:], "/", "%2F") {
				t.Errorf("record %+v", r)
			}
			f, err := e.fs.OpenRefused(r.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(f)
			f.Close()
			got[r.Path] = string(b)
		}
		if len(got) != len(want) {
			t.Errorf("kept %d refused uploads, want %d", len(got), len(want))
		}
		for p, w := range want {
			if got[p] != w {
				t.Errorf("%s: kept %d bytes, want %d", p, len(got[p]), len(w))
			}
		}
	}
	check()
	if ops := e.fs.Queue().Snapshot(); len(ops) != 0 {
		t.Errorf("still queued: %+v", ops)
	}
	// Kept across restarts, until dismissed.
	e.fs.Close()
	e.open(time.Hour)
	check()
	for _, r := range e.fs.RefusedChanges() {
		if err := e.fs.DismissRefused(r.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.fs.RefusedChanges()); n != 0 {
		t.Errorf("%d left after dismissing them all", n)
	}
	e.drain()
}

// With write-back off, close uploads and returns the refusal's errno; the
// data is kept all the same.
func TestRefusedUploadFailsSyncClose(t *testing.T) {
	e := newEnv(t, 0)
	e.emu.SetQuirks(emulator.Quirks{MaxUpload: 400})
	h, _, err := e.fs.Create(e.ctx, "/home/u", "big.bin", syscall.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Write([]byte(strings.Repeat("x", 500)), 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(e.ctx); !errors.Is(err, syscall.EFBIG) {
		t.Errorf("close = %v, want EFBIG: %+v", err, e.fs.Queue().Snapshot())
	}
	h.Release()
	if rs := e.fs.RefusedChanges(); len(rs) != 1 || rs[0].Size != 500 {
		t.Errorf("refused %+v", rs)
	}
	// Its last close lets go of it, without uploading it again.
	if _, err := e.fs.Lookup(e.ctx, "/home/u", "big.bin"); err != syscall.ENOENT {
		t.Errorf("big.bin after close: %v, want ENOENT", err)
	}
	e.drain()
	if n := e.emu.Stats().Requests["POST files/path"]; n != 1 {
		t.Errorf("%d uploads, want 1", n)
	}
}
