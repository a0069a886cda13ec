package cli

import (
	"fmt"
	"io"
)

// runBench is not built yet; it says so instead of pretending.
func runBench(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pafs bench: not implemented yet")
	return 2
}
