package e2e

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The server goes away (scaled down: a few seconds stand for minutes, with
// listing and content lifetimes of a second). A TCP proxy between pafs and
// the emulator refuses connections (a server that is down) or swallows them
// (a network that is gone). Meanwhile:
//
//   - files read before keep reading, listings seen before keep listing,
//     even after their cache lifetime: stale is better than an error;
//   - a file never read fails with EIO after a bounded time (measured):
//     never a hang — sshfs's most reported problem;
//   - writes are accepted at once and queued (close does not wait);
//   - .pafs/status shows the failures;
//   - when the server is back, everything queued lands, with no action.
func TestReliabilityOutage(t *testing.T) {
	for _, mode := range []proxyMode{proxyRefuse, proxyBlackhole} {
		t.Run(mode.String(), func(t *testing.T) {
			r := startRig(t, rigOptions{
				Parallel: true,
				Proxy:    true,
				Args: []string{"--write-back", "50ms", "--dir-cache-time", "1s", "--cache-ttl", "1s",
					"--retries", "2", "--timeout", "2s"},
			})
			cached := bytes.Repeat([]byte("read before the outage\n"), 500)
			r.emu.WriteFile(r.remotePath("cached.txt"), cached)
			r.emu.WriteFile(r.remotePath("sub/deep.txt"), []byte("deep\n"))
			r.emu.WriteFile(r.remotePath("never-read.txt"), []byte("not cached\n"))
			mustEqual(t, "cached.txt before", []byte(readFile(t, filepath.Join(r.Home, "cached.txt"))), cached)
			readFile(t, filepath.Join(r.Home, "sub", "deep.txt"))

			r.proxy.set(mode)
			time.Sleep(1500 * time.Millisecond) // every cache lifetime is over

			// Cached content and listings go on.
			took := timed(func() {
				b, err := os.ReadFile(filepath.Join(r.Home, "cached.txt"))
				if err != nil {
					t.Errorf("reading a cached file during the outage: %v", err)
				} else {
					mustEqual(t, "cached.txt during the outage", b, cached)
				}
			})
			t.Logf("%s: read of a cached file took %s", mode, took.Round(time.Millisecond))
			if got := readFile(t, filepath.Join(r.Home, "sub", "deep.txt")); got != "deep\n" {
				t.Errorf("sub/deep.txt = %q", got)
			}
			if out, code := r.Sh(r.Home, "ls"); code != 0 || !strings.Contains(out, "cached.txt") {
				t.Errorf("ls during the outage: exit %d, %q", code, out)
			}

			// A file never read: EIO, in bounded time.
			var err error
			took = timed(func() { _, err = os.ReadFile(filepath.Join(r.Home, "never-read.txt")) })
			t.Logf("%s: read of an uncached file failed after %s: %v", mode, took.Round(time.Millisecond), err)
			if !errors.Is(err, syscall.EIO) {
				t.Errorf("reading an uncached file during the outage: %v, want EIO", err)
			}
			if took > 30*time.Second {
				t.Errorf("the failed read took %s", took)
			}

			// Writes are taken at once.
			took = timed(func() {
				writeLocal(t, filepath.Join(r.Home, "new.txt"), []byte("written offline\n"))
				writeLocal(t, filepath.Join(r.Home, "cached.txt"), []byte("changed offline\n"))
				writeLocal(t, filepath.Join(r.Home, "sub", "new-too.txt"), []byte("also\n"))
			})
			t.Logf("%s: three writes took %s", mode, took.Round(time.Millisecond))
			if took > 2*time.Second {
				t.Errorf("writes during the outage took %s", took)
			}
			if got := readFile(t, filepath.Join(r.Home, "new.txt")); got != "written offline\n" {
				t.Errorf("new.txt reads %q", got)
			}

			// The status file says what is wrong.
			r.WaitFor("status to show failed uploads", 30*time.Second, func() bool {
				st := r.Status()
				return st.Queue.Failing > 0 && st.ErrorCount > 0
			})
			st, _ := os.ReadFile(filepath.Join(r.Dir, ".pafs", "status"))
			if !strings.Contains(string(st), "Last errors") {
				t.Errorf("status does not list the errors:\n%s", st)
			}

			// Back: everything lands.
			downFor := 5 * time.Second
			time.Sleep(downFor - 1500*time.Millisecond)
			r.proxy.set(proxyPass)
			took = timed(func() { r.waitIdle(t, 60*time.Second) })
			t.Logf("%s: after ~%s down, the queue drained %s after the server came back", mode, downFor, took.Round(time.Millisecond))
			for rel, want := range map[string]string{"new.txt": "written offline\n", "cached.txt": "changed offline\n", "sub/new-too.txt": "also\n"} {
				if got, _ := r.emu.ReadFile(r.remotePath(rel)); string(got) != want {
					t.Errorf("server: %s = %q, want %q", rel, got, want)
				}
			}
			if got := readFile(t, filepath.Join(r.Home, "never-read.txt")); got != "not cached\n" {
				t.Errorf("never-read.txt after the outage: %q", got)
			}
		})
	}
}
