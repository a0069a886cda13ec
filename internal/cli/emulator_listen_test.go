package cli

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
)

// startEmulator serves the emulator with args and returns its stdout once
// the serving line is out, and a function that stops it.
func startEmulator(t *testing.T, args ...string) (string, func()) {
	t.Helper()
	o, code := parseEmulatorFlags(append([]string{"--token", "tok", "--no-demo"}, args...), noEnv, io.Discard, io.Discard)
	if code != -1 {
		t.Fatalf("flags %v: exit %d", args, code)
	}
	var out mounttest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveEmulator(ctx, o, &out, io.Discard) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "serving") {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("emulator %v stopped: %v", args, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no serving line: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return out.String(), func() { cancel(); <-done }
}

// The emulator's hooks need no token, so it listens beyond loopback only
// when told to with --listen-public, and prints the address it really
// listens on (issue 10, item 13).
func TestEmulatorListenPublic(t *testing.T) {
	o, _ := parseEmulatorFlags([]string{"--listen", "0.0.0.0:0"}, noEnv, io.Discard, io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := serveEmulator(ctx, o, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--listen-public") {
		t.Fatalf("--listen 0.0.0.0:0 without --listen-public: %v", err)
	}

	out, stop := startEmulator(t, "--listen", "0.0.0.0:0", "--listen-public")
	defer stop()
	if !strings.Contains(out, "serving http://0.0.0.0:") {
		t.Errorf("a wildcard listener is shown as %q", out)
	}
	port := out[strings.Index(out, "0.0.0.0:")+len("0.0.0.0:"):]
	port = port[:strings.IndexByte(port, ' ')]
	resp, err := http.Get("http://127.0.0.1:" + port + "/__emulator/stats")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("hooks on the public listener: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestEmulatorListenLoopbackName(t *testing.T) {
	out, stop := startEmulator(t, "--listen", "localhost:0")
	defer stop()
	if !strings.Contains(out, "serving http://127.0.0.1:") && !strings.Contains(out, "serving http://[::1]:") {
		t.Errorf("localhost shown as %q", out)
	}
}
