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
	"regexp"
	"slices"
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

// readmeBlock is a code block of README.md marked for the test with an
// HTML comment "<!-- readme-test: KIND ... -->" before it.
type readmeBlock struct {
	kind  string // mount, run or stop
	lines []string
}

var readmeMarker = regexp.MustCompile(`^<!-- readme-test: (\w+)`)

// readmeBlocks reads the marked code blocks (indented four spaces) of README.md.
func readmeBlocks(t *testing.T, readme string) []readmeBlock {
	t.Helper()
	var blocks []readmeBlock
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		m := readmeMarker.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := readmeBlock{kind: m[1]}
		for i++; i < len(lines) && (strings.TrimSpace(lines[i]) == "" || strings.HasPrefix(lines[i], "    ")); i++ {
			line := strings.TrimPrefix(strings.TrimSpace(lines[i]), "$ ")
			if line != "" && !strings.HasPrefix(line, "#") {
				b.lines = append(b.lines, line)
			}
			if strings.TrimSpace(lines[i]) == "" && len(b.lines) > 0 {
				// A blank line inside a block is part of it only if more
				// indented lines follow.
				if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "    ") {
					break
				}
			}
		}
		if len(b.lines) == 0 {
			t.Fatalf("README.md: the %s marker is not followed by an indented code block", b.kind)
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// splitComment separates a README command from its comment ("cmd  # text").
func splitComment(line string) (cmd, comment string) {
	if i := strings.Index(line, "  #"); i >= 0 {
		return strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+3:])
	}
	return line, ""
}

// README.md's examples, run as written against the demo: the marked blocks
// are read from README.md itself, so that the page and the test cannot
// drift apart. The demo is mounted with README's own command (go run . in
// a clone, HOME a fresh directory, so ~/pa is new); every example line must
// succeed, except those whose comment says it fails, which must fail; a
// listing's comment names what it shows. README's unmount command ends it,
// and ~/pa, which pafs created, is gone (issue 14). An editor is a stub
// that saves one line (vim is interactive).
func TestReadmeExamples(t *testing.T) {
	mounttest.RequireFUSE(t)
	t.Parallel()
	root := mounttest.ModuleRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, string(readme))
	home := t.TempDir()
	stubs := t.TempDir()
	os.WriteFile(filepath.Join(stubs, "vim"), []byte("#!/bin/sh\nfor f; do printf '# edited\\n' >> \"$f\"; done\n"), 0o755)
	// The go command keeps its caches where they are, whatever HOME says.
	goenv, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	vals := strings.Split(strings.TrimSpace(string(goenv)), "\n")
	env := append(cleanEnv(), "HOME="+home, "LC_ALL=C", "PATH="+stubs+":"+os.Getenv("PATH"),
		"GOCACHE="+vals[0], "GOMODCACHE="+vals[1], "GOPATH="+vals[2], "XDG_CACHE_HOME=")
	sh := func(line string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", line)
		cmd.Dir, cmd.Env = root, env
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("%s: did not finish: %s", line, out)
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		return string(out), 0
	}
	dir := filepath.Join(home, "pa")
	var mount *exec.Cmd
	var log bytes.Buffer
	for _, b := range blocks {
		if b.kind == "mount" {
			cmd, _ := splitComment(b.lines[0])
			mount = exec.Command("sh", "-c", cmd)
			mount.Dir, mount.Env = root, env
			mount.Stdout, mount.Stderr = &log, &log
			mount.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := mount.Start(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if mount == nil {
		t.Fatal("README.md marks no mount command")
	}
	defer func() {
		syscall.Kill(-mount.Process.Pid, syscall.SIGKILL)
		syscall.Unmount(dir, syscall.MNT_DETACH)
	}()
	done := make(chan error, 1)
	go func() { done <- mount.Wait() }()
	deadline := time.Now().Add(120 * time.Second)
	for !mounttest.Mounted(dir) {
		select {
		case err := <-done:
			t.Fatalf("the demo exited: %v\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not mount at %s:\n%s", dir, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ran := 0
	for _, kind := range []string{"run", "stop"} {
		for _, b := range blocks {
			if b.kind != kind {
				continue
			}
			for _, line := range b.lines {
				cmd, comment := splitComment(line)
				prog := strings.Fields(cmd)[0]
				if _, err := exec.LookPath(prog); err != nil && prog != "cd" {
					t.Logf("skipped (%s is not installed): %s", prog, cmd)
					continue
				}
				out, code := sh(cmd)
				ran++
				fails := strings.HasPrefix(comment, "fails")
				switch {
				case fails && code == 0:
					t.Errorf("README says this fails, it succeeded: %s\n%s", cmd, out)
				case !fails && code != 0:
					t.Errorf("README example failed (exit %d): %s\n%s\npafs log:\n%s", code, cmd, out, log.String())
				case prog == "ls" && comment != "":
					for _, name := range strings.Fields(comment) {
						if !slices.Contains(strings.Fields(out), name) {
							t.Errorf("%s: README says it shows %s; it shows %q", cmd, name, out)
						}
					}
				}
			}
		}
	}
	if ran < 15 {
		t.Errorf("only %d README examples ran", ran)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the demo exited with %v:\n%s", err, log.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the demo did not exit after README's unmount command:\n%s", log.String())
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
