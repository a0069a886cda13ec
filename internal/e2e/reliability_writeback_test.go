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

// `sync FILE` (coreutils: open read-only, fsync) uploads the file and
// returns once it is on the server, as docs/troubleshooting.md says. Before
// the fix a read-only handle's fsync returned at once and the file waited
// for its write-back delay (an hour here).
func TestSyncFileUploads(t *testing.T) {
	e := start(t, "--write-back", "1h")
	writeLocal(t, filepath.Join(e.Home, "app.py"), []byte("print('now')\n"))
	e.MustRun(e.Home, "sync", "app.py")
	if got, ok := remote(e, "app.py"); !ok || got != "print('now')\n" {
		t.Fatalf("after sync app.py the server has %q (%v)", got, ok)
	}
	// A file with nothing pending costs nothing.
	e.WaitIdle()
	before := e.Counts()
	e.MustRun(e.Home, "sync", "app.py")
	equalCounts(t, "sync of a clean file", mounttest.Delta(before, e.Counts()), map[string]int{})
}

// A file written again before its write-back delay runs out, over and over
// (an appended log, closed after each line or held open), still reaches
// the server while the writes go on: at most --write-back-max after its
// first unsent change. Before the fix nothing was sent until the writes
// stopped (25 appends 0.8 s apart with --write-back 2s: nothing on the
// server for 20 s).
func TestFileRewrittenWithoutPauseReachesServer(t *testing.T) {
	for _, held := range []bool{false, true} {
		t.Run(fmt.Sprintf("held open %v", held), func(t *testing.T) {
			e := start(t, "--write-back", "500ms", "--write-back-max", "2s")
			p := filepath.Join(e.Home, "app.log")
			var f *os.File
			if held {
				var err error
				if f, err = os.Create(p); err != nil {
					t.Fatal(err)
				}
				defer f.Close()
			}
			var written strings.Builder
			landed := 0 // appends done when the server first showed some
			for i := 0; i < 25 && landed == 0; i++ {
				line := fmt.Sprintf("line %d\n", i)
				if held {
					if _, err := f.WriteString(line); err != nil {
						t.Fatal(err)
					}
				} else {
					e.MustSh(e.Home, "echo 'line "+fmt.Sprint(i)+"' >> app.log")
				}
				written.WriteString(line)
				time.Sleep(200 * time.Millisecond) // the writer's pace, shorter than --write-back
				if got, ok := remote(e, "app.log"); ok && got != "" {
					if !strings.HasPrefix(written.String(), got) {
						t.Fatalf("the server has %q, not a prefix of what was written", got)
					}
					landed = i + 1
				}
			}
			if landed == 0 {
				t.Fatalf("25 appends 200ms apart: nothing on the server while they went on")
			}
			t.Logf("on the server after %d appends", landed)
			if held {
				f.Close()
			}
			waitRemote(t, e, "app.log", written.String())
		})
	}
}

// A file kept open after an fsync and written again: the new writes are
// journalled before they return, so kill -9 keeps them (the next mount
// uploads the file as it stood). Before the fix the fsync's upload left the
// open file with no queued op, and what was written after it was lost.
// With a maximum write-back delay, every upload of a file held open does
// the same as that fsync.
func TestWriteAfterFsyncSurvivesKill(t *testing.T) {
	e := start(t, "--write-back", "1h")
	f, err := os.Create(filepath.Join(e.Home, "db.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("before fsync\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("after fsync\n"); err != nil {
		t.Fatal(err)
	}
	e.Kill()
	e.Remount()
	waitRemote(t, e, "db.log", "before fsync\nafter fsync\n")
}
