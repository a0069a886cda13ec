package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/pafs/pafs/internal/mountinfo"
)

// fuseDevice is the FUSE device; a variable so tests can point it elsewhere.
var fuseDevice = "/dev/fuse"

// checkFUSE fails with a how-to-fix message when this machine cannot mount
// FUSE file systems.
func checkFUSE() error {
	f, err := os.OpenFile(fuseDevice, os.O_RDWR, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("FUSE is not available: " + fuseDevice + " is missing (load the module with `modprobe fuse`; in a container, add --device /dev/fuse)")
	case errors.Is(err, os.ErrPermission):
		// fusermount3 opens the device as the calling user, so it must be
		// usable by that user even though fusermount3 is setuid.
		return errors.New("FUSE is not available to this user: " + fuseDevice + " is not readable and writable by you (run as root, or `chmod 666 " + fuseDevice + "` as Debian's fuse3 package does)")
	case err != nil:
		return fmt.Errorf("FUSE is not available: %w", err)
	}
	f.Close()
	if os.Geteuid() == 0 {
		return nil
	}
	if _, err := exec.LookPath("fusermount3"); err == nil {
		return nil
	}
	if _, err := exec.LookPath("fusermount"); err == nil {
		return nil
	}
	return errors.New("FUSE is not available to this user: fusermount3 is missing (install fuse3: `apt-get install fuse3`, or run as root)")
}

// prepareMountpoint creates dir if missing and refuses a directory that is
// already a mount (live or dead) or that holds files the mount would hide.
func prepareMountpoint(dir string, allowNonEmpty bool) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, syscall.ENOTCONN):
		return fmt.Errorf("mount point %s is a dead mount (pafs was killed?): run `pafs unmount %s` first", dir, dir)
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("mount point: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("mount point: %w", err)
	case !st.IsDir():
		return fmt.Errorf("mount point %s is not a directory", dir)
	}
	if mountinfo.IsMountpoint(dir) {
		return fmt.Errorf("mount point %s is busy: something is already mounted there (`pafs unmount %s` if it is a pafs mount)", dir, dir)
	}
	if allowNonEmpty {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("mount point: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("mount point %s is not empty (%d entries would be hidden): use an empty directory, or -o nonempty", dir, len(ents))
	}
	return nil
}
