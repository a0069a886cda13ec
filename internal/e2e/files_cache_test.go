package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// Concurrent readers of one uncached file share one download; concurrent
// listers of one directory share one listing.
func TestConcurrentReadsCoalesce(t *testing.T) {
	t.Parallel()
	e := mounttest.Start(t, mounttest.Options{
		// Latency long enough that the readers overlap.
		Emulator: emulator.Config{Latency: 300 * time.Millisecond, RateLimit: -1},
	})
	data := strings.Repeat("shared\n", 5000)
	e.Emu.WriteFile("/home/alice/shared/big.txt", []byte(data))
	e.MustRun(e.Home, "ls")
	before := e.Counts()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 10; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := os.ReadDir(filepath.Join(e.Home, "shared")); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			b, err := os.ReadFile(filepath.Join(e.Home, "shared", "big.txt"))
			if err == nil && string(b) != data {
				err = fmt.Errorf("read %d bytes, want %d", len(b), len(data))
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	equalCounts(t, "10 readers and 10 listers", mounttest.Delta(before, e.Counts()), map[string]int{"GET files/path": 2})
}

// The content cache stays under --cache-max-size: reading more than fits
// evicts older files (which are then downloaded again), never pending ones.
func TestContentCacheCap(t *testing.T) {
	e := start(t, "--cache-max-size", "300k", "--write-back", "1h")
	for i := 0; i < 5; i++ {
		e.Emu.WriteFile(fmt.Sprintf("/home/alice/c/f%d", i), []byte(strings.Repeat(string(rune('a'+i)), 100<<10)))
	}
	writeLocal(t, filepath.Join(e.Home, "c", "pending"), []byte(strings.Repeat("p", 200<<10)))
	for i := 0; i < 5; i++ {
		readFile(t, filepath.Join(e.Home, "c", fmt.Sprintf("f%d", i)))
	}
	used := e.Status().Cache.ContentBytes
	if used > 300<<10 {
		t.Errorf("content cache holds %d bytes, cap 300 KiB", used)
	}
	if got := readFile(t, filepath.Join(e.Home, "c", "pending")); len(got) != 200<<10 {
		t.Errorf("pending file reads %d bytes", len(got))
	}
	before := e.Counts()
	readFile(t, filepath.Join(e.Home, "c", "f0"))
	if d := mounttest.Delta(before, e.Counts()); d["GET files/path"] != 1 {
		t.Errorf("evicted file re-read: %v, want one download", d)
	}
}

// With the API's rate limit on (scaled down), a burst of work paces itself:
// no 429, everything lands.
func TestBurstUnderRateLimit(t *testing.T) {
	t.Parallel()
	e := mounttest.Start(t, mounttest.Options{
		Emulator: emulator.Config{Latency: 5 * time.Millisecond, RateLimit: 10, RateWindow: time.Second},
		Args:     []string{"--write-back", "50ms"},
	})
	src := t.TempDir()
	for i := 0; i < 35; i++ {
		writeLocal(t, filepath.Join(src, "burst", fmt.Sprintf("f%02d", i)), []byte(fmt.Sprint(i)))
	}
	e.MustRun(src, "cp", "-r", "burst", e.Home)
	e.MustRun(e.Home, "ls", "-l", "burst")
	e.WaitIdle()
	if n := e.Emu.Stats().Total429; n != 0 {
		t.Errorf("%d requests were throttled", n)
	}
	if got := len(e.Emu.Files("/home/alice/burst")); got != 35 {
		t.Errorf("%d files landed, want 35", got)
	}
	if out := e.MustRun(e.Home, "less", "-F", "burst/f07"); out != "7" {
		t.Errorf("less: %q", out)
	}
}
