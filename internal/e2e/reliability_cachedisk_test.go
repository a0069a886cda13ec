package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tmpfs mounts a tmpfs of size (e.g. "2m") for a cache directory and
// unmounts it after the test (after the mount using it has stopped).
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs (root needed): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// A full cache disk: clean cached copies are evicted to make room for a
// write, and a write that still does not fit fails with ENOSPC (what the
// user can act on), not EIO.
func TestCacheDiskFull(t *testing.T) {
	dir := tmpfs(t, "2m")
	e := start(t, "--cache-dir", dir)
	cached := bytes.Repeat([]byte("cached "), 180<<10) // 1.2 MiB
	e.Emu.WriteFile("/home/alice/cached.bin", cached)
	mustEqual(t, "cached.bin", []byte(readFile(t, filepath.Join(e.Home, "cached.bin"))), cached)

	// Fits once the clean copy of cached.bin is gone.
	if out, code := e.Sh(e.Home, "dd if=/dev/zero of=fits.bin bs=64k count=16 2>&1"); code != 0 {
		t.Fatalf("dd of 1 MiB with 1.2 MiB of clean cache on a 2 MiB disk: exit %d\n%s\npafs log:\n%s", code, out, e.Log())
	}
	waitRemote(t, e, "fits.bin", string(make([]byte, 1<<20)))

	// Does not fit at all.
	out, code := e.Sh(e.Home, "dd if=/dev/zero of=toobig.bin bs=64k count=64 2>&1")
	if code == 0 || !strings.Contains(out, "No space left on device") {
		t.Errorf("dd of 4 MiB on a 2 MiB cache disk: exit %d, want ENOSPC:\n%s", code, out)
	}
	// The mount goes on: once what was written is uploaded (and so may be
	// evicted in turn), the file evicted is read again from the server.
	e.WaitIdle()
	mustEqual(t, "cached.bin after eviction", []byte(readFile(t, filepath.Join(e.Home, "cached.bin"))), cached)
}

// A read-only cache disk. Before an upload starts, nothing is sent (the
// journal cannot say it was), and fsync fails. Turned read-only while a
// finished upload's journal entry is to be removed: the failure is logged
// and shown in the status, and the
// next mount, after the file changed on the server, does not replay the old
// content over it (both versions are kept).
//
// The journal (queue/) gets a disk of its own: pafs keeps cached files open
// for writing, so the kernel would refuse to turn the whole cache directory
// read-only (EBUSY), and the journal is what matters here.
func TestCacheDiskReadOnly(t *testing.T) {
	cacheDir := t.TempDir()
	dir := filepath.Join(cacheDir, "queue")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs (root needed): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	e := start(t, "--cache-dir", cacheDir, "--write-back", "1h")
	e.Emu.WriteFile("/home/alice/f.txt", []byte("version 0\n"))
	p := filepath.Join(e.Home, "f.txt")
	readFile(t, p)
	writeLocal(t, p, []byte("mine\n"))

	// A journal that cannot mark an op as sent sends nothing: fsync fails
	// (the data is not durable anywhere but here), and the file stays queued.
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
		if err := f.Sync(); err == nil {
			t.Error("fsync succeeded although the journal could not record the upload")
		}
		f.Close()
	}
	if got, _ := remote(e, "f.txt"); got != "version 0\n" {
		t.Errorf("sent without a journal mark: the server holds %q", got)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT, ""); err != nil {
		t.Fatalf("remount read-write: %v", err)
	}

	// The disk turns read-only while the upload is under way: it lands, but
	// its journal entry cannot be removed.
	e.Emu.SetLatency(time.Second)
	synced := make(chan struct{})
	go func() { fsync(t, p); close(synced) }()
	e.WaitFor("the upload in flight", 10*time.Second, func() bool {
		for _, op := range e.Status().Queue.Ops {
			if op.InFlight {
				return true
			}
		}
		return false
	})
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	<-synced
	e.Emu.SetLatency(5 * time.Millisecond)
	waitRemote(t, e, "f.txt", "mine\n")
	e.WaitFor("the journal failure in the status", 10*time.Second, func() bool {
		for _, ev := range e.Status().Errors {
			if ev.Op == "journal" && strings.Contains(ev.Message, "read-only") {
				return true
			}
		}
		return false
	})
	if !strings.Contains(e.Log(), "cannot remove the journal entry") {
		t.Errorf("journal failure not logged:\n%s", e.Log())
	}

	e.Emu.WriteFile("/home/alice/f.txt", []byte("theirs\n"))
	e.Kill()
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT, ""); err != nil {
		t.Fatalf("remount read-write: %v", err)
	}
	e.Remount()
	e.WaitIdle()
	checkKeptBoth(t, e, "f.txt", "theirs\n", "mine\n")
	checkConflictsListed(t, e, "f.txt")
}
