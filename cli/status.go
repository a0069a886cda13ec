package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"
)

// runStatus is `pafs status MOUNTPOINT`: what the mount is doing, read from
// MOUNTPOINT/.pafs/status (or status.json with --json).
func runStatus(args []string, stdout, stderr io.Writer) int {
	fl := pflag.NewFlagSet("pafs status", pflag.ContinueOnError)
	fl.SetOutput(stderr)
	asJSON := fl.Bool("json", false, "print the status as JSON, for scripts")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pafs status [--json] MOUNTPOINT\n\nShows rate-limit budgets, pending uploads, cache hit rates and recent errors of a mount.\n\nFlags:\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return 2
	}
	name := "status"
	if *asJSON {
		name = "status.json"
	}
	dir, _ := filepath.Abs(fl.Arg(0))
	b, err := os.ReadFile(filepath.Join(dir, ".pafs", name))
	if err != nil {
		fmt.Fprintf(stderr, "pafs status: %s\n", describeMountError(dir, err))
		return 1
	}
	stdout.Write(b)
	return 0
}

// describeMountError explains why a mount's .pafs files cannot be read.
func describeMountError(dir string, err error) string {
	switch {
	case errors.Is(err, syscall.ENOTCONN):
		return fmt.Sprintf("%s is a dead mount: pafs is no longer running. `pafs unmount %s` clears it; queued uploads are kept and go up at the next mount", dir, dir)
	case !isMountpoint(dir):
		return fmt.Sprintf("%s is not mounted", dir)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Sprintf("%s is not a pafs mount", dir)
	}
	return err.Error()
}
