package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// kill -9 with uploads pending (written and closed, or fsynced while still
// open); the next mount uploads every byte.
func TestCrashKeepsPendingUploads(t *testing.T) {
	t.Parallel()
	e := mounttest.Start(t, mounttest.Options{
		Emulator: emulator.Config{Latency: 5 * time.Millisecond, RateLimit: -1},
		// Nothing leaves before the crash.
		Args: []string{"--write-back", "1h"},
	})
	want := map[string]string{}
	for i := 0; i < 20; i++ {
		rel := fmt.Sprintf("crash/d%d/f%02d.txt", i%3, i)
		data := strings.Repeat(fmt.Sprintf("%d ", i), 1000+i)
		writeLocal(t, filepath.Join(e.Home, rel), []byte(data))
		want[rel] = data
	}
	// Renamed and deleted before the crash: the rename lands, the deleted
	// file never does.
	e.MustSh(e.Home, "mv crash/d0/f00.txt crash/renamed.txt && rm crash/d1/f01.txt && mkdir crash/emptydir")
	want["crash/renamed.txt"] = want["crash/d0/f00.txt"]
	delete(want, "crash/d0/f00.txt")
	delete(want, "crash/d1/f01.txt")
	// A file still open for writing: what was written before the crash is
	// uploaded after it.
	f, err := os.Create(filepath.Join(e.Home, "crash", "open.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("written while open\n")
	want["crash/open.txt"] = "written while open\n"
	if st := e.Status(); st.Queue.Pending == 0 {
		t.Fatalf("nothing pending before the crash: %+v", st.Queue)
	}
	if n := len(e.Emu.Files("/home/alice/crash")); n != 0 {
		t.Fatalf("%d files reached the server before the crash", n)
	}
	e.Kill()
	f.Close()
	e.Remount()
	e.WaitIdle()
	got := e.Emu.Files("/home/alice/crash")
	if len(got) != len(want) {
		t.Errorf("server has %d files, want %d", len(got), len(want))
	}
	for rel, data := range want {
		if string(got["/home/alice/"+rel]) != data {
			t.Errorf("%s: server has %d bytes, want %d", rel, len(got["/home/alice/"+rel]), len(data))
		}
	}
	if !e.Emu.IsDir("/home/alice/crash/emptydir") {
		t.Error("mkdir before the crash did not reach the server")
	}
}

// A failed upload is never dropped: it is retried until the server takes it.
func TestFailedUploadIsRetried(t *testing.T) {
	e := start(t, "--retries", "1")
	e.MustRun(e.Home, "ls")
	e.Emu.SetFaults(emulator.Faults{ErrorRate: 1})
	writeLocal(t, filepath.Join(e.Home, "retry.txt"), []byte("eventually\n"))
	e.WaitFor("a failed attempt", 30*time.Second, func() bool {
		q := e.Status().Queue
		return len(q.Ops) == 1 && q.Ops[0].Tries > 0
	})
	e.Emu.SetFaults(emulator.Faults{})
	waitRemote(t, e, "retry.txt", "eventually\n")
}
