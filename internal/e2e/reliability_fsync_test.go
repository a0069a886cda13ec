package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pafs/pafs/remote/emulator"
)

// fsync (and close with --write-back 0) returns only once the server holds
// what was written before it, even while an upload of older content of the
// same file is in flight. That upload's success says nothing about the new
// data: before the fix, fsync returned as soon as it finished, with the old
// (or a torn) content on the server.
func TestFsyncWaitsForItsOwnData(t *testing.T) {
	for _, c := range []struct {
		name      string
		writeBack string
		sync      func(f *os.File) error
	}{
		{"fsync", "20ms", func(f *os.File) error { return f.Sync() }},
		{"close with write-back 0", "0", func(f *os.File) error { return f.Close() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := startRig(t, rigOptions{Parallel: true, Args: []string{"--write-back", c.writeBack}})
			p := filepath.Join(r.Home, "f.txt")
			v1, v2 := bytes.Repeat([]byte("1"), 1000), bytes.Repeat([]byte("2"), 3000)
			r.emu.SetLatency(time.Second) // uploads take a second
			go os.WriteFile(p, v1, 0o644) // with write-back 0, this close waits for the upload
			r.WaitFor("the upload of v1 to be in flight", 10*time.Second, func() bool {
				q := r.Status().Queue
				return q.InFlight == 1
			})
			// v2 overwrites all of v1 (no O_TRUNC: with write-back 0, the
			// truncation would itself wait for the upload in flight).
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(v2); err != nil {
				t.Fatal(err)
			}
			if err := c.sync(f); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got, _ := r.emu.ReadFile(r.remotePath("f.txt"))
			if !bytes.Equal(got, v2) {
				t.Fatalf("%s returned with %d bytes %q... on the server, want the %d bytes written before it",
					c.name, len(got), head(got), len(v2))
			}
		})
	}
}

// A file truncated while its upload is in flight (an editor saving again at
// once) lands with its final content, promptly: the upload is not retried
// with the old length until the client gives up.
func TestTruncatedDuringUploadLandsPromptly(t *testing.T) {
	r := startRig(t, rigOptions{Parallel: true, Emulator: emulator.Config{},
		Args: []string{"--write-back", "10ms"}})
	p := filepath.Join(r.Home, "big.bin")
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16) // 4 MiB: takes a while to send
	final := []byte("short now\n")
	r.emu.SetFaults(emulator.Faults{SpikeRate: 1, Spike: 300 * time.Millisecond})
	for round := 0; round < 5; round++ {
		writeLocal(t, p, big)
		time.Sleep(time.Duration(10+round*7) * time.Millisecond)
		writeLocal(t, p, final)
	}
	r.emu.SetFaults(emulator.Faults{})
	took := timed(func() { r.waitIdle(t, 20*time.Second) })
	if got, _ := r.emu.ReadFile(r.remotePath("big.bin")); !bytes.Equal(got, final) {
		t.Fatalf("server has %d bytes, want %q", len(got), final)
	}
	t.Logf("queue drained %s after the last write", took.Round(time.Millisecond))
}
