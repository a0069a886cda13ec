package remote_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// TestTokenNeverLeaks drives a bad request, a 401, a retried 5xx and a 429
// with debug logging on, and looks for either token in the logs and the
// error strings.
func TestTokenNeverLeaks(t *testing.T) {
	var logs mounttest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	wrongToken := strings.Repeat("9", 40)
	emu, c, srv := setup(t, emulator.Config{Demo: true, RateLimit: 1, RateWindow: time.Second},
		func(cfg *remote.Config) { cfg.Logger, cfg.RateLimit = logger, -1 })
	bad, err := remote.New(remote.Config{BaseURL: srv.URL, Username: user, Token: wrongToken,
		Logger: logger, RateLimit: -1, RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var errs []error
	_, err = c.CreateSchedule(ctx, remote.ScheduleCreate{Interval: "weekly"}) // 400
	errs = append(errs, err)
	_, err = c.CreateSchedule(ctx, remote.ScheduleCreate{Command: "x", Interval: "hourly"}) // 429, then waits and succeeds
	errs = append(errs, err)
	_, err = bad.ListDir(ctx, "/home/alice") // 401
	errs = append(errs, err)
	emu.SetFaults(emulator.Faults{ErrorRate: 1})
	emu.SetRateLimit(-1, 0)
	_, err = c.CPU(ctx) // 5xx, retried, then given up
	errs = append(errs, err)

	out := logs.String()
	for _, tok := range []string{testToken, wrongToken} {
		if strings.Contains(out, tok) {
			t.Fatalf("token in logs:\n%s", out)
		}
		for _, e := range errs {
			if e != nil && strings.Contains(e.Error(), tok) {
				t.Fatalf("token in error %q", e)
			}
		}
	}
	for _, want := range []string{"status=401", "status=400", "retrying request", "rate limit: 429", "status=500"} {
		if !strings.Contains(out, want) && !(want == "status=500" && strings.Contains(out, "status=503")) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if errs[0] == nil || errs[2] == nil || errs[3] == nil || errs[1] != nil {
		t.Fatalf("unexpected outcomes: %v", errs)
	}
}

// TestTokenScrubbedFromEchoedBody: a server (or proxy) that echoes the
// Authorization header back in an error must not get the token into the
// error string.
func TestTokenScrubbedFromEchoedBody(t *testing.T) {
	cs := newCanned(t)
	cs.on("GET", "cpu/", reply{status: 400, ct: "text/plain", body: "bad header: Authorization: Token " + testToken})
	_, err := cs.client().CPU(context.Background())
	if err == nil || strings.Contains(err.Error(), testToken) || strings.Contains(apiErr(t, err).Body, testToken) {
		t.Fatalf("err %v", err)
	}
}
