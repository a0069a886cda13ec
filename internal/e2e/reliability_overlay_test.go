package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Found by TestReliabilityCrashRounds: a path whose delete is still queued
// (here the old name of a renamed file), then a directory made and removed
// again under that name before anything reached the server. The directory
// never reached the server, so its rmdir sends nothing — but the path must
// stay deleted: before the fix the overlay forgot the pending delete and the
// old file showed up again (from the listing) until the delete ran.
func TestRmdirOverPendingDeleteKeepsPathGone(t *testing.T) {
	r := startRig(t, rigOptions{Parallel: true, Args: []string{"--write-back", "1h"}})
	r.emu.WriteFile(r.remotePath("f"), []byte("old\n"))
	r.MustSh(r.Home, "mv f g && mkdir f && rmdir f")
	if _, err := os.Lstat(filepath.Join(r.Home, "f")); !os.IsNotExist(err) {
		t.Fatalf("after mv f g; mkdir f; rmdir f: stat f = %v, want ENOENT", err)
	}
	if out := r.MustSh(r.Home, "ls"); out != "g\n" {
		t.Fatalf("ls shows %q, want g", out)
	}
	r.Stop()
	if r.emu.Exists(r.remotePath("f")) {
		t.Error("f is still on the server")
	}
	if got, _ := r.emu.ReadFile(r.remotePath("g")); string(got) != "old\n" {
		t.Errorf("g holds %q", got)
	}
}

// A file renamed onto a name whose delete is already on its way to the
// server: the upload under the new name must wait for that delete, or the
// delete lands last and the file is gone from the server (and, once the
// listing is fetched again, from the mount). The upload queue orders ops on
// one path by when they were queued; before the fix, the rename moved the
// old upload (queued earlier than the delete) to the new name.
func TestRenameOntoNameBeingDeleted(t *testing.T) {
	var slowDeletes atomic.Bool
	r := startRig(t, rigOptions{
		Parallel: true,
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.Method == http.MethodDelete && slowDeletes.Load() {
					time.Sleep(time.Second)
				}
				h.ServeHTTP(w, req)
			})
		},
		Args: []string{"--write-back", "20ms"},
	})
	r.emu.WriteFile(r.remotePath("d"), []byte("old d\n"))
	r.MustRun(r.Home, "ls")
	w, err := os.Create(filepath.Join(r.Home, "s")) // its upload is held while open
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("new d\n")
	slowDeletes.Store(true)
	if err := os.Remove(filepath.Join(r.Home, "d")); err != nil {
		t.Fatal(err)
	}
	r.WaitFor("the delete of d to be in flight", 10*time.Second, func() bool {
		return r.Status().Queue.InFlight == 1
	})
	if err := os.Rename(filepath.Join(r.Home, "s"), filepath.Join(r.Home, "d")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	r.waitIdle(t, 20*time.Second)
	if got, ok := r.emu.ReadFile(r.remotePath("d")); !ok || string(got) != "new d\n" {
		t.Fatalf("server: d = %q (exists %v), want the renamed file", got, ok)
	}
}
