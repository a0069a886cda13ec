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

func TestParse(t *testing.T) {
	m, ok := parse(`49 27 0:44 / /tmp/a\040b rw,nosuid,nodev,relatime shared:5 - fuse.pafs pafs:demo rw,user_id=0`)
	if !ok || m.Dir != "/tmp/a b" || m.Dev != "0:44" || m.FSType != "fuse.pafs" || m.Source != "pafs:demo" {
		t.Errorf("parsed %+v %v", m, ok)
	}
	if _, ok := parse("short line"); ok {
		t.Error("a short line parsed")
	}
	if m, ok := Lookup("/proc"); !ok || m.FSType != "proc" {
		t.Errorf("/proc: %+v %v", m, ok)
	}
}
