package vfs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// These tests drive vfs directly (no FUSE) against the emulator over real
// HTTP with the real client.

type env struct {
	t     *testing.T
	emu   *emulator.Emulator
	fs    *vfs.FS
	cache string
	url   string
	ctx   context.Context
	ttl   time.Duration // listing lifetime; 0: the default
}

func newEnv(t *testing.T, writeBack time.Duration) *env {
	t.Helper()
	emu := emulator.New(emulator.Config{Username: "u", Token: "t", RateLimit: -1})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	e := &env{t: t, emu: emu, cache: t.TempDir(), url: srv.URL, ctx: context.Background()}
	e.open(writeBack)
	return e
}

func (e *env) open(writeBack time.Duration) {
	e.t.Helper()
	c, err := remote.New(remote.Config{BaseURL: e.url, Username: "u", Token: "t", RateLimit: -1, RetryBase: time.Millisecond})
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := vfs.New(c, vfs.Options{Home: "/home/u", CacheDir: e.cache, WriteBack: writeBack,
		DirCacheTime: e.ttl, ContentTTL: time.Hour, Spare: func() int { return -1 }})
	if err != nil {
		e.t.Fatal(err)
	}
	e.fs = f
	e.t.Cleanup(f.Close)
}

func (e *env) drain() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	if err := e.fs.Drain(ctx, nil); err != nil {
		e.t.Fatalf("drain: %v", err)
	}
}

func (e *env) write(dir, name, data string) {
	e.t.Helper()
	// The kernel looks a name up before it creates it.
	if _, err := e.fs.Lookup(e.ctx, dir, name); err != nil && err != syscall.ENOENT {
		e.t.Fatalf("lookup %s/%s: %v", dir, name, err)
	}
	h, _, err := e.fs.Create(e.ctx, dir, name, syscall.O_WRONLY, 0o644)
	if err != nil {
		e.t.Fatalf("create %s/%s: %v", dir, name, err)
	}
	if _, err := h.Write([]byte(data), 0); err != nil {
		e.t.Fatal(err)
	}
	h.Release()
}

func (e *env) read(p string) string {
	e.t.Helper()
	h, err := e.fs.Open(e.ctx, p, syscall.O_RDONLY)
	if err != nil {
		e.t.Fatalf("open %s: %v", p, err)
	}
	defer h.Release()
	buf := make([]byte, 1<<20)
	n, err := h.Read(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		e.t.Fatal(err)
	}
	return string(buf[:n])
}

func (e *env) names(dir string) []string {
	e.t.Helper()
	ents, err := e.fs.ReadDir(e.ctx, dir)
	if err != nil {
		e.t.Fatalf("readdir %s: %v", dir, err)
	}
	var out []string
	for _, d := range ents {
		out = append(out, d.Name)
	}
	return out
}

func (e *env) remote(p string) (string, bool) {
	b, ok := e.emu.ReadFile(p)
	return string(b), ok
}

// A directory deleted and created again with new content: the delete runs
// before the uploads into the new directory, whatever the timing.
func TestDeleteThenRecreateKeepsOrder(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.emu.WriteFile("/home/u/d/old.txt", []byte("old"))
	if err := e.fs.Unlink(e.ctx, "/home/u/d", "old.txt"); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Rmdir(e.ctx, "/home/u", "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Mkdir(e.ctx, "/home/u", "d", 0o755); err != nil {
		t.Fatal(err)
	}
	e.write("/home/u/d", "new.txt", "new")
	if got := e.names("/home/u/d"); !slices.Equal(got, []string{"new.txt"}) {
		t.Errorf("local view %v", got)
	}
	e.drain()
	if _, ok := e.remote("/home/u/d/old.txt"); ok {
		t.Error("old.txt survived")
	}
	if got, ok := e.remote("/home/u/d/new.txt"); !ok || got != "new" {
		t.Errorf("new.txt = %q %v", got, ok)
	}
	if n := e.emu.Count("DELETE", "files/path"); n != 1 {
		t.Errorf("%d deletes, want 1 (rm -r collapses)", n)
	}
}

