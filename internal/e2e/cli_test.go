package e2e

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// pafs runs the binary with env (API_TOKEN is not inherited) and returns its
// combined output and exit code, failing the test after a deadline.
func pafs(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mounttest.Binary(t), args...)
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("pafs %v did not finish: %s", args, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return string(out), code
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "API_TOKEN=") && !strings.HasPrefix(kv, "PA_USERNAME=") {
			env = append(env, kv)
		}
	}
	return env
}

// Each start-up failure gets a clear one-line error and a non-zero exit.
func TestMountStartupErrors(t *testing.T) {
	mounttest.RequireFUSE(t)
	t.Parallel()
	emu := emulator.New(emulator.Config{Username: "alice", Token: "good-token"})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	dir := t.TempDir()
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no token", nil, []string{"--api-url", srv.URL, "--username", "alice", dir}, "no API token"},
		{"wrong token", []string{"API_TOKEN=bad"}, []string{"--api-url", srv.URL, "--username", "alice", dir}, "token was refused"},
		{"wrong user", []string{"API_TOKEN=good-token"}, []string{"--api-url", srv.URL, "--username", "bob", dir}, `does not belong to user "bob"`},
		{"no user", []string{"API_TOKEN=good-token"}, []string{"--api-url", srv.URL, dir}, "no username"},
		{"plain http", []string{"API_TOKEN=good-token"}, []string{"--api-url", "http://example.com", "--username", "alice", dir}, "refusing plain http://"},
		{"not empty", []string{"API_TOKEN=good-token"}, []string{"--api-url", srv.URL, "--username", "alice", full}, "not empty"},
		{"bad region", []string{"API_TOKEN=good-token"}, []string{"--region", "mars", "--username", "alice", dir}, "region"},
	}
	for _, c := range cases {
		out, code := pafs(t, c.env, append([]string{"mount"}, c.args...)...)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, output %q; want an error mentioning %q", c.name, code, out, c.want)
		}
		if lines := strings.Count(strings.TrimSpace(out), "\n"); lines > 1 {
			t.Errorf("%s: error is not one line: %q", c.name, out)
		}
		if strings.Contains(out, "good-token") {
			t.Errorf("%s: the token appears in the output", c.name)
		}
	}
}

// A second mount on a busy mount point is refused.
func TestMountPointBusy(t *testing.T) {
	e := start(t)
	out, code := pafs(t, []string{"API_TOKEN=x"}, "mount", "--api-url", e.Server.URL, "--username", "alice", e.Dir)
	if code == 0 || !strings.Contains(out, "busy") {
		t.Errorf("exit %d: %q", code, out)
	}
}

// The token never shows in the log (even at -v), the status file or the
// process's arguments; a token file readable by others gets a warning.
func TestTokenStaysSecret(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	const token = "0123456789abcdef0123456789abcdef01234567"
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o644)
	t.Parallel()
	e := mounttest.Start(t, mounttest.Options{
		Emulator: emulator.Config{Token: token, RateLimit: -1},
		Args:     []string{"-v", "--token-file", tokenFile, "--write-back", "50ms"},
		Env:      []string{"API_TOKEN="},
	})
	e.MustSh(e.Home, "echo x > f.txt && cat f.txt && ls -la")
	e.Emu.SetFaults(emulator.Faults{ErrorRate: 1})
	e.Sh(e.Home, "cat missing.txt; ls nothere")
	e.Emu.SetFaults(emulator.Faults{})
	e.WaitIdle()
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(e.Pid()) + "/cmdline")
	status := readFile(t, filepath.Join(e.Dir, ".pafs", "status")) + readFile(t, filepath.Join(e.Dir, ".pafs", "status.json"))
	for what, text := range map[string]string{"log": e.Log(), "argv": string(cmdline), "status": status} {
		if strings.Contains(text, token) {
			t.Errorf("the token appears in the %s", what)
		}
	}
	if !strings.Contains(e.Log(), "readable by other users") {
		t.Errorf("no warning about the token file's permissions:\n%s", e.Log())
	}
	if !strings.Contains(e.Log(), "level=DEBUG") {
		t.Error("-v did not log requests (the test would prove nothing)")
	}
}

// pafs status prints the status file; pafs unmount uploads what is pending
// with a progress report, then unmounts.
func TestStatusAndUnmount(t *testing.T) {
	e := start(t, "--write-back", "1h")
	writeLocal(t, filepath.Join(e.Home, "pending.txt"), []byte("flush me\n"))
	out, code := pafs(t, nil, "status", e.Dir)
	if code != 0 || !strings.Contains(out, "Uploads: 1 pending") || !strings.Contains(out, "/home/alice/pending.txt") {
		t.Errorf("pafs status: exit %d\n%s", code, out)
	}
	js, code := pafs(t, nil, "status", "--json", e.Dir)
	if code != 0 || !strings.Contains(js, `"pending": 1`) {
		t.Errorf("pafs status --json: exit %d\n%s", code, js)
	}
	out, code = pafs(t, nil, "unmount", e.Dir)
	if code != 0 || !strings.Contains(out, "unmounted") {
		t.Errorf("pafs unmount: exit %d\n%s", code, out)
	}
	if got, ok := remote(e, "pending.txt"); !ok || got != "flush me\n" {
		t.Errorf("after unmount the server has %q %v", got, ok)
	}
	if mounttest.Mounted(e.Dir) {
		t.Error("still mounted")
	}
	if out, code := pafs(t, nil, "status", e.Dir); code == 0 || !strings.Contains(out, "not mounted") {
		t.Errorf("status of an unmounted dir: exit %d %q", code, out)
	}
}

