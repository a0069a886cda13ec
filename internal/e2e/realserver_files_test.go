package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// Sharing a file just written: the share waits for the file's pending
// upload, as a reload does, instead of asking the server about a file it
// does not have yet (ENOENT).
func TestShareJustWritten(t *testing.T) {
	if _, err := exec.LookPath("setfattr"); err != nil {
		t.Skip("attr tools not installed")
	}
	e := start(t, "--write-back", "1m")
	e.MustSh(e.Home, "echo x > fresh.txt && setfattr -n user.pafs.share -v 1 fresh.txt")
	if got, ok := remote(e, "fresh.txt"); !ok || got != "x\n" {
		t.Errorf("server holds %q (%v), want the file uploaded before the share", got, ok)
	}
	if e.Emu.Shares()["/home/alice/fresh.txt"] == "" {
		t.Errorf("not shared on the server: %v", e.Emu.Shares())
	}
}

// Writes outside the trees the server lets an account write (home, /tmp,
// /var/www, /var/log) fail at once with EACCES, instead of being taken and
// then refused by the server at every retry; inside them they work.
func TestWriteOutsideWritableRoots(t *testing.T) {
	e := start(t)
	e.Emu.WriteFile("/etc/motd", []byte("welcome\n"))
	e.Emu.WriteFile("/home/alice/a.txt", []byte("a\n"))
	files := filepath.Join(e.Dir, "files")
	for _, script := range []string{
		"echo hi > root.txt",
		"echo hi > etc/new.conf",
		"mkdir etc/pafs",
		"touch usr/local/x",
		"echo more >> etc/motd",
		": > etc/motd",
		"rm etc/motd",
		"mv home/alice/a.txt etc/a.txt",
		"mv etc/motd home/alice/motd",
		"mkdir home/other",
	} {
		out, code := e.Sh(files, script)
		if code == 0 || !strings.Contains(out, "Permission denied") {
			t.Errorf("%s: exit %d, %q; want Permission denied", script, code, out)
		}
	}
	e.MustSh(files, "echo ok > tmp/ok.txt && mkdir -p var/www/site && echo ok > var/www/site/ok.txt && echo ok > home/alice/ok.txt")
	if got := readFile(t, filepath.Join(files, "etc", "motd")); got != "welcome\n" {
		t.Errorf("etc/motd reads %q", got)
	}
	if got := readFile(t, filepath.Join(e.Home, "a.txt")); got != "a\n" {
		t.Errorf("a.txt reads %q", got)
	}
	e.WaitIdle()
	for _, p := range []string{"/tmp/ok.txt", "/var/www/site/ok.txt", "/home/alice/ok.txt"} {
		if b, ok := e.Emu.ReadFile(p); !ok || string(b) != "ok\n" {
			t.Errorf("server %s: %q %v", p, b, ok)
		}
	}
	for _, p := range []string{"/root.txt", "/etc/new.conf", "/etc/a.txt", "/home/alice/motd"} {
		if _, ok := e.Emu.ReadFile(p); ok {
			t.Errorf("server has %s", p)
		}
	}
	if b, ok := e.Emu.ReadFile("/etc/motd"); !ok || string(b) != "welcome\n" {
		t.Errorf("server /etc/motd: %q %v", b, ok)
	}
	if n := e.Emu.Stats().Throttled; len(n) != 0 {
		t.Errorf("429s: %v", n)
	}
	if q := e.Status().Queue; q.Failures != 0 {
		t.Errorf("failed uploads: %+v", q)
	}
}

