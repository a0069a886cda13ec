package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pafs/pafs/internal/mountinfo"
)

// runStatus is `pafs status MOUNTPOINT`: what the mount is doing, read from
// MOUNTPOINT/.pafs/status (or status.json with --json).
func runStatus(args []string, stdout, stderr io.Writer) int {
	cmd := newMountpointCommand("status", "[--json] MOUNTPOINT",
		"Shows rate-limit budgets, pending uploads, cache hit rates and recent errors of a mount.", stderr)
	asJSON := cmd.fl.Bool("json", false, "print the status as JSON, for scripts")
	dir, code := cmd.parse(args)
	if code >= 0 {
		return code
	}
	name := "status"
	if *asJSON {
		name = "status.json"
	}
	b, err := os.ReadFile(filepath.Join(dir, ".pafs", name))
	if err != nil {
		fmt.Fprintf(stderr, "pafs status: %s\n", describeMountError(dir, err))
		return 1
	}
	if _, err := stdout.Write(b); err != nil {
		return 1
	}
	return 0
}

// describeMountError explains why a mount's .pafs files cannot be read.
func describeMountError(dir string, err error) string {
	switch {
	case errors.Is(err, syscall.ENOTCONN):
		return fmt.Sprintf("%s is a dead mount: pafs is no longer running. `pafs unmount %s` clears it; queued uploads are kept and go up at the next mount", dir, dir)
	case !mountinfo.IsMountpoint(dir):
		return fmt.Sprintf("%s is not mounted", dir)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Sprintf("%s is not a pafs mount", dir)
	}
	return err.Error()
}
