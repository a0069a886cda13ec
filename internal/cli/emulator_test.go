package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
)

func noEnv(string) string { return "" }

func TestEmulatorFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	o, code := parseEmulatorFlags(nil, noEnv, &out, &errOut)
	if code != -1 || o.listen != "127.0.0.1:0" || o.username != "demo" || o.rateLimit != 40 ||
		o.rateWindow != time.Minute || !o.demo || !o.tokenGenerated || len(o.token) != 40 {
		t.Fatalf("defaults %+v code %d", o, code)
	}
	o, _ = parseEmulatorFlags([]string{"--token", "given", "--no-demo", "--rate-limit", "0"}, func(string) string { return "env" }, &out, &errOut)
	if o.token != "given" || o.tokenGenerated || o.demo || o.rateLimit != 0 {
		t.Errorf("flags %+v", o)
	}
	if o, _ = parseEmulatorFlags(nil, func(k string) string { return map[string]string{"API_TOKEN": "env"}[k] }, &out, &errOut); o.token != "env" {
		t.Errorf("token from $API_TOKEN: %q", o.token)
	}
	out.Reset()
	if _, code := parseEmulatorFlags([]string{"--help"}, noEnv, &out, &errOut); code != 0 {
		t.Errorf("--help exit %d", code)
	}
	for _, f := range []string{"--listen", "--username", "--token", "--rate-limit", "--rate-window", "--latency", "--fail-rate", "--no-demo"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("--help does not describe %s", f)
		}
	}
	for _, bad := range [][]string{{"--nope"}, {"--fail-rate", "2"}, {"extra"}, {"--rate-window", "0s"}} {
		if _, code := parseEmulatorFlags(bad, noEnv, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d", bad, code)
		}
	}
}

func TestServeEmulator(t *testing.T) {
	var out, errOut mounttest.Buffer
	o, _ := parseEmulatorFlags([]string{"--listen", "127.0.0.1:0", "--token", "s3cret-token", "--username", "alice"}, noEnv, io.Discard, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveEmulator(ctx, o, &out, &errOut) }()

	line := regexp.MustCompile(`^pafs emulator: serving (http://127\.0\.0\.1:\d+) for user alice \(rate limit 40/1m0s\)\n$`)
	deadline := time.Now().Add(5 * time.Second)
	for !line.MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no serving line; stdout %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	base := line.FindStringSubmatch(out.String())[1]
	req, _ := http.NewRequest("GET", base+"/api/v0/user/alice/webapps/", nil)
	req.Header.Set("Authorization", "Token s3cret-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET webapps: %v %v", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "alice.pythonanywhere.com") {
		t.Errorf("demo data missing: %s", body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serveEmulator: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no clean shutdown")
	}
	if strings.Contains(out.String()+errOut.String(), "s3cret-token") {
		t.Error("a given token was printed")
	}
}

func TestServeEmulatorGeneratedToken(t *testing.T) {
	var out mounttest.Buffer
	o, _ := parseEmulatorFlags([]string{"--rate-limit", "-1"}, noEnv, io.Discard, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveEmulator(ctx, o, &out, io.Discard) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), o.token) {
		if time.Now().After(deadline) {
			t.Fatalf("generated token not shown: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "(rate limit off)") {
		t.Errorf("stdout %q", out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServeEmulatorBadListen(t *testing.T) {
	o, _ := parseEmulatorFlags([]string{"--listen", "256.0.0.1:0"}, noEnv, io.Discard, io.Discard)
	if err := serveEmulator(context.Background(), o, io.Discard, io.Discard); err == nil {
		t.Error("want a listen error")
	}
}

// TestRunEmulatorSIGTERM checks the real entry point: it exits 0 on SIGTERM. The
// signal is sent only once the serving line is out, i.e. after runEmulator has
// installed its handler, so it cannot kill the test binary.
func TestRunEmulatorSIGTERM(t *testing.T) {
	var out mounttest.Buffer
	code := make(chan int, 1)
	go func() { code <- runEmulator([]string{"--token", "x", "--no-demo"}, &out, io.Discard) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "serving http://") {
		if time.Now().After(deadline) {
			t.Fatalf("no serving line: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit status %d", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runEmulator did not return after SIGTERM")
	}
}
