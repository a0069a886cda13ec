package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/pflag"
)

// mountpointCommand is a subcommand that takes flags and one MOUNTPOINT.
type mountpointCommand struct {
	name  string // "status"
	usage string // what follows "Usage: pafs NAME "
	about string // one paragraph
	fl    *pflag.FlagSet
}

func newMountpointCommand(name, usage, about string, stderr io.Writer) *mountpointCommand {
	c := &mountpointCommand{name: name, usage: usage, about: about,
		fl: pflag.NewFlagSet("pafs "+name, pflag.ContinueOnError)}
	c.fl.SetOutput(stderr)
	c.fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pafs %s %s\n\n%s\n\nFlags:\n", name, usage, about)
		c.fl.PrintDefaults()
	}
	return c
}

// parse parses args and returns the absolute mount point, or the exit code
// to return when the command is done (after --help or a usage error).
func (c *mountpointCommand) parse(args []string) (dir string, code int) {
	if err := c.fl.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return "", 0
		}
		return "", 2
	}
	if c.fl.NArg() != 1 {
		c.fl.Usage()
		return "", 2
	}
	dir, err := filepath.Abs(c.fl.Arg(0))
	if err != nil {
		return "", 2
	}
	return dir, -1
}
