// Package mountinfo reads the kernel's mount table, and says whether this
// process can mount with FUSE at all (CheckFUSE).
package mountinfo

import (
	"os"
	"strings"
)

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	Dir    string // mount point
	Dev    string // major:minor of the mounted file system (for FUSE, minor is the connection)
	FSType string // e.g. "fuse.pafs", "tmpfs"
	Source string
}

// IsMountpoint reports whether dir is the mount point of some mount.
func IsMountpoint(dir string) bool {
	_, ok := Lookup(dir)
	return ok
}

// Lookup returns the mount at dir: the last one listed, which is the one on
// top when several are stacked there.
func Lookup(dir string) (Mount, bool) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return Mount{}, false
	}
	var found Mount
	ok := false
	for _, line := range strings.Split(string(b), "\n") {
		if m, valid := parse(line); valid && m.Dir == dir {
			found, ok = m, true
		}
	}
	return found, ok
}

// parse reads one line: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS
// [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS.
func parse(line string) (Mount, bool) {
	f := strings.Fields(line)
	if len(f) < 5 {
		return Mount{}, false
	}
	m := Mount{Dir: unescape(f[4]), Dev: f[2]}
	for i := 5; i < len(f); i++ {
		if f[i] == "-" {
			if i+1 < len(f) {
				m.FSType = f[i+1]
			}
			if i+2 < len(f) {
				m.Source = unescape(f[i+2])
			}
			break
		}
	}
	return m, true
}

// unescape undoes the octal escapes mountinfo uses in paths.
func unescape(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}
