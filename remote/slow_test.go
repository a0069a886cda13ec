package remote_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// A reload, a creation and a certificate request wait SlowTimeout for their
// answer, not Timeout; a reload without an answer even then wraps
// ErrNoAnswer and is sent once.
func TestSlowCalls(t *testing.T) {
	emu, c, _ := setup(t, emulator.Config{Demo: true, Quirks: emulator.Quirks{
		ReloadTime: 300 * time.Millisecond, CreateTime: 300 * time.Millisecond, SSLTime: 300 * time.Millisecond}},
		func(cfg *remote.Config) { cfg.Timeout, cfg.SlowTimeout = 100*time.Millisecond, time.Second })
	ctx := context.Background()
	const app = "alice.pythonanywhere.com"
	if got := c.SlowTimeout(); got != time.Second {
		t.Errorf("SlowTimeout %v", got)
	}
	if err := c.ReloadWebapp(ctx, app); err != nil {
		t.Errorf("reload: %v", err)
	}
	if err := c.CreateWebapp(ctx, "new.example.com", "3.10"); err != nil {
		t.Errorf("create: %v", err)
	}
	if err := c.RequestLetsEncrypt(ctx, app); err != nil {
		t.Errorf("letsencrypt: %v", err)
	}
	emu.SetQuirks(emulator.Quirks{ReloadTime: 2 * time.Second})
	start := time.Now()
	err := c.ReloadWebapp(ctx, app)
	if !errors.Is(err, remote.ErrNoAnswer) || time.Since(start) > 1900*time.Millisecond {
		t.Errorf("reload without an answer: %v after %v", err, time.Since(start))
	}
	// The server finishes the reload after the client gave up; it was sent once.
	for deadline := time.Now().Add(5 * time.Second); emu.Stats().Abandoned["POST webapps/{domain}/reload"] != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the abandoned reload never finished")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := emu.Count("POST", "webapps/{domain}/reload"); n != 2 {
		t.Errorf("%d reloads sent, want 2", n)
	}
}
