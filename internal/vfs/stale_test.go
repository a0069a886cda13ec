package vfs_test

import (
	"sync"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// After an outage, a file read over and over (a loop, a tail) shows the
// server's new content once the server answers again. Each read served from
// the stale copy without asking (the server had just been found down)
// extended that hold, so the mount never asked again while the reads went
// on: the model test read the old content for 20 s after the server was back.
func TestStaleReadsDoNotHoldTheServerDown(t *testing.T) {
	e := newEnv(t, time.Hour)
	var mu sync.Mutex
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c, err := remote.New(remote.Config{BaseURL: e.url, Username: "u", Token: "t", RateLimit: -1, RetryBase: time.Millisecond, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	f, err := vfs.New(c, vfs.Options{Home: "/home/u", CacheDir: t.TempDir(), WriteBack: time.Hour,
		DirCacheTime: time.Second, ContentTTL: time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	e.fs = f
	e.emu.WriteFile("/home/u/f", []byte("old"))
	if got := e.read("/home/u/f"); got != "old" {
		t.Fatalf("f reads %q", got)
	}
	advance(2 * time.Second)
	e.emu.SetFaults(emulator.Faults{ErrorRate: 1})
	if got := e.read("/home/u/f"); got != "old" {
		t.Fatalf("with the server failing, f reads %q, want the copy at hand", got)
	}
	e.emu.SetFaults(emulator.Faults{})
	e.emu.WriteFile("/home/u/f", []byte("new"))
	got := ""
	for range 30 { // 30 s of the mount's time, a read a second
		advance(time.Second)
		if got = e.read("/home/u/f"); got == "new" {
			break
		}
	}
	if got != "new" {
		t.Errorf("30 s after the server answers again, f still reads %q, want the server's new content", got)
	}
}
