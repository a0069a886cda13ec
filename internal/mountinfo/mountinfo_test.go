package mountinfo

import (
	"os"
	"testing"
)

func TestIsMountpoint(t *testing.T) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skip("no /proc")
	}
	if !IsMountpoint("/proc") {
		t.Error("/proc is not a mount point")
	}
	if IsMountpoint(t.TempDir()) {
		t.Error("a fresh temp dir is a mount point")
	}
	if got := unescape(`/a\040b\134c`); got != `/a b\c` {
		t.Errorf("unescape: %q", got)
	}
}
