// Package cli holds pafs's subcommands: argument parsing with pflag and the wiring
// of the packages that do the work.
package cli

import (
	"fmt"
	"io"
	"strings"
)

// command is one subcommand. run gets the arguments after the subcommand's name.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"mount", "mount an account (or --demo) at MOUNTPOINT, in the foreground", runMount},
		{"emulator", "serve the PythonAnywhere API emulator for scripts and other clients", runEmulator},
		{"status", "show what a mount is doing (same text as MOUNTPOINT/.pafs/status)", runStatus},
		{"unmount", "flush pending uploads, then unmount MOUNTPOINT", runUnmount},
		{"bench", "measure requests and time per workload against the emulator", runBench},
	}
}

// Main runs pafs with args (without the program name) and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	v := stampVersion()
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help":
		usage(stdout)
		return 0
	case "help":
		if len(args) > 1 {
			// `pafs help mount` is `pafs mount --help`.
			return Main([]string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	case "--version", "version", "-V":
		fmt.Fprintf(stdout, "pafs %s\n", v)
		return 0
	case "-v", "--verbose":
		// Before a command, as in `pafs -v mount ...`: that command's
		// --verbose. Alone, -v asks for the version, as in many tools.
		if len(args) == 1 {
			if args[0] == "-v" {
				fmt.Fprintf(stdout, "pafs %s\n", v)
				return 0
			}
			fmt.Fprintf(stderr, "pafs: --verbose goes with a command: pafs mount --verbose MOUNTPOINT\n")
			return 2
		}
		if args[1] != "mount" {
			fmt.Fprintf(stderr, "pafs: %s: only pafs mount has --verbose (it logs every API request)\n", args[0])
			return 2
		}
		return Main(append([]string{"mount", "--verbose"}, args[2:]...), stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	if isMountHelperForm(args) {
		return runMountHelper(args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "pafs: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("pafs: a PythonAnywhere account as a local directory (FUSE)\n\nUsage:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  pafs %-9s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'pafs COMMAND --help' (or 'pafs help COMMAND') for a command's flags; 'pafs --version' (or -v) prints the version.\n" +
		"'pafs USERNAME MOUNTPOINT -o OPTIONS' is how mount(8) starts pafs for an fstab line of type fuse.pafs (docs/running-at-login.md).\n")
	io.WriteString(w, b.String())
}
