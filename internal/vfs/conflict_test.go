package vfs_test

import (
	"strings"
	"testing"
	"time"
)

// Every save is uploaded, even of content pafs remembers the server holding:
// the server may hold something else by now.
func TestEverySaveIsUploaded(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.emu.WriteFile("/home/u/same.txt", []byte("same"))
	if got := e.read("/home/u/same.txt"); got != "same" {
		t.Fatalf("read %q", got)
	}
	e.write("/home/u", "same.txt", "same")
	e.write("/home/u", "new.txt", "fresh")
	e.drain()
	e.write("/home/u", "new.txt", "fresh")
	e.drain()
	if n := e.emu.Count("POST", "files/path"); n != 3 {
		t.Errorf("%d uploads, want 3", n)
	}
}

// conflictCopies returns the server's files named like a conflict copy of p.
func (e *env) conflictCopies(p string) map[string]string {
	out := map[string]string{}
	dir := p[:strings.LastIndex(p, "/")]
	for q, b := range e.emu.Files(dir) {
		if strings.HasPrefix(q, p+".pafs-conflict-") {
			out[q] = string(b)
		}
	}
	return out
}

// A file created here while the same name appeared on the server, and a
// listing showed it before the upload: the upload goes ahead (last writer
// wins), the server's version is kept beside it.
func TestConflictSeenInListingKeepsBoth(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.ttl = time.Millisecond
	e.fs.Close()
	e.open(time.Hour)
	e.write("/home/u", "new.txt", "mine")
	e.emu.WriteFile("/home/u/new.txt", []byte("theirs"))
	time.Sleep(2 * time.Millisecond) // past the listing's lifetime
	e.names("/home/u")
	e.drain()
	if got, _ := e.remote("/home/u/new.txt"); got != "mine" {
		t.Errorf("server: %q, want this mount's save", got)
	}
	cp := e.conflictCopies("/home/u/new.txt")
	if len(cp) != 1 {
		t.Fatalf("conflict copies %v, want the server's version once", cp)
	}
	for q, data := range cp {
		if data != "theirs" {
			t.Errorf("%s: %q, want the server's version", q, data)
		}
		if got := e.read(q); got != "theirs" {
			t.Errorf("%s reads %q here", q, got)
		}
	}
	if c, n := e.fs.Conflicts(); n != 1 || c[0].Path != "/home/u/new.txt" || c[0].Yours != "/home/u/new.txt" {
		t.Errorf("conflicts %+v (%d)", c, n)
	}
}

// An upload left in the journal (pafs stopped before sending it) is checked
// against the server before it is replayed.
func TestReplayedUploadChecksTheServer(t *testing.T) {
	for _, c := range []struct {
		name, server string // "" : the server's file unchanged
		wantServer   string
		wantCopy     string // the replayed version, kept beside; "" none
		wantPosts    int
	}{
		{name: "unchanged", wantServer: "mine", wantPosts: 1},
		{name: "changed since", server: "theirs", wantServer: "theirs", wantCopy: "mine", wantPosts: 1},
		{name: "already there", server: "mine", wantServer: "mine", wantPosts: 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, time.Hour)
			e.emu.WriteFile("/home/u/f.txt", []byte("original"))
			e.read("/home/u/f.txt")
			e.write("/home/u", "f.txt", "mine")
			e.fs.Close()
			if c.server != "" {
				e.emu.WriteFile("/home/u/f.txt", []byte(c.server))
			}
			before := e.emu.Count("POST", "files/path")
			e.open(time.Hour)
			e.drain()
			if got, _ := e.remote("/home/u/f.txt"); got != c.wantServer {
				t.Errorf("server: %q, want %q", got, c.wantServer)
			}
			if got := e.read("/home/u/f.txt"); got != c.wantServer {
				t.Errorf("mount: %q, want %q", got, c.wantServer)
			}
			cp := e.conflictCopies("/home/u/f.txt")
			if c.wantCopy == "" && len(cp) != 0 || c.wantCopy != "" && len(cp) != 1 {
				t.Fatalf("conflict copies %v", cp)
			}
			for q, data := range cp {
				if data != c.wantCopy {
					t.Errorf("%s: %q, want %q", q, data, c.wantCopy)
				}
				if got := e.read(q); got != c.wantCopy {
					t.Errorf("%s reads %q here", q, got)
				}
			}
			if n := e.emu.Count("POST", "files/path") - before; n != c.wantPosts {
				t.Errorf("%d uploads, want %d", n, c.wantPosts)
			}
		})
	}
}