// An upload the server refuses for good (413: over its upload limit) is
// tried once: the file shows the server's state again (here: none), its
// data is in .pafs/failed/ (also after a remount) with a README saying
// why, .pafs/status lists it, and rm there drops it. Unmounting has nothing
// left to wait for.
func TestRefusedUploadKeptAndShown(t *testing.T) {
	t.Parallel()
	e := mounttest.Start(t, mounttest.Options{
		Emulator: emulator.Config{Latency: 5 * time.Millisecond, RateLimit: -1, Quirks: emulator.Quirks{MaxUpload: 4096}},
		Args:     []string{"--write-back", "100ms"},
	})
	big := strings.Repeat("0123456789abcdef", 1000)
	writeLocal(t, filepath.Join(e.Home, "big.bin"), []byte(big))
	writeLocal(t, filepath.Join(e.Home, "small.txt"), []byte("fits\n"))
	failed := filepath.Join(e.Dir, ".pafs", "failed")
	kept := filepath.Join(failed, "home%2Falice%2Fbig.bin")
	e.WaitFor("the refused upload in .pafs/failed", 30*time.Second, func() bool {
		b, err := os.ReadFile(kept)
		return err == nil && string(b) == big
	})
	e.WaitIdle()
	waitRemote(t, e, "small.txt", "fits\n")
	if _, ok := remote(e, "big.bin"); ok {
		t.Error("the server has big.bin")
	}
	e.WaitFor("big.bin to show the server's state (none)", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(e.Home, "big.bin"))
		return errors.Is(err, os.ErrNotExist)
	})
	if n := e.Counts()["POST files/path"]; n != 2 {
		t.Errorf("%d uploads, want 2 (the refused one not retried)", n)
	}
	st := e.Status()
	if len(st.Refused) != 1 || st.Refused[0].Status != 413 || st.Refused[0].Path != "/home/alice/big.bin" {
		t.Errorf("status refused: %+v", st.Refused)
	}
	text := readFile(t, filepath.Join(e.Dir, ".pafs", "status"))
	if !strings.Contains(text, "Refused by the server") || !strings.Contains(text, "/home/alice/big.bin") {
		t.Errorf("status text:\n%s", text)
	}
	readme := readFile(t, filepath.Join(failed, "README"))
	if !strings.Contains(readme, "upload of /home/alice/big.bin (16000 bytes, kept as home%2Falice%2Fbig.bin): 413 Request Entity Too Large") {
		t.Errorf("README:\n%s", readme)
	}
	// Kept across mounts.
	e.Stop()
	e.Remount()
	if got := readFile(t, kept); got != big {
		t.Errorf("after a remount .pafs/failed holds %d bytes", len(got))
	}
	if n := e.Counts()["POST files/path"]; n != 2 {
		t.Errorf("%d uploads after the remount, want 2", n)
	}
	if out, code := e.Run(failed, "rm", "README"); code == 0 {
		t.Errorf("rm README: %q", out)
	}
	e.MustRun(failed, "rm", "home%2Falice%2Fbig.bin")
	if ents, _ := os.ReadDir(failed); len(ents) != 1 {
		t.Errorf(".pafs/failed holds %v after rm", ents)
	}
	if st := e.Status(); len(st.Refused) != 0 {
		t.Errorf("status refused after rm: %+v", st.Refused)
	}
}

// A change journalled by a run that died, which the server refuses when the
// next mount sends it, is refused once, not at every later mount: its data
// goes to .pafs/failed/ and the queue is empty.
func TestRefusedReplayNotRetried(t *testing.T) {
	e := start(t, "--write-back", "1h")
	big := strings.Repeat("fedcba9876543210", 1000)
	writeLocal(t, filepath.Join(e.Home, "big.bin"), []byte(big))
	e.Kill()
	e.Emu.SetQuirks(emulator.Quirks{MaxUpload: 4096})
	e.Remount()
	e.WaitFor("the replayed upload in .pafs/failed", 30*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(e.Dir, ".pafs", "failed", "home%2Falice%2Fbig.bin"))
		return err == nil && string(b) == big
	})
	e.WaitIdle()
	e.Stop()
	e.Remount()
	e.WaitIdle()
	if n := e.Counts()["POST files/path"]; n != 1 {
		t.Errorf("%d uploads, want 1", n)
	}
}
