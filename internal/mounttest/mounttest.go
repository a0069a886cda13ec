// Package mounttest runs real pafs mounts for tests: the pafs binary, built
// once, serves a mount in a child process (so that the test process can use
// the mount freely without deadlocking the kernel) against an emulator that
// runs in the test process over real HTTP, where the test can inspect it.
package mounttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mountinfo"
	"github.com/pafs/pafs/internal/status"
	"github.com/pafs/pafs/remote/emulator"
)

// RequireFUSE skips the test when FUSE cannot be used here, except under CI
// (CI=true), where a missing FUSE is a failure.
func RequireFUSE(t testing.TB) {
	t.Helper()
	err := mountinfo.CheckFUSE(mountinfo.DefaultFUSEDevice)
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v, and CI=true: install fuse3 or run as root", err)
	}
	t.Skip(err)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the path of a pafs binary built from this source tree.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pafs-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pafs")
		args := []string{"build", "-o", binPath}
		if os.Getenv("PAFS_TEST_RACE") != "" {
			// The mount runs in a child process, so -race on the test binary
			// does not reach it: PAFS_TEST_RACE=1 builds pafs with -race.
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "github.com/pafs/pafs")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// ModuleRoot returns the directory of pafs's go.mod, where README.md's
// commands (`go run . ...`) run.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		t.Fatalf("cannot find the module root (go env GOMOD: %q, %v)", gomod, err)
	}
	return filepath.Dir(gomod)
}

// Options configure a test mount.
type Options struct {
	Emulator emulator.Config // Token and Username are filled in if empty
	Args     []string        // extra `pafs mount` flags
	// Emu, if set, is the emulator to serve (Emulator then gives only the
	// token, user and rate limit of pafs's command line).
	Emu *emulator.Emulator
	// APIURL, if set, is what pafs talks to instead of Env.Server: a proxy
	// or a wrapper a test puts in front of the emulator.
	APIURL string
	Env    []string // extra environment for the mount process
}

// Env is a running test mount.
type Env struct {
	T        testing.TB
	Emu      *emulator.Emulator
	Server   *httptest.Server
	Dir      string // the mount point
	CacheDir string
	User     string
	Home     string // Dir/files/home/USER
	opt      Options

	mu     sync.Mutex
	cmd    *exec.Cmd
	log    *Buffer
	exited chan struct{}
	exit   error
}

// Start starts an emulator and mounts it. The mount is stopped (SIGTERM, then
// checked to exit cleanly) when the test ends.
func Start(t testing.TB, opt Options) *Env {
	t.Helper()
	RequireFUSE(t)
	if opt.Emulator.Token == "" {
		opt.Emulator.Token = emulator.NewToken()
	}
	if opt.Emulator.Username == "" {
		opt.Emulator.Username = "alice"
	}
	emu := opt.Emu
	if emu == nil {
		emu = emulator.New(opt.Emulator)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	e := &Env{T: t, Emu: emu, Server: srv, opt: opt, User: opt.Emulator.Username,
		Dir: t.TempDir(), CacheDir: t.TempDir()}
	e.Home = filepath.Join(e.Dir, "files", "home", e.User)
	e.mount()
	t.Cleanup(func() { e.Stop() })
	return e
}

// Args returns the `pafs mount` command line used by this Env.
func (e *Env) args() []string {
	api := e.Server.URL
	if e.opt.APIURL != "" {
		api = e.opt.APIURL
	}
	a := []string{"mount", "--api-url", api, "--username", e.User, "--cache-dir", e.CacheDir}
	if e.opt.Emulator.RateLimit != 0 {
		limit := e.opt.Emulator.RateLimit
		if limit < 0 {
			limit = -1
		}
		a = append(a, fmt.Sprintf("--rate-limit=%d", limit))
	}
	if e.opt.Emulator.RateWindow != 0 {
		a = append(a, "--rate-window", e.opt.Emulator.RateWindow.String())
	}
	a = append(a, e.opt.Args...)
	return append(a, e.Dir)
}

// mount starts the pafs process and waits until the mount answers.
func (e *Env) mount() {
	t := e.T
	t.Helper()
	cmd := exec.Command(Binary(t), e.args()...)
	cmd.Env = append(os.Environ(), "API_TOKEN="+e.opt.Emulator.Token)
	cmd.Env = append(cmd.Env, e.opt.Env...)
	log := &Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pafs: %v", err)
	}
	exited := make(chan struct{})
	e.mu.Lock()
	e.cmd, e.log, e.exited = cmd, log, exited
	e.mu.Unlock()
	go func() {
		err := cmd.Wait()
		e.mu.Lock()
		e.exit = err
		e.mu.Unlock()
		close(exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), "pafs: mounted") {
		select {
		case <-exited:
			t.Fatalf("pafs exited before mounting: %v\n%s", e.exit, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pafs did not mount within 30s:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Pid returns the process id of the running pafs (0 if none).
func (e *Env) Pid() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd == nil || e.cmd.Process == nil {
		return 0
	}
	return e.cmd.Process.Pid
}

// Log returns what the mount process printed so far.
func (e *Env) Log() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log.String()
}

// Stop sends SIGTERM and waits for pafs to upload what is pending and exit.
// It fails the test if pafs exits non-zero or leaves the mount behind.
func (e *Env) Stop() {
	e.mu.Lock()
	cmd, exited := e.cmd, e.exited
	e.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
	default:
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-exited
			e.T.Errorf("pafs did not exit within 60s of SIGTERM:\n%s", e.Log())
		}
	}
	e.mu.Lock()
	err := e.exit
	e.cmd = nil
	e.mu.Unlock()
	if err != nil {
		e.T.Errorf("pafs exited with %v:\n%s", err, e.Log())
	}
	if Mounted(e.Dir) {
		e.T.Errorf("%s is still mounted after pafs exited", e.Dir)
		syscall.Unmount(e.Dir, syscall.MNT_DETACH)
	}
}

