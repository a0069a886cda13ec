package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// The API's delete of a directory is recursive. A file added on the server
// (a task's output, a save in the web editor) after the mount listed the
// directory is in no cached listing; rm -r must not delete it with the
// directory. Before the fix, rm -r succeeded and its one recursive delete
// took the new file with it.
func TestRmRKeepsServerFilesNotSeen(t *testing.T) {
	e := start(t, "--dir-cache-time", "1m")
	e.Emu.WriteFile("/home/alice/junk/a.txt", []byte("a\n"))
	e.Emu.WriteFile("/home/alice/junk/sub/b.txt", []byte("b\n"))
	e.MustRun(e.Home, "ls", "-R", "junk")
	e.Emu.WriteFile("/home/alice/junk/sub/new.txt", []byte("made elsewhere\n"))
	before := e.Counts()
	out, code := e.Run(e.Home, "rm", "-r", "junk")
	if code == 0 || !strings.Contains(out, "not empty") {
		t.Errorf("rm -r junk: exit %d %q, want ENOTEMPTY", code, out)
	}
	e.WaitIdle()
	if got, ok := remote(e, "junk/sub/new.txt"); got != "made elsewhere\n" {
		t.Fatalf("the file added on the server: %q (exists %v)", got, ok)
	}
	for _, rel := range []string{"junk/a.txt", "junk/sub/b.txt"} {
		if _, ok := remote(e, rel); ok {
			t.Errorf("%s, removed by rm -r, is still on the server", rel)
		}
	}
	if got := e.MustSh(e.Home, "find junk | sort"); got != "junk\njunk/sub\njunk/sub/new.txt\n" {
		t.Errorf("the mount shows %q", got)
	}
	// rmdir junk/sub lists it afresh and fails (rm then leaves junk alone);
	// the two files rm removed go one delete each.
	equalCounts(t, "rm -r", mounttest.Delta(before, e.Counts()),
		map[string]int{"GET files/path": 1, "DELETE files/path": 2})
}

// rmdir of a directory that looks empty in a cached listing but holds a
// file on the server now: ENOTEMPTY, and nothing is deleted. Before the fix
// rmdir succeeded and the recursive delete took the file.
func TestRmdirSeesServerFileAddedSinceListing(t *testing.T) {
	e := start(t, "--dir-cache-time", "1m")
	e.Emu.Mkdir("/home/alice/empty")
	if out := e.MustRun(e.Home, "ls", "empty"); out != "" {
		t.Fatalf("ls empty: %q", out)
	}
	e.Emu.WriteFile("/home/alice/empty/new.txt", []byte("made elsewhere\n"))
	before := e.Counts()
	if err := syscall.Rmdir(filepath.Join(e.Home, "empty")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir empty: %v, want ENOTEMPTY", err)
	}
	e.WaitIdle()
	if got, _ := remote(e, "empty/new.txt"); got != "made elsewhere\n" {
		t.Fatalf("the file added on the server: %q", got)
	}
	equalCounts(t, "rmdir", mounttest.Delta(before, e.Counts()), map[string]int{"GET files/path": 1})
	if out := e.MustRun(e.Home, "ls", "empty"); out != "new.txt\n" {
		t.Errorf("after rmdir, ls empty: %q", out)
	}
}

