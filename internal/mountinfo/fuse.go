package mountinfo

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
)

// DefaultFUSEDevice is the kernel's FUSE device.
const DefaultFUSEDevice = "/dev/fuse"

// CheckFUSE says, in words a user can act on, why this process cannot
// mount a FUSE file system through device, or returns nil: it needs the
// device readable and writable, and either root or fusermount3 (or
// fusermount) to mount without privileges. pafs, its tests and its
// benchmark all ask here.
func CheckFUSE(device string) error {
	if runtime.GOOS != "linux" {
		return errors.New("FUSE is not available: pafs mounts on Linux only")
	}
	f, err := os.OpenFile(device, os.O_RDWR, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("FUSE is not available: " + device + " is missing (load the module with `modprobe fuse`; in a container, add --device /dev/fuse)")
	case errors.Is(err, os.ErrPermission):
		// fusermount3 opens the device as the calling user, so it must be
		// usable by that user even though fusermount3 is setuid.
		return errors.New("FUSE is not available to this user: " + device + " is not readable and writable by you (run as root, or `chmod 666 " + device + "` as Debian's fuse3 package does)")
	case err != nil:
		return fmt.Errorf("FUSE is not available: %w", err)
	}
	_ = f.Close()
	if os.Geteuid() == 0 {
		return nil
	}
	for _, helper := range []string{"fusermount3", "fusermount"} {
		if _, err := exec.LookPath(helper); err == nil {
			return nil
		}
	}
	return errors.New("FUSE is not available to this user: fusermount3 is missing (install fuse3: `apt-get install fuse3`, or run as root)")
}
