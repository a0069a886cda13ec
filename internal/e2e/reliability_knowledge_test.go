package e2e

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// Tests that pafs acts on what it knows of the server, not on what it
// assumes (docs/reliability.md, "Data-loss holes closed").

// A save reaches the server even when its content is what pafs last
// uploaded: the server may hold something else by now (the web editor), and
// pafs cannot know that without asking.
func TestSaveOfSameContentReachesServer(t *testing.T) {
	e := start(t)
	p := filepath.Join(e.Home, "saved.txt")
	writeLocal(t, p, []byte("X\n"))
	waitRemote(t, e, "saved.txt", "X\n")
	e.WaitIdle()
	e.Emu.WriteFile("/home/alice/saved.txt", []byte("Y, from the web editor\n"))

	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("X\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if got, _ := remote(e, "saved.txt"); got != "X\n" {
		t.Fatalf("after fsync the server holds %q, want the saved %q", got, "X\n")
	}
}

// conflictCopies returns the server's conflict copies of rel (home-relative):
// path → content.
func conflictCopies(e *mounttest.Env, rel string) map[string]string {
	p := "/home/" + e.User + "/" + rel
	out := map[string]string{}
	for q, b := range e.Emu.Files(path.Dir(p)) {
		if strings.HasPrefix(q, p+".pafs-conflict-") {
			out[q] = string(b)
		}
	}
	return out
}

// checkKeptBoth fails unless the server holds want at rel and exactly one
// conflict copy holding other, which the mount lists and reads too.
func checkKeptBoth(t *testing.T, e *mounttest.Env, rel, want, other string) {
	t.Helper()
	if got, _ := remote(e, rel); got != want {
		t.Errorf("server: %s = %q, want %q", rel, got, want)
	}
	cp := conflictCopies(e, rel)
	if len(cp) != 1 {
		t.Errorf("server: conflict copies of %s: %v, want one holding %q", rel, cp, other)
	}
	for q, data := range cp {
		if data != other {
			t.Errorf("server: %s = %q, want %q", q, data, other)
		}
		if got := readFile(t, filepath.Join(e.Dir, "files", q)); got != other {
			t.Errorf("mount: %s reads %q, want %q", q, got, other)
		}
	}
}

// fsync opens p for writing and fsyncs it: its pending upload is sent now.
func fsync(t *testing.T, p string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Errorf("fsync %s: %v", p, err)
	}
}

// checkConflictsListed fails unless .pafs/status lists a conflict for each
// of rels.
func checkConflictsListed(t *testing.T, e *mounttest.Env, rels ...string) {
	t.Helper()
	st := e.Status()
	for _, rel := range rels {
		found := false
		for _, c := range st.Conflicts {
			found = found || c.Path == "/home/"+e.User+"/"+rel
		}
		if !found {
			t.Errorf("status lists no conflict for %s: %+v", rel, st.Conflicts)
		}
	}
	text := readFile(t, filepath.Join(e.Dir, ".pafs", "status"))
	if !strings.Contains(text, "Conflicts:") {
		t.Errorf("status text has no conflicts section:\n%s", text)
	}
}

// A file created here whose name appeared on the server while its upload
// waited, and pafs saw it there (a listing): the save still lands (last
// writer wins) and the server's version is kept beside it, logged and shown
// in the status.
func TestConflictSeenByListingKeepsBoth(t *testing.T) {
	e := start(t, "--write-back", "1h", "--dir-cache-time", "200ms")
	e.MustRun(e.Home, "ls")
	p := filepath.Join(e.Home, "note.txt")
	writeLocal(t, p, []byte("mine\n"))
	e.Emu.WriteFile("/home/alice/note.txt", []byte("theirs, from the web editor\n"))
	before := e.Counts()
	e.WaitFor("a listing made after the server's change", 10*time.Second, func() bool {
		e.MustRun(e.Home, "ls")
		return mounttest.Delta(before, e.Counts())["GET files/path"] > 0
	})
	fsync(t, p)
	checkKeptBoth(t, e, "note.txt", "mine\n", "theirs, from the web editor\n")
	if got := readFile(t, p); got != "mine\n" {
		t.Errorf("mount: note.txt reads %q", got)
	}
	checkConflictsListed(t, e, "note.txt")
	if !strings.Contains(e.Log(), "conflict") {
		t.Errorf("no conflict in the log:\n%s", e.Log())
	}
}

// kill -9 with uploads pending, then the files change on the server: the
// next mount does not replay the old journal over the newer versions. Each
// server version keeps its name; the journalled one is saved beside it.
// A file unchanged on the server is uploaded as usual.
func TestReplayAfterCrashKeepsNewerServerVersion(t *testing.T) {
	t.Parallel()
	e := mounttest.Start(t, mounttest.Options{
		Emulator: emulator.Config{Latency: 5 * time.Millisecond, RateLimit: -1},
		Args:     []string{"--write-back", "1h"},
	})
	for _, n := range []string{"edited.txt", "unchanged.txt"} {
		e.Emu.WriteFile("/home/alice/"+n, []byte("version 0\n"))
	}
	for _, n := range []string{"edited.txt", "unchanged.txt"} {
		readFile(t, filepath.Join(e.Home, n))
		writeLocal(t, filepath.Join(e.Home, n), []byte("mine\n"))
	}
	writeLocal(t, filepath.Join(e.Home, "created.txt"), []byte("mine, new\n"))
	e.Kill()
	e.Emu.WriteFile("/home/alice/edited.txt", []byte("theirs\n"))
	e.Emu.WriteFile("/home/alice/created.txt", []byte("theirs, new\n"))
	e.Remount()
	e.WaitIdle()
	checkKeptBoth(t, e, "edited.txt", "theirs\n", "mine\n")
	checkKeptBoth(t, e, "created.txt", "theirs, new\n", "mine, new\n")
	if got, _ := remote(e, "unchanged.txt"); got != "mine\n" {
		t.Errorf("server: unchanged.txt = %q, want the journalled upload", got)
	}
	if cp := conflictCopies(e, "unchanged.txt"); len(cp) != 0 {
		t.Errorf("conflict copies of a file nobody else changed: %v", cp)
	}
	checkConflictsListed(t, e, "edited.txt", "created.txt")
}
