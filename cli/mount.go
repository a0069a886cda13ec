package cli

import (
	"fmt"
	"io"
)

// runMount is not built yet; it says so instead of pretending.
func runMount(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pafs mount: not implemented yet")
	return 2
}