// A mount left dead by kill -9 is cleared by pafs unmount, and the next
// mount uploads what the dead one had queued.
func TestStaleMountRecovery(t *testing.T) {
	e := start(t, "--write-back", "1h")
	writeLocal(t, filepath.Join(e.Home, "queued.txt"), []byte("survives\n"))
	pid := e.Pid()
	syscall.Kill(pid, syscall.SIGKILL)
	e.WaitFor("the process to die", 10*time.Second, func() bool { return syscall.Kill(pid, 0) != nil })
	if _, err := os.ReadFile(filepath.Join(e.Dir, ".pafs", "pid")); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("reading from the dead mount: %v, want ENOTCONN", err)
	}
	out, code := pafs(t, nil, "status", e.Dir)
	if code == 0 || !strings.Contains(out, "dead mount") {
		t.Errorf("status of a dead mount: exit %d %q", code, out)
	}
	out, code = pafs(t, nil, "unmount", e.Dir)
	if code != 0 || !strings.Contains(out, "cleared the dead mount") {
		t.Errorf("unmount of a dead mount: exit %d %q", code, out)
	}
	e.Kill() // reap the process in the harness
	e.Remount()
	waitRemote(t, e, "queued.txt", "survives\n")
}

// The demo the way README.md gives it: `go run . mount --demo DIR`, in a
// subprocess; every top-level folder lists, an edit and a reload work, the
// status file reads, and SIGTERM takes away the mount point pafs created.
func TestReadmeDemo(t *testing.T) {
	mounttest.RequireFUSE(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pa") // does not exist yet: pafs creates it
	var log bytes.Buffer
	cmd := exec.Command("go", "run", ".", "mount", "--demo", dir)
	cmd.Dir = mounttest.ModuleRoot(t)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		syscall.Unmount(dir, syscall.MNT_DETACH)
	}()
	deadline := time.Now().Add(120 * time.Second)
	for !mounttest.Mounted(dir) {
		if time.Now().After(deadline) {
			t.Fatalf("demo did not mount:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if e.IsDir() {
			if _, err := os.ReadDir(filepath.Join(dir, e.Name())); err != nil {
				t.Errorf("ls %s: %v", e.Name(), err)
			}
		}
	}
	for _, want := range []string{"files", "home", "webapps", "schedule", "always_on", "consoles", "students", "account", ".pafs"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("top level lacks %s: %v", want, names)
		}
	}
	app := filepath.Join(dir, "home", "mysite", "flask_app.py")
	src, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app, append(src, []byte("# edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	webapps, _ := filepath.Glob(filepath.Join(dir, "webapps", "*", "reload"))
	if len(webapps) == 0 {
		t.Fatal("no webapps/*/reload")
	}
	if out, err := exec.Command("touch", webapps[0]).CombinedOutput(); err != nil {
		t.Errorf("touch reload: %v %s", err, out)
	}
	st, err := os.ReadFile(filepath.Join(dir, ".pafs", "status"))
	if err != nil || !strings.Contains(string(st), "Requests") {
		t.Errorf(".pafs/status: %v\n%s", err, st)
	}
	pidb, _ := os.ReadFile(filepath.Join(dir, ".pafs", "pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidb)))
	if pid == 0 {
		t.Fatal("no pid")
	}
	syscall.Kill(pid, syscall.SIGTERM)
	done := make(chan error)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo exited with %v:\n%s", err, log.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("demo did not exit after SIGTERM:\n%s", log.String())
	}
	if mounttest.Mounted(dir) {
		t.Error("mount point still mounted")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the mount point pafs created is left behind: %v", err)
	}
}

// An API that cannot be reached fails the start within a few seconds, in
// one plain line without the client's internals; flag slips get a hint
// (issue 14).
func TestStartupErrorsPlain(t *testing.T) {
	mounttest.RequireFUSE(t)
	t.Parallel()
	// Accepts connections (the kernel does) but never answers.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	env := []string{"API_TOKEN=some-token"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"refused", []string{"--api-url", "http://127.0.0.1:1"}, "cannot reach the API at http://127.0.0.1:1: the connection was refused"},
		{"no answer", []string{"--api-url", "http://" + hang.Addr().String()}, "no answer within"},
		{"no such host", []string{"--api-url", "https://no-such-host.invalid"}, "does not resolve"},
		{"no scheme", []string{"--api-url", "127.0.0.1:8080"}, "give its scheme, https://127.0.0.1:8080 (or http://127.0.0.1:8080"},
		{"demo with --api-url", []string{"--demo", "--api-url", "http://127.0.0.1:1"}, "--demo serves a built-in account: it takes no --api-url"},
		{"demo with --token", []string{"--demo", "--token", "x"}, "it takes no --token"},
		{"bad region", []string{"--region", "mars"}, `--region "mars"`},
	}
	for _, c := range cases {
		dir := filepath.Join(t.TempDir(), "mnt")
		start := time.Now()
		out, code := pafs(t, env, append(append([]string{"mount", "--username", "alice"}, c.args...), dir)...)
		took := time.Since(start)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, output %q; want an error with %q", c.name, code, out, c.want)
		}
		if took > 8*time.Second {
			t.Errorf("%s: failed after %s, want a few seconds", c.name, took.Round(100*time.Millisecond))
		}
		if lines := strings.Count(strings.TrimSpace(out), "\n"); lines > 0 {
			t.Errorf("%s: not one line: %q", c.name, out)
		}
		for _, internal := range []string{"remote:", "BaseURL", "context canceled", "context deadline", "dial tcp", "GET cpu/"} {
			if strings.Contains(out, internal) {
				t.Errorf("%s: the error shows %q: %q", c.name, internal, out)
			}
		}
	}
}
