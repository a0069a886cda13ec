package cli

import (
	"fmt"
	"io"
)

// runUnmount is not built yet; it says so instead of pretending.
func runUnmount(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pafs unmount: not implemented yet")
	return 2
}
