package e2e

import (
	"os/exec"
	"testing"
)

// Sharing a file just written: the share waits for the file's pending
// upload, as a reload does, instead of asking the server about a file it
// does not have yet (ENOENT).
func TestShareJustWritten(t *testing.T) {
	if _, err := exec.LookPath("setfattr"); err != nil {
		t.Skip("attr tools not installed")
	}
	e := start(t, "--write-back", "1m")
	e.MustSh(e.Home, "echo x > fresh.txt && setfattr -n user.pafs.share -v 1 fresh.txt")
	if got, ok := remote(e, "fresh.txt"); !ok || got != "x\n" {
		t.Errorf("server holds %q (%v), want the file uploaded before the share", got, ok)
	}
	if e.Emu.Shares()["/home/alice/fresh.txt"] == "" {
		t.Errorf("not shared on the server: %v", e.Emu.Shares())
	}
}
