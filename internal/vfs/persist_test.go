package vfs_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pafs/pafs/cache/metastore"
	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// clock is a settable time for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// mountWithStore opens a vfs on cache with its metadata store, as a mount
// does; close it to unmount.
func mountWithStore(t *testing.T, url, cache string, c *clock, ttl time.Duration) *vfs.FS {
	t.Helper()
	cl, err := remote.New(remote.Config{BaseURL: url, Username: "u", Token: "t", RateLimit: -1,
		RetryBase: time.Millisecond, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	st, err := metastore.Open(filepath.Join(cache, "meta.db"), metastore.Options{Account: "u"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := vfs.New(cl, vfs.Options{Home: "/home/u", CacheDir: cache, DirCacheTime: ttl, Now: c.now,
		Store: st, Spare: func() int { return -1 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// persistEnv is an emulator holding /home/u/d/a, a cache directory and a
// clock, for mounts one after another.
func persistEnv(t *testing.T) (*emulator.Emulator, *httptest.Server, string, *clock) {
	emu := emulator.New(emulator.Config{Username: "u", Token: "t", RateLimit: -1})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	emu.WriteFile("/home/u/d/a", []byte("a"))
	return emu, srv, t.TempDir(), &clock{t: time.Unix(1700000000, 0)}
}

func names(t *testing.T, f *vfs.FS, dir string) []string {
	t.Helper()
	ents, err := f.ReadDir(context.Background(), dir)
	if err != nil {
		t.Fatalf("readdir %s: %v", dir, err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name)
	}
	return out
}

// A listing served as last seen during an outage counts as fresh for the
// rest of that mount only: the next mount (the server back) lists again,
// because the store keeps the time it was really fetched.
func TestStaleListingNotFreshAtNextMount(t *testing.T) {
	emu, srv, cache, c := persistEnv(t)

	f := mountWithStore(t, srv.URL, cache, c, time.Minute)
	if got := names(t, f, "/home/u/d"); len(got) != 1 {
		t.Fatalf("first listing: %v", got)
	}
	c.add(2 * time.Minute)
	emu.SetFaults(emulator.Faults{ErrorRate: 1})
	if got := names(t, f, "/home/u/d"); len(got) != 1 {
		t.Fatalf("listing during the outage, as last seen: %v", got)
	}
	f.Close()

	emu.SetFaults(emulator.Faults{})
	emu.WriteFile("/home/u/d/b", []byte("b"))
	c.add(10 * time.Second)
	f = mountWithStore(t, srv.URL, cache, c, time.Minute)
	if got := names(t, f, "/home/u/d"); len(got) != 2 {
		t.Errorf("the next mount took the listing served during the outage for fresh: %v, want a and b", got)
	}
}

// Inode numbers and mtimes are the same at the next mount; a renamed file
// keeps its number at its new name; a new path gets a number no path had.
func TestInodesAndMtimesAcrossMounts(t *testing.T) {
	emu, srv, cache, c := persistEnv(t)
	emu.WriteFile("/home/u/d/b", []byte("b"))
	ctx := context.Background()

	f := mountWithStore(t, srv.URL, cache, c, time.Minute)
	a, err := f.Lookup(ctx, "/home/u/d", "a")
	if err != nil {
		t.Fatal(err)
	}
	c.add(time.Hour)
	b, err := f.Lookup(ctx, "/home/u/d", "b")
	if err != nil {
		t.Fatal(err)
	}
	if a.Ino == 0 || a.Ino == b.Ino || !a.Mtime.Equal(c.now().Add(-time.Hour)) || !b.Mtime.Equal(c.now()) {
		t.Fatalf("a %+v, b %+v", a, b)
	}
	if err := f.Rename(ctx, "/home/u/d", "b", "/home/u/d", "c", 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Drain(ctx, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()

	c.add(time.Hour)
	f = mountWithStore(t, srv.URL, cache, c, time.Minute)
	a2, err := f.Lookup(ctx, "/home/u/d", "a")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := f.Lookup(ctx, "/home/u/d", "c")
	if err != nil {
		t.Fatal(err)
	}
	if a2.Ino != a.Ino || !a2.Mtime.Equal(a.Mtime) {
		t.Errorf("a after a remount: ino %d mtime %v, want %d %v", a2.Ino, a2.Mtime, a.Ino, a.Mtime)
	}
	if c2.Ino != b.Ino {
		t.Errorf("b renamed to c: ino %d, want b's %d", c2.Ino, b.Ino)
	}
	if n := f.Ino("/home/u/d/new"); n == a.Ino || n == b.Ino {
		t.Errorf("a new path got an old number %d", n)
	}
	// The same content downloaded again keeps the mtime.
	h, err := f.Open(ctx, "/home/u/d/a", 0)
	if err != nil {
		t.Fatal(err)
	}
	h.Release()
	c.add(time.Hour)
	if a3 := f.Stat("/home/u/d/a", false); !a3.Mtime.Equal(a.Mtime) || a3.Size != 1 {
		t.Errorf("a after its first download: %+v, want mtime %v", a3, a.Mtime)
	}
}

// A file deleted elsewhere and made again is a new file: a new inode number
// and an mtime of when it was seen again (and the store does not keep the
// records of every name ever seen).
func TestFileMadeAgainElsewhereIsNew(t *testing.T) {
	emu, srv, cache, c := persistEnv(t)
	ctx := context.Background()
	f := mountWithStore(t, srv.URL, cache, c, time.Minute)
	a, err := f.Lookup(ctx, "/home/u/d", "a")
	if err != nil {
		t.Fatal(err)
	}
	emu.Remove("/home/u/d/a")
	c.add(2 * time.Minute)
	if got := names(t, f, "/home/u/d"); len(got) != 0 {
		t.Fatalf("after the delete: %v", got)
	}
	emu.WriteFile("/home/u/d/a", []byte("again"))
	c.add(2 * time.Minute)
	again, err := f.Lookup(ctx, "/home/u/d", "a")
	if err != nil {
		t.Fatal(err)
	}
	if again.Ino == a.Ino || !again.Mtime.After(a.Mtime) {
		t.Errorf("made again: ino %d mtime %v; before: ino %d mtime %v", again.Ino, again.Mtime, a.Ino, a.Mtime)
	}
}
