package vfs_test

import (
	"slices"
	"testing"
	"time"
)

// Invalidate: the next read of a file the server changed is fresh, a name
// the server made shows at once, and a local change not uploaded yet is
// kept (and still uploaded), all without a request of its own.
func TestInvalidate(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.emu.WriteFile("/var/log/app.log", []byte("one\n"))
	if got := e.read("/var/log/app.log"); got != "one\n" {
		t.Fatalf("read %q", got)
	}
	e.names("/var/log")
	e.emu.WriteFile("/var/log/app.log", []byte("one\ntwo\n"))
	e.emu.WriteFile("/var/log/new.log", []byte("new\n"))
	e.write("/var/log", "mine.log", "local\n") // held back: not on the server
	before := e.emu.Stats().Total
	e.fs.Invalidate("/var/log/app.log", "/var/log/new.log", "/var/log/mine.log")
	if n := e.emu.Stats().Total - before; n != 0 {
		t.Errorf("Invalidate made %d requests", n)
	}
	if got := e.read("/var/log/app.log"); got != "one\ntwo\n" {
		t.Errorf("after Invalidate the log reads %q", got)
	}
	if got := e.names("/var/log"); !slices.Contains(got, "new.log") || !slices.Contains(got, "mine.log") {
		t.Errorf("ls /var/log = %v", got)
	}
	if got := e.read("/var/log/mine.log"); got != "local\n" {
		t.Errorf("the local file reads %q", got)
	}
	e.drain()
	if got, _ := e.remote("/var/log/mine.log"); got != "local\n" {
		t.Errorf("the server has %q", got)
	}
}