// WaitExit waits up to d for pafs to exit by itself (after a signal or an
// unmount the test caused) and returns its exit code, or -1 if it is still
// running then (the Env then still stops it at the end of the test).
func (e *Env) WaitExit(d time.Duration) int {
	e.mu.Lock()
	cmd, exited := e.cmd, e.exited
	e.mu.Unlock()
	if cmd == nil {
		return -1
	}
	select {
	case <-exited:
	case <-time.After(d):
		return -1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cmd = nil
	if ee, ok := e.exit.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}

// Kill kills pafs with SIGKILL (a crash) and clears the dead mount.
func (e *Env) Kill() {
	e.mu.Lock()
	cmd, exited := e.cmd, e.exited
	e.cmd = nil
	e.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
	if err := syscall.Unmount(e.Dir, syscall.MNT_DETACH); err != nil {
		_ = exec.Command("fusermount3", "-uz", e.Dir).Run() // a last try; the test fails on a mount left anyway
	}
}

// Remount starts pafs again on the same mount point and cache directory.
func (e *Env) Remount() { e.mount() }

// Mounted reports whether dir is a mount point.
func Mounted(dir string) bool { return mountinfo.IsMountpoint(dir) }

// Status reads the mount's .pafs/status.json.
func (e *Env) Status() status.Report {
	e.T.Helper()
	b, err := os.ReadFile(filepath.Join(e.Dir, ".pafs", "status.json"))
	if err != nil {
		e.T.Fatalf("read status: %v", err)
	}
	var r status.Report
	if err := json.Unmarshal(b, &r); err != nil {
		e.T.Fatalf("parse status: %v\n%s", err, b)
	}
	return r
}

// WaitIdle waits until the upload queue is empty.
func (e *Env) WaitIdle() {
	e.T.Helper()
	e.WaitFor("upload queue to drain", 60*time.Second, func() bool {
		q := e.Status().Queue
		return q.Pending == 0 && q.InFlight == 0
	})
}

// WaitFor polls cond until it holds or the deadline passes (then fails).
func (e *Env) WaitFor(what string, d time.Duration, cond func() bool) {
	e.T.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			e.T.Fatalf("timed out after %s waiting for %s\npafs log:\n%s", d, what, e.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Run runs a program in dir and returns its combined output and exit status.
func (e *Env) Run(dir string, name string, args ...string) (string, int) {
	e.T.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+e.T.TempDir(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			e.T.Fatalf("run %s: %v", name, err)
		}
	}
	return string(out), code
}

// MustRun runs a program and fails the test if it exits non-zero.
func (e *Env) MustRun(dir string, name string, args ...string) string {
	e.T.Helper()
	out, code := e.Run(dir, name, args...)
	if code != 0 {
		e.T.Fatalf("%s %s: exit %d\n%s\npafs log:\n%s", name, strings.Join(args, " "), code, out, e.Log())
	}
	return out
}

// Sh runs a shell command line in dir.
func (e *Env) Sh(dir, script string) (string, int) {
	e.T.Helper()
	return e.Run(dir, "sh", "-c", script)
}

// MustSh runs a shell command line and fails the test if it exits non-zero.
func (e *Env) MustSh(dir, script string) string {
	e.T.Helper()
	return e.MustRun(dir, "sh", "-c", script)
}

// Counts returns a copy of the emulator's request counters.
func (e *Env) Counts() map[string]int {
	return e.Emu.Stats().Requests
}

// Delta returns the requests made since before (by "METHOD family").
func Delta(before, after map[string]int) map[string]int {
	d := map[string]int{}
	for k, v := range after {
		if n := v - before[k]; n != 0 {
			d[k] = n
		}
	}
	return d
}

// RemotePath returns the remote path of a path below the mount's files/.
func (e *Env) RemotePath(local string) string {
	rel, err := filepath.Rel(filepath.Join(e.Dir, "files"), local)
	if err != nil {
		e.T.Fatal(err)
	}
	return "/" + filepath.ToSlash(rel)
}

// Buffer is a bytes.Buffer safe for a process's output and a reader at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