// A chain of renames of a file not yet uploaded is one upload to the last name.
func TestRenameChainOfPendingFile(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.write("/home/u", "a", "data")
	for _, step := range [][2]string{{"a", "b"}, {"b", "c"}, {"c", "d"}} {
		if err := e.fs.Rename(e.ctx, "/home/u", step[0], "/home/u", step[1], 0); err != nil {
			t.Fatal(err)
		}
	}
	e.drain()
	if got := e.emu.Count("POST", "files/path"); got != 1 {
		t.Errorf("%d uploads, want 1", got)
	}
	if got := e.emu.Count("DELETE", "files/path"); got != 0 {
		t.Errorf("%d deletes, want 0", got)
	}
	if got, ok := e.remote("/home/u/d"); !ok || got != "data" {
		t.Errorf("d = %q %v", got, ok)
	}
}

// rename(..., RENAME_NOREPLACE) onto an existing name fails with EEXIST and
// changes nothing; renaming a directory gives EXDEV.
func TestRenameFlags(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.emu.WriteFile("/home/u/x", []byte("x"))
	e.emu.WriteFile("/home/u/y", []byte("y"))
	e.emu.WriteFile("/home/u/dir/f", []byte("f"))
	if err := e.fs.Rename(e.ctx, "/home/u", "x", "/home/u", "y", vfs.RenameNoReplace); err != syscall.EEXIST {
		t.Errorf("noreplace: %v", err)
	}
	if err := e.fs.Rename(e.ctx, "/home/u", "dir", "/home/u", "dir2", 0); err != syscall.EXDEV {
		t.Errorf("dir rename: %v", err)
	}
	if err := e.fs.Rename(e.ctx, "/home/u", "x", "/home/u", "dir", 0); err != syscall.EISDIR {
		t.Errorf("file over dir: %v", err)
	}
	if got := e.read("/home/u/y"); got != "y" {
		t.Errorf("y = %q", got)
	}
}

// Closing without draining and opening again on the same cache directory
// (a crash, for the queue) uploads what was queued, deletes what was deleted.
func TestReopenResumesQueue(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.emu.WriteFile("/home/u/gone.txt", []byte("bye"))
	e.write("/home/u/sub", "kept.txt", "kept")
	if err := e.fs.Unlink(e.ctx, "/home/u", "gone.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Mkdir(e.ctx, "/home/u", "empty", 0o755); err != nil {
		t.Fatal(err)
	}
	e.fs.Close()
	if n := e.emu.Stats().Requests["POST files/path"]; n != 0 {
		t.Fatalf("%d uploads before the crash", n)
	}
	e.open(time.Hour)
	if got := e.read("/home/u/sub/kept.txt"); got != "kept" {
		t.Errorf("after reopen the file reads %q", got)
	}
	e.drain()
	if got, ok := e.remote("/home/u/sub/kept.txt"); !ok || got != "kept" {
		t.Errorf("kept.txt = %q %v", got, ok)
	}
	if _, ok := e.remote("/home/u/gone.txt"); ok {
		t.Error("gone.txt survived")
	}
	if !e.emu.IsDir("/home/u/empty") {
		t.Error("empty dir not created")
	}
}

