package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// An uncached read goes before the uploads queued in the same endpoint family
// and finds a slot left for it, instead of waiting for a window of uploads to
// roll over (issue 10, item 13). Limits scaled down: 10 requests per 2 s.
func TestReadNotBehindUploads(t *testing.T) {
	const limit, window = 10, 2 * time.Second
	t.Parallel()
	e := mounttest.Start(t, mounttest.Options{
		Emulator: emulator.Config{RateLimit: limit, RateWindow: window, Latency: 5 * time.Millisecond},
		// The files are all written before the first upload is due: the
		// uploads go in a burst, the way a copied tree does.
		Args: []string{"--write-back", "1s", "--dir-cache-time", "1h"},
	})
	e.Emu.WriteFile("/home/alice/read-me.txt", []byte("read me now\n"))
	e.MustRun(e.Home, "ls")
	const files = 30
	for i := range files {
		writeLocal(t, filepath.Join(e.Home, fmt.Sprintf("up%02d.txt", i)), []byte("upload\n"))
	}
	// Once the burst of uploads has spent what it may of the window, the
	// read comes.
	e.WaitFor("a burst of uploads", 30*time.Second, func() bool {
		return e.Emu.Stats().Requests["POST files/path"] >= limit-1
	})
	start := time.Now()
	got, err := os.ReadFile(filepath.Join(e.Home, "read-me.txt"))
	took := time.Since(start)
	if err != nil || string(got) != "read me now\n" {
		t.Fatalf("read: %v %q", err, got)
	}
	uploaded := e.Emu.Stats().Requests["POST files/path"]
	t.Logf("uncached read took %v with %d of %d uploads done", took, uploaded, files)
	if took > window/2 {
		t.Errorf("an uncached read waited %v behind queued uploads (window %v)", took, window)
	}
	if s := e.Emu.Stats(); s.Total429 != 0 {
		t.Errorf("the server answered %d 429s", s.Total429)
	}
	e.WaitIdle()
}

// A throttle that outlasts --retries is still a wait: an uncached read made
// during a 429 storm (Retry-After: 1) returns the file once the storm ends,
// not EIO after the retries (issue 10, item 13).
func TestReadWaitsOutThrottle(t *testing.T) {
	e := start(t, "--retries", "2", "--dir-cache-time", "1h")
	e.Emu.WriteFile("/home/alice/slow.txt", []byte("worth the wait\n"))
	e.MustRun(e.Home, "ls")
	e.Emu.SetFaults(emulator.Faults{ThrottleStorm: true})
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		b, err := os.ReadFile(filepath.Join(e.Home, "slow.txt"))
		done <- result{b, err}
	}()
	// More 429s than --retries allows retries.
	e.WaitFor("four 429s", 30*time.Second, func() bool { return e.Emu.Stats().Throttled["files/path"] >= 4 })
	e.Emu.SetFaults(emulator.Faults{})
	r := <-done
	if r.err != nil || string(r.data) != "worth the wait\n" {
		t.Fatalf("read during a throttle storm: %v %q", r.err, r.data)
	}
}
