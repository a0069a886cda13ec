package remote_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// TestThrottleDoesNotSpendRetries: 429s are waited out however many there
// are, within the bound, even with a single retry allowed.
func TestThrottleDoesNotSpendRetries(t *testing.T) {
	emu, c, _ := setup(t, emulator.Config{Demo: true, Faults: emulator.Faults{ThrottleStorm: true}},
		func(cfg *remote.Config) { cfg.MaxRetries, cfg.RateWindow = 1, 2*time.Second })
	go func() {
		for emu.Stats().Total429 < 3 {
			time.Sleep(10 * time.Millisecond)
		}
		emu.SetFaults(emulator.Faults{})
	}()
	if _, err := c.ListWebapps(context.Background()); err != nil {
		t.Fatalf("after %d 429s: %v", emu.Stats().Total429, err)
	}
}

// TestThrottleBounded: a storm longer than three rate windows fails the call
// with EIO instead of holding it for ever.
func TestThrottleBounded(t *testing.T) {
	const window = 500 * time.Millisecond
	emu, c, _ := setup(t, emulator.Config{Demo: true, Faults: emulator.Faults{ThrottleStorm: true}},
		func(cfg *remote.Config) { cfg.MaxRetries, cfg.RateWindow = 6, window })
	start := time.Now()
	_, err := c.ListWebapps(context.Background())
	took := time.Since(start)
	if remote.StatusOf(err) != 429 || remote.Errno(err) != syscall.EIO {
		t.Fatalf("err %v, want the 429 as EIO", err)
	}
	// The storm asks for 1 s a time: the second wait would pass 1.5 s.
	if n := emu.Stats().Total429; n != 2 || took > 3*window+time.Second {
		t.Fatalf("gave up after %d 429s and %v", n, took)
	}
}
