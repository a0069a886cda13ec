package cli

import (
	"fmt"
	"io"
)

// runEmulator is not built yet; it says so instead of pretending.
func runEmulator(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pafs emulator: not implemented yet")
	return 2
}
