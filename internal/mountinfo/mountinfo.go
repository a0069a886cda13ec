// Package mountinfo reads the kernel's mount table.
package mountinfo

import (
	"os"
	"strings"
)

// IsMountpoint reports whether dir is the mount point of some mount.
func IsMountpoint(dir string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescape(f[4]) == dir {
			return true
		}
	}
	return false
}

// unescape undoes the octal escapes mountinfo uses in paths.
func unescape(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}
