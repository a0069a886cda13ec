package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every directory lists . and .. (ls -a); the top level and .pafs have a
// real time and link count, and cannot be deleted; a path through a file
// gives ENOTDIR (issue 14).
func TestDirsLookLikeDirs(t *testing.T) {
	before := time.Now().Add(-time.Second)
	e := start(t, "--dir-cache-time", "200ms", "--cache-ttl", "200ms")
	e.Emu.WriteFile("/home/alice/file.txt", []byte("x\n"))
	e.Emu.WriteFile("/home/alice/sub/inner.txt", []byte("y\n"))
	for _, rel := range []string{".", "files", "home", "home/sub", ".pafs", "webapps", "account"} {
		out := e.MustRun(e.Dir, "ls", "-a", "-1", rel)
		names := strings.Fields(out)
		if len(names) < 2 || names[0] != "." || names[1] != ".." {
			t.Errorf("ls -a %s does not start with . and ..: %q", rel, names)
		}
		if strings.Count(" "+strings.Join(names, " ")+" ", " . ") != 1 || strings.Count(" "+strings.Join(names, " ")+" ", " .. ") != 1 {
			t.Errorf("ls -a %s lists . or .. twice: %q", rel, names)
		}
	}
	for _, rel := range []string{".", ".pafs"} {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(e.Dir, rel), &st); err != nil {
			t.Fatal(err)
		}
		mtime := time.Unix(st.Mtim.Unix())
		if mtime.Before(before) || mtime.After(time.Now().Add(time.Second)) {
			t.Errorf("%s: mtime %v, want the mount's start (%v)", rel, mtime, before)
		}
		if st.Nlink < 2 {
			t.Errorf("%s: link count %d, want at least 2", rel, st.Nlink)
		}
	}
	for _, p := range []string{"home/file.txt/x", "files/home/alice/file.txt/x", ".pafs/status/x", "account/cpu.json/x"} {
		if _, err := os.Open(filepath.Join(e.Dir, p)); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("open %s: %v, want ENOTDIR", p, err)
		}
		if _, err := os.Stat(filepath.Join(e.Dir, p)); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("stat %s: %v, want ENOTDIR", p, err)
		}
	}
	// A directory held open (a shell cd'ed into it) that became a file on
	// the server: lookups in it give ENOTDIR.
	d, err := os.Open(filepath.Join(e.Home, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	e.Emu.Remove("/home/alice/sub")
	e.Emu.WriteFile("/home/alice/sub", []byte("now a file\n"))
	// Once the mount shows sub as a file (the listings' lifetime is over),
	// lookups in the directory still held open say it is not one.
	e.WaitFor("sub to show as a file", 10*time.Second, func() bool {
		st, err := os.Stat(filepath.Join(e.Home, "sub"))
		return err == nil && st.Mode().IsRegular()
	})
	fd, err := syscall.Openat(int(d.Fd()), "inner.txt", syscall.O_RDONLY, 0)
	if err == nil {
		syscall.Close(fd)
	}
	if !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("openat(sub, inner.txt) after sub became a file: %v, want ENOTDIR", err)
	}
	// The fixed folders stay (go-fuse's default rmdir and unlink succeed).
	e.Run(e.Dir, "rm", "-rf", ".pafs")
	for _, p := range []string{".pafs", ".pafs/status", "home"} {
		if err := os.Remove(filepath.Join(e.Dir, p)); !errors.Is(err, syscall.EPERM) {
			t.Errorf("rm %s: %v, want EPERM", p, err)
		}
	}
	if err := syscall.Rmdir(filepath.Join(e.Dir, "files")); !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir files: %v, want EPERM", err)
	}
	if _, err := os.Stat(filepath.Join(e.Dir, ".pafs", "status")); err != nil {
		t.Errorf(".pafs/status after rm -rf .pafs: %v", err)
	}
}
