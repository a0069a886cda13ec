package cli

import (
	"fmt"
	"io"
)

// runStatus is not built yet; it says so instead of pretending.
func runStatus(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pafs status: not implemented yet")
	return 2
}