// A file created and deleted before its upload, and a directory made and
// removed, cost nothing.
func TestShortLivedThingsCostNothing(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.names("/home/u")
	before := e.emu.Stats().Total
	e.write("/home/u", "tmp", "x")
	if err := e.fs.Unlink(e.ctx, "/home/u", "tmp"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Mkdir(e.ctx, "/home/u", "t", 0o755); err != nil {
		t.Fatal(err)
	}
	e.write("/home/u/t", "inner", "y")
	if err := e.fs.Unlink(e.ctx, "/home/u/t", "inner"); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Rmdir(e.ctx, "/home/u", "t"); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if n := e.emu.Stats().Total - before; n != 0 {
		t.Errorf("%d requests, want 0", n)
	}
}

// A directory whose only file is deleted before upload is still created.
func TestMkdirSurvivesCancelledChild(t *testing.T) {
	e := newEnv(t, 50*time.Millisecond)
	if _, err := e.fs.Mkdir(e.ctx, "/home/u", "keep", 0o755); err != nil {
		t.Fatal(err)
	}
	e.write("/home/u/keep", "f", "x")
	if err := e.fs.Unlink(e.ctx, "/home/u/keep", "f"); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if !e.emu.IsDir("/home/u/keep") {
		t.Error("keep was not created")
	}
	if _, ok := e.remote("/home/u/keep/f"); ok {
		t.Error("deleted file was uploaded")
	}
}

// rmdir of a non-empty directory: ENOTEMPTY, nothing queued.
func TestRmdirNotEmpty(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.emu.WriteFile("/home/u/full/.hidden", []byte("h"))
	if err := e.fs.Rmdir(e.ctx, "/home/u", "full"); err != syscall.ENOTEMPTY {
		t.Errorf("rmdir: %v", err)
	}
	e.drain()
	if _, ok := e.remote("/home/u/full/.hidden"); !ok {
		t.Error("content deleted")
	}
}

// Writes made while an upload is in flight are uploaded too.
func TestWriteDuringUpload(t *testing.T) {
	e := newEnv(t, 0)
	e.emu.SetLatency(200 * time.Millisecond)
	h, _, err := e.fs.Create(e.ctx, "/home/u", "f", syscall.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	h.Write([]byte("one"), 0)
	done := make(chan error)
	go func() { done <- h.Fsync(e.ctx) }()
	waitFor(t, "the first upload in flight", func() bool {
		s := e.fs.Queue().Snapshot()
		return len(s) == 1 && s[0].InFlight
	})
	h.Write([]byte("two"), 0)
	<-done
	h.Release()
	e.drain()
	if got, _ := e.remote("/home/u/f"); got != "two" {
		t.Errorf("server has %q, want the last write", got)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A process that lists a directory and then one of its subdirectories is
// walking the tree: the next subdirectories are listed ahead. Another
// process's listing of a subdirectory is no walk.
func TestReadAheadFollowsOneProcessWalk(t *testing.T) {
	e := newEnv(t, time.Hour)
	for _, d := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		e.emu.WriteFile("/home/u/tree/"+d+"/x", []byte("x"))
	}
	listings := func() int { return e.emu.Count("GET", "files/path") }
	walker, other := vfs.WithCaller(e.ctx, 100), vfs.WithCaller(e.ctx, 200)
	if _, err := e.fs.ReadDir(walker, "/home/u/tree"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.ReadDir(other, "/home/u/tree/a"); err != nil {
		t.Fatal(err)
	}
	base := listings()
	if _, err := e.fs.ReadDir(walker, "/home/u/tree/b"); err != nil {
		t.Fatal(err)
	}
	// b, then c, d, e, f ahead (four), not g.
	waitFor(t, "listings ahead", func() bool { return listings() == base+5 })
	for _, d := range []string{"c", "d", "e", "f"} {
		if _, err := e.fs.ReadDir(walker, "/home/u/tree/"+d); err != nil {
			t.Fatal(err)
		}
	}
	if n := listings() - base; n < 5 || n > 6 {
		t.Errorf("%d listings for b..f, want 5 (plus at most one more ahead)", n)
	}
}

// A write after an fsync needs a new upload; if the journal refuses it (a
// full cache disk), the write fails, but its data is in the file the mount
// shows: it must not stay without an upload. It is queued as soon as the
// disk lets it, and reaches the server.
func TestUnjournalledUploadIsQueuedLater(t *testing.T) {
	e := newEnv(t, time.Hour)
	h, _, err := e.fs.Create(e.ctx, "/home/u", "f", syscall.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	h.Write([]byte("one"), 0)
	if err := h.Fsync(e.ctx); err != nil {
		t.Fatal(err)
	}
	// The journal cannot take the next op: its temp name is a directory.
	var last uint64
	for _, st := range e.fs.Queue().Snapshot() {
		last = max(last, st.ID)
	}
	ents, _ := os.ReadDir(filepath.Join(e.cache, "queue"))
	for _, d := range ents {
		var id uint64
		if _, err := fmt.Sscanf(d.Name(), "%d.json", &id); err == nil {
			last = max(last, id)
		}
	}
	blockers := []string{}
	for id := last + 1; id < last+4; id++ {
		b := filepath.Join(e.cache, "queue", fmt.Sprintf("%d.json.tmp", id))
		if err := os.MkdirAll(filepath.Join(b, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		blockers = append(blockers, b)
	}
	if _, err := h.Write([]byte("two"), 3); err == nil {
		t.Error("the write succeeded although the journal refused its upload")
	}
	if got := e.read("/home/u/f"); got != "onetwo" {
		t.Errorf("after the refused write the mount shows %q, want %q", got, "onetwo")
	}
	h.Release()
	for _, b := range blockers {
		os.RemoveAll(b)
	}
	e.drain()
	if got, _ := e.remote("/home/u/f"); got != "onetwo" {
		t.Fatalf("the server holds %q after the disk recovered, while the mount shows %q", got, e.read("/home/u/f"))
	}
}
