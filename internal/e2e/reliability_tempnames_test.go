package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
)

// Editors' temp names (*~, *.swp, 4913, #*#, .#*) are delayed, never
// dropped. Before the fix they lived on this machine only: `mv settings.py
// settings.py~` left the server with neither name once the mount was gone.
// Here the rename is the last thing before the unmount, which uploads it.
func TestRenameToTempNameKeepsTheFile(t *testing.T) {
	e := start(t, "--write-back", "1h")
	names := []string{"settings.py~", ".settings.py.swp", "4913", "#settings.py#", ".#settings.py", "settings.py.swo"}
	for i := range names {
		e.Emu.WriteFile(fmt.Sprintf("/home/alice/d%d/settings.py", i), fmt.Appendf(nil, "precious %d\n", i))
	}
	for i, n := range names {
		e.MustRun(filepath.Join(e.Home, fmt.Sprint("d", i)), "mv", "settings.py", n)
	}
	e.Stop()
	check := func(when string) {
		for i, n := range names {
			if got, ok := remote(e, fmt.Sprintf("d%d/%s", i, n)); !ok || got != fmt.Sprintf("precious %d\n", i) {
				t.Errorf("%s: server has d%d/%s = %q (%v), want the renamed file", when, i, n, got, ok)
			}
			if _, ok := remote(e, fmt.Sprintf("d%d/settings.py", i)); ok {
				t.Errorf("%s: server still has d%d/settings.py after mv to %s", when, i, n)
			}
		}
	}
	check("after unmount")
	e.Remount()
	for i, n := range names {
		if got := readFile(t, filepath.Join(e.Home, fmt.Sprint("d", i), n)); got != fmt.Sprintf("precious %d\n", i) {
			t.Errorf("after remount, d%d/%s reads %q", i, n, got)
		}
	}
}

// cp -r of a tree holding files with temp names lands all of them, after
// the temp delay, one upload each. Before the fix the queue drained with
// those files missing.
func TestCpRTreeWithTempNamesLandsAll(t *testing.T) {
	e := start(t, "--temp-delay", "500ms")
	src := t.TempDir()
	files := map[string]string{
		"proj/app.py":         "print('app')\n",
		"proj/notes.txt~":     "old notes\n",
		"proj/important.swo":  "swap of something\n",
		"proj/sub/#draft.md#": "autosave\n",
		"proj/sub/4913":       "forty-nine thirteen\n",
	}
	for rel, data := range files {
		writeLocal(t, filepath.Join(src, rel), []byte(data))
	}
	e.MustRun(e.Home, "ls")
	before := e.Counts()
	e.MustRun(src, "cp", "-r", "proj", e.Home)
	for rel, data := range files {
		waitRemote(t, e, rel, data)
	}
	e.WaitIdle()
	equalCounts(t, "cp -r", mounttest.Delta(before, e.Counts()), map[string]int{"POST files/path": len(files)})
}

// fsync of a temp-named file through a read-only handle (`sync FILE`, or a
// reader) uploads it and returns once it is on the server. (Through a
// handle open for writing it journals it locally: vim fsyncs its swap file at
// every pause; see docs/semantics.md.) Before the fix fsync returned 0 and
// nothing was ever sent.
func TestFsyncOfTempNamedFileUploads(t *testing.T) {
	e := start(t, "--write-back", "1h")
	writeLocal(t, filepath.Join(e.Home, "notes.txt~"), []byte("keep me\n"))
	writeLocal(t, filepath.Join(e.Home, "important.swo"), []byte("me too\n"))
	e.MustRun(e.Home, "sync", "notes.txt~")
	if got, ok := remote(e, "notes.txt~"); !ok || got != "keep me\n" {
		t.Errorf("after sync notes.txt~ the server has %q (%v)", got, ok)
	}
	f, err := os.Open(filepath.Join(e.Home, "important.swo"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if got, ok := remote(e, "important.swo"); !ok || got != "me too\n" {
		t.Errorf("after fsync of important.swo the server has %q (%v)", got, ok)
	}
}

// A file on the server with a temp name is a file like any other: edits
// are uploaded, rm deletes it there. Before the fix both stayed local.
func TestServerFileWithTempNameIsEditedAndDeleted(t *testing.T) {
	e := start(t, "--temp-delay", "500ms")
	e.Emu.WriteFile("/home/alice/keep.txt~", []byte("v1\n"))
	e.Emu.WriteFile("/home/alice/.gone.py.swp", []byte("swap\n"))
	e.MustSh(e.Home, "echo v2 >> keep.txt~ && rm .gone.py.swp")
	waitRemote(t, e, "keep.txt~", "v1\nv2\n")
	e.WaitFor("the server's .gone.py.swp to be deleted", 30e9, func() bool {
		_, ok := remote(e, ".gone.py.swp")
		return !ok
	})
	if got := readFile(t, filepath.Join(e.Home, "keep.txt~")); got != "v1\nv2\n" {
		t.Errorf("keep.txt~ reads %q", got)
	}
	if out := e.MustRun(e.Home, "ls", "-a"); strings.Contains(out, ".gone.py.swp") {
		t.Errorf("ls still shows .gone.py.swp:\n%s", out)
	}
}

// --temp-name adds patterns of temp names: such a file waits --temp-delay,
// and costs nothing if removed before, while other files go up after the
// write-back delay. --local-only, its name from when such files were never
// uploaded, still works and says it is deprecated.
func TestTempNameFlagAddsPatterns(t *testing.T) {
	for _, flag := range []string{"--temp-name", "--local-only"} {
		t.Run(strings.TrimPrefix(flag, "--"), func(t *testing.T) {
			e := start(t, flag, "*.part", "--temp-delay", "1h")
			e.MustRun(e.Home, "ls")
			before := e.Counts()
			writeLocal(t, filepath.Join(e.Home, "big.iso.part"), []byte("half a download\n"))
			writeLocal(t, filepath.Join(e.Home, "notes.txt"), []byte("notes\n"))
			waitRemote(t, e, "notes.txt", "notes\n")
			e.WaitFor("big.iso.part queued for later", 10*time.Second, func() bool {
				for _, op := range e.Status().Queue.Ops {
					if strings.HasSuffix(op.Path, "/big.iso.part") {
						return time.Duration(op.DueIn) > 30*time.Minute
					}
				}
				return false
			})
			if _, ok := remote(e, "big.iso.part"); ok {
				t.Error("big.iso.part was uploaded before --temp-delay")
			}
			e.MustRun(e.Home, "rm", "big.iso.part")
			e.WaitIdle()
			equalCounts(t, "a temp-named file removed before its delay", mounttest.Delta(before, e.Counts()),
				map[string]int{"POST files/path": 1})
			deprecated := strings.Contains(e.Log(), "--local-only has been deprecated")
			if deprecated != (flag == "--local-only") {
				t.Errorf("%s: the log says --local-only is deprecated: %v\n%s", flag, deprecated, e.Log())
			}
		})
	}
}
