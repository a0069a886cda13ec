// Command pafs mounts a PythonAnywhere account as a local directory through FUSE.
package main

import (
	"os"

	"github.com/pafs/pafs/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
