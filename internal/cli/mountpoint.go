package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pafs/pafs/internal/mountinfo"
)

// fuseDevice is the FUSE device; a variable so tests can point it elsewhere.
var fuseDevice = "/dev/fuse"

// checkFUSE says why pafs cannot mount here (nil if it can).
func checkFUSE() error { return mountinfo.CheckFUSE(fuseDevice) }

// prepareMountpoint creates dir if missing and refuses a directory that is
// already a mount (live or dead) or that holds files the mount would hide.
// created lists the directories it made, deepest first: removeCreated takes
// them away again when pafs exits, so that neither a failed start nor a stop
// leaves behind a directory that the user did not make.
func prepareMountpoint(dir string, allowNonEmpty bool) (created []string, err error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, syscall.ENOTCONN):
		return nil, fmt.Errorf("mount point %s is a dead mount (pafs was killed?): run `pafs unmount %s` first", dir, dir)
	case errors.Is(err, os.ErrNotExist):
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Lstat(d); err == nil || d == filepath.Dir(d) {
				break
			}
			created = append(created, d)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			removeCreated(created)
			return nil, fmt.Errorf("mount point: %w", err)
		}
		return created, nil
	case err != nil:
		return nil, fmt.Errorf("mount point: %w", err)
	case !st.IsDir():
		return nil, fmt.Errorf("mount point %s is not a directory", dir)
	}
	if mountinfo.IsMountpoint(dir) {
		return nil, fmt.Errorf("mount point %s is busy: something is already mounted there (`pafs unmount %s` if it is a pafs mount)", dir, dir)
	}
	if allowNonEmpty {
		return nil, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("mount point: %w", err)
	}
	if len(ents) > 0 {
		return nil, fmt.Errorf("mount point %s is not empty (%d entries would be hidden): use an empty directory, or -o nonempty", dir, len(ents))
	}
	return nil, nil
}

// removeCreated removes the directories prepareMountpoint made, deepest
// first, each only if empty: whatever someone put there since stays.
func removeCreated(dirs []string) {
	for _, d := range dirs {
		if os.Remove(d) != nil {
			return
		}
	}
}
