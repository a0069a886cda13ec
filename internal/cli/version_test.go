package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pafs/pafs/remote"
)

// The User-Agent of every request names the version --version prints.
func TestVersionReachesUserAgent(t *testing.T) {
	old, oldRemote := Version, remote.Version
	defer func() { Version, remote.Version = old, oldRemote }()
	Version = "9.9.9-test"
	var out bytes.Buffer
	if code := Main([]string{"--version"}, &out, &out); code != 0 {
		t.Fatalf("pafs --version: exit %d", code)
	}
	if got := strings.TrimSpace(out.String()); got != "pafs 9.9.9-test" {
		t.Errorf("pafs --version printed %q", got)
	}
	if remote.Version != "9.9.9-test" {
		t.Errorf("remote.Version = %q, want the build's version", remote.Version)
	}
}
