package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
)

// As an ordinary user, pafs mounts through fusermount3 (the mount(2) path is
// root's). The test runs pafs as nobody; it needs root to set that up, and
// /dev/fuse usable by everyone, as Debian's fuse3 package leaves it.
func TestMountAsUserWithFusermount(t *testing.T) {
	mounttest.RequireFUSE(t)
	for _, tool := range []string{"fusermount3", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run pafs as another user")
	}
	t.Parallel()
	st, err := os.Stat("/dev/fuse")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o006 != 0o006 {
		if err := os.Chmod("/dev/fuse", 0o666); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod("/dev/fuse", st.Mode().Perm()) })
	}
	base, err := os.MkdirTemp("", "pafs-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	bin := filepath.Join(base, "pafs")
	data, _ := os.ReadFile(mounttest.Binary(t))
	os.WriteFile(bin, data, 0o755)
	dir, cache := filepath.Join(base, "mnt"), filepath.Join(base, "cache")
	for _, d := range []string{dir, cache} {
		os.Mkdir(d, 0o700)
		os.Chown(d, 65534, 65534)
	}
	asNobody := func(args ...string) *exec.Cmd {
		cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=" + base}, args...)...)
		cmd.Env = cleanEnv()
		return cmd
	}
	mount := asNobody(bin, "mount", "--demo", "--cache-dir", cache, dir)
	var log mounttest.Buffer
	mount.Stdout, mount.Stderr = &log, &log
	if err := mount.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mount.Process.Kill()
		syscall.Unmount(dir, syscall.MNT_DETACH)
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), "pafs: mounted") {
		if time.Now().After(deadline) {
			t.Fatalf("no mount as nobody:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := asNobody("sh", "-c", "echo hi > "+dir+"/home/x.txt && cat "+dir+"/home/x.txt && ls "+dir+"/webapps | wc -l").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "hi\n") {
		t.Errorf("using the mount as nobody: %v\n%s", err, out)
	}
	// Private by default: another user (root here, without allow_other) is refused.
	if _, err := os.ReadDir(dir); err == nil {
		t.Error("root could read nobody's mount without allow_other")
	}
	if out, err := asNobody(bin, "unmount", dir).CombinedOutput(); err != nil || !strings.Contains(string(out), "unmounted") {
		t.Errorf("pafs unmount as nobody: %v\n%s", err, out)
	}
	if mounttest.Mounted(dir) {
		t.Error("still mounted")
	}
	mount.Wait()
}
