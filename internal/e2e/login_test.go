package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
)

// The fstab recipe of docs/running-at-login.md with the real mount(8): a
// fuse.pafs line goes through mount.fuse3, which runs `pafs USERNAME
// MOUNTPOINT -o OPTIONS` from the standard PATH and waits for it; pafs
// goes to the background and returns once mounted. umount makes it upload
// what is pending and exit. A wrong token fails mount(8) with pafs's error.
// It runs in a mount namespace of its own, where a directory holding the
// test's pafs is bound over /usr/local/bin (issue 14).
func TestFstabMount(t *testing.T) {
	mounttest.RequireFUSE(t)
	if os.Geteuid() != 0 {
		t.Skip("mount(8) with fstab options needs root")
	}
	for _, prog := range []string{"unshare", "mount", "umount"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s is not installed", prog)
		}
	}
	if _, err := os.Stat("/sbin/mount.fuse3"); err != nil {
		t.Skip("mount.fuse3 is not installed (apt-get install fuse3)")
	}
	t.Parallel()
	emu, srv := emulatorServer(t, "the-token")
	emu.WriteFile("/home/alice/hello.txt", []byte("hello from the server\n"))
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.Symlink(mounttest.Binary(t), filepath.Join(bin, "pafs")); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(tmp, "alice.token")
	os.WriteFile(token, []byte("the-token\n"), 0o600)
	bad := filepath.Join(tmp, "bad.token")
	os.WriteFile(bad, []byte("wrong\n"), 0o600)
	dir := filepath.Join(tmp, "pa")
	os.Mkdir(dir, 0o755)
	logFile := filepath.Join(tmp, "pafs.log")
	opts := func(tok string) string {
		return strings.Join([]string{"api_url=" + srv.URL, "token_file=" + tok, "cache_dir=" + filepath.Join(tmp, "cache"),
			"log_file=" + logFile, "write_back=1h", "noauto", "user", "_netdev"}, ",")
	}
	script := `set -e
mount --bind "$BIN" /usr/local/bin
if mount -t fuse.pafs alice "$DIR" -o "$BAD" 2>err.txt; then echo "mounted with a wrong token"; exit 1; fi
cat err.txt
mount -t fuse.pafs alice "$DIR" -o "$OPTS"
grep -q " $DIR .* fuse.pafs " /proc/self/mountinfo || { echo "not a fuse.pafs mount"; exit 1; }
cat "$DIR/home/hello.txt"
echo "written through fstab" > "$DIR/home/new.txt"
umount "$DIR"
`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script)
	cmd.Dir = tmp
	cmd.Env = append(cleanEnv(), "BIN="+bin, "DIR="+dir, "OPTS="+opts(token), "BAD="+opts(bad))
	out, err := cmd.CombinedOutput()
	log, _ := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("%v\n%s\npafs log:\n%s", err, out, log)
	}
	if !strings.Contains(string(out), "token was refused") {
		t.Errorf("a wrong token did not fail mount(8) with pafs's error:\n%s", out)
	}
	if !strings.Contains(string(out), "hello from the server") {
		t.Errorf("reading through the fstab mount:\n%s", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got, ok := emu.ReadFile("/home/alice/new.txt"); ok && string(got) == "written through fstab\n" {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("new.txt never reached the server after umount; pafs log:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The systemd unit of docs/running-at-login.md: its ExecStart, as written
// (the binary and %h replaced, and --api-url added to reach the test's
// server), mounts; SIGTERM, which systemctl stop sends, uploads what is
// pending and exits 0 well within the unit's TimeoutStopSec (issue 14).
func TestSystemdUnitCommandLine(t *testing.T) {
	mounttest.RequireFUSE(t)
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join(mounttest.ModuleRoot(t), "docs", "running-at-login.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*ExecStart=(\S+) (.*)$`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("no ExecStart= line in docs/running-at-login.md")
	}
	if string(m[1]) != "/usr/local/bin/pafs" {
		t.Errorf("ExecStart runs %s, want /usr/local/bin/pafs (where the docs install it)", m[1])
	}
	stop := regexp.MustCompile(`(?m)^\s*TimeoutStopSec=(\S+)$`).FindSubmatch(doc)
	if stop == nil {
		t.Error("the unit has no TimeoutStopSec: systemd would kill pafs 90 s after SIGTERM")
	}
	home := t.TempDir()
	args := strings.Fields(strings.ReplaceAll(string(m[2]), "%h", home))
	emu, srv := emulatorServer(t, "unit-token")
	os.MkdirAll(filepath.Join(home, ".config"), 0o700)
	os.WriteFile(filepath.Join(home, ".config", "pafs-token"), []byte("unit-token\n"), 0o600)
	args = append(args[:len(args)-1], "--api-url", srv.URL, "--write-back", "1h", args[len(args)-1])
	dir := filepath.Join(home, "pa")
	// What a systemd user service has: HOME, no API_TOKEN.
	cmd, log, done := spawnPafs(t, []string{"HOME=" + home, "XDG_CACHE_HOME="}, dir, args...)
	waitMounted(t, dir, log)
	writeLocal(t, filepath.Join(dir, "home", "unit.txt"), []byte("from the unit\n"))
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("pafs exited with %v after SIGTERM:\n%s", err, log.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("pafs did not exit after SIGTERM:\n%s", log.String())
	}
	if got, ok := emu.ReadFile("/home/alice/unit.txt"); !ok || string(got) != "from the unit\n" {
		t.Errorf("unit.txt on the server: %q %v", got, ok)
	}
	if mounttest.Mounted(dir) {
		t.Error("still mounted")
	}
}