// rm -r succeeds, and a file appears on the server in the tree before the
// queued delete runs (write-back delay). The delete lists the tree afresh
// first: it deletes what rm removed, one by one, keeps the new file, and
// the directory shows again with only that file. Before the fix the one
// recursive delete took the new file.
func TestRmRKeepsFileAddedBeforeTheDeleteRuns(t *testing.T) {
	e := start(t, "--dir-cache-time", "1m", "--write-back", "1s")
	e.Emu.WriteFile("/home/alice/junk/a.txt", []byte("a\n"))
	e.Emu.WriteFile("/home/alice/junk/sub/b.txt", []byte("b\n"))
	e.MustRun(e.Home, "ls", "-R", "junk")
	before := e.Counts()
	e.MustRun(e.Home, "rm", "-r", "junk")
	if q := e.Status().Queue; q.Pending != 1 || q.InFlight != 0 {
		t.Fatalf("after rm -r: queue %+v, want one delete waiting", q)
	}
	e.Emu.WriteFile("/home/alice/junk/sub/late.txt", []byte("made elsewhere\n"))
	e.WaitIdle()
	if got, _ := remote(e, "junk/sub/late.txt"); got != "made elsewhere\n" {
		t.Fatalf("the file added on the server: %q", got)
	}
	for _, rel := range []string{"junk/a.txt", "junk/sub/b.txt"} {
		if _, ok := remote(e, rel); ok {
			t.Errorf("%s, removed by rm -r, is still on the server", rel)
		}
	}
	// The kernel may remember for a second that junk was removed.
	e.WaitFor("junk to show again", 10*time.Second, func() bool {
		out, _ := e.Sh(e.Home, "find junk | sort")
		return out == "junk\njunk/sub\njunk/sub/late.txt\n"
	})
	kept := false
	for _, ev := range e.Status().Errors {
		kept = kept || (ev.Path == "/home/alice/junk" && strings.Contains(ev.Message, "late.txt"))
	}
	if !kept {
		t.Errorf("no notice of the kept file in the status: %+v", e.Status().Errors)
	}
	// rmdir: one fresh listing each of junk/sub and junk; the delete: junk
	// and junk/sub listed again, then a.txt and sub/b.txt deleted apart.
	equalCounts(t, "rm -r", mounttest.Delta(before, e.Counts()),
		map[string]int{"GET files/path": 4, "DELETE files/path": 2})
}

// rm -r of a directory made here while the uploads of its files are in
// flight (item 5 of issue 10). The deletes of the files wait for their
// uploads; the directory's removal must not cancel them (before the fix it
// did, and the files landed and came back), and rm -rf must never fail with
// ENOTEMPTY because an upload landed between unlink and rmdir.
func TestRmRNewDirWithUploadsInFlight(t *testing.T) {
	for _, c := range []struct {
		name      string
		latency   time.Duration
		writeBack string
		rm        string
		rounds    int
	}{
		{"rm -r at 1s latency", time.Second, "20ms", "rm -r nd", 1},
		{"rm -rf at 200ms latency", 200 * time.Millisecond, "300ms", "rm -rf nd", 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			const ttl = 300 * time.Millisecond
			r := startRig(t, rigOptions{Parallel: true, Emulator: emulator.Config{Latency: c.latency},
				Args: []string{"--write-back", c.writeBack, "--dir-cache-time", ttl.String(), "--cache-ttl", ttl.String()}})
			r.MustRun(r.Home, "ls")
			for round := 0; round < c.rounds; round++ {
				r.MustSh(r.Home, "mkdir nd && echo 1 > nd/one && echo 2 > nd/two")
				r.WaitFor("an upload into nd to be in flight", 10*time.Second, func() bool {
					for _, op := range r.Status().Queue.Ops {
						if op.Kind == "upload" && op.InFlight && strings.HasPrefix(op.Path, r.remotePath("nd/")) {
							return true
						}
					}
					return false
				})
				// rm before, around or after the upload lands (not for
				// correctness: to vary the interleaving).
				time.Sleep(time.Duration(round%3) * c.latency / 2)
				if out, code := r.Sh(r.Home, c.rm); code != 0 {
					t.Fatalf("round %d: %s: exit %d %q\n%s", round, c.rm, code, out, r.Log())
				}
			}
			r.waitIdle(t, 30*time.Second)
			if tr := emuTree(r.emu, r.remotePath("nd")); len(tr.files)+len(tr.dirs) > 0 || r.emu.Exists(r.remotePath("nd")) {
				t.Fatalf("nd is on the server after rm: %v %v", sortedKeys(tr.files), sortedKeys(tr.dirs))
			}
			time.Sleep(ttl) // the listings the mount holds expire: what it shows now comes from the server
			if _, err := os.Lstat(filepath.Join(r.Home, "nd")); !os.IsNotExist(err) {
				t.Fatalf("nd shows again in the mount: %v", err)
			}
		})
	}
}
