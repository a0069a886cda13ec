package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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

// tryMount runs `pafs mount` until it exits. One that mounts (which the
// tests below expect never to happen) is given until done reports true or
// five seconds to show what it does, then stopped.
func tryMount(t *testing.T, env []string, done func() bool, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mounttest.Binary(t), append([]string{"mount"}, args...)...)
	cmd.Env = append(cleanEnv(), env...)
	var out mounttest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	var err error
wait:
	for {
		select {
		case err = <-exited:
			break wait
		case <-time.After(20 * time.Millisecond):
		}
		if strings.Contains(out.String(), "pafs: mounted") {
			for until := time.Now().Add(5 * time.Second); !done() && time.Now().Before(until); {
				time.Sleep(20 * time.Millisecond)
			}
			cmd.Process.Signal(syscall.SIGTERM)
			err = <-exited
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("pafs mount %v neither mounted nor exited: %s", args, out.String())
		}
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return out.String(), code
}

// snapshot describes every file and directory under root: mode, and for
// files a digest of the content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := st.Mode().String()
		if st.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out[strings.TrimPrefix(p, root)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q is %q, was %q", what, p, got[p], w)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: %q (%s) appeared", what, p, g)
		}
	}
}

// A cache directory holding alice's queued uploads, mounted for bob on
// another server: pafs refuses, naming both, and changes nothing; alice's
// next mount uploads them (issue 10, item 2).
func TestCacheDirOfAnotherAccount(t *testing.T) {
	e := start(t, "--write-back", "1h")
	writeLocal(t, filepath.Join(e.Home, "alice.txt"), []byte("alice's\n"))
	e.Kill()
	before := snapshot(t, e.CacheDir)

	bob := emulator.New(emulator.Config{Username: "bob", Token: "bob-token"})
	srv := httptest.NewServer(bob)
	defer srv.Close()
	bobDir := t.TempDir()
	bobPosts := func() bool { return bob.Stats().Requests["POST files/path"] > 0 }
	out, code := tryMount(t, []string{"API_TOKEN=bob-token"}, bobPosts,
		"--api-url", srv.URL, "--username", "bob", "--cache-dir", e.CacheDir, bobDir)
	if code == 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "bob") || !strings.Contains(out, e.Server.URL) {
		t.Errorf("bob's mount on alice's cache: exit %d, output %q; want a refusal naming both accounts", code, out)
	}
	if n := bob.Stats().Requests["POST files/path"]; n != 0 {
		t.Errorf("bob's account got %d uploads from alice's queue", n)
	}
	if _, ok := bob.ReadFile("/home/alice/alice.txt"); ok {
		t.Error("alice's file was created in bob's account")
	}
	if mounttest.Mounted(bobDir) {
		syscall.Unmount(bobDir, syscall.MNT_DETACH)
	}
	sameSnapshot(t, "cache dir after the refused mount", snapshot(t, e.CacheDir), before)

	e.Remount()
	waitRemote(t, e, "alice.txt", "alice's\n")
}

// A cache directory whose queued changes carry no owner (left by an older
// pafs) is not replayed into whatever account mounts it: pafs refuses and
// says how to proceed; --adopt-cache-dir uploads them as this account.
func TestCacheDirUnknownOwner(t *testing.T) {
	e := start(t, "--write-back", "1h")
	writeLocal(t, filepath.Join(e.Home, "old.txt"), []byte("queued by an old pafs\n"))
	e.Kill()
	if err := os.Remove(filepath.Join(e.CacheDir, "owner.json")); err != nil {
		t.Fatalf("no owner recorded: %v", err)
	}
	before := snapshot(t, e.CacheDir)
	args := []string{"--api-url", e.Server.URL, "--username", "alice", "--cache-dir", e.CacheDir, t.TempDir()}
	env := []string{"API_TOKEN=" + e.Emu.Token()}
	posts := func() bool { return e.Emu.Stats().Requests["POST files/path"] > 0 }
	out, code := tryMount(t, env, posts, args...)
	if code == 0 || !strings.Contains(out, "--adopt-cache-dir") {
		t.Errorf("mount on an unowned queue: exit %d, output %q", code, out)
	}
	sameSnapshot(t, "cache dir after the refused mount", snapshot(t, e.CacheDir), before)
	if _, ok := remote(e, "old.txt"); ok {
		t.Error("the unowned queue was replayed")
	}
	out, code = tryMount(t, env, func() bool { _, ok := remote(e, "old.txt"); return ok },
		append([]string{"--adopt-cache-dir"}, args...)...)
	if got, _ := remote(e, "old.txt"); got != "queued by an old pafs\n" || code != 0 {
		t.Errorf("--adopt-cache-dir: exit %d, server has %q\n%s", code, got, out)
	}
}

// --cache-dir naming a directory that holds someone else's files: pafs
// refuses and leaves its mode and files alone (issue 10, item 8).
func TestCacheDirForeign(t *testing.T) {
	mounttest.RequireFUSE(t)
	t.Parallel()
	emu := emulator.New(emulator.Config{Username: "alice", Token: "good-token"})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	foreign := t.TempDir()
	os.Chmod(foreign, 0o755)
	writeLocal(t, filepath.Join(foreign, "notes.txt"), []byte("mine, not pafs's\n"))
	before := snapshot(t, foreign)
	out, code := tryMount(t, []string{"API_TOKEN=good-token"}, func() bool { return false },
		"--api-url", srv.URL, "--username", "alice", "--cache-dir", foreign, t.TempDir())
	if code == 0 || !strings.Contains(out, "not empty") {
		t.Errorf("mount with a foreign --cache-dir: exit %d, output %q", code, out)
	}
	sameSnapshot(t, "foreign directory", snapshot(t, foreign), before)

	// A directory that only looks like a cache (a content/ of someone's
	// files, no lock file): pafs would empty content/, so it refuses.
	lookalike := t.TempDir()
	os.Chmod(lookalike, 0o755)
	writeLocal(t, filepath.Join(lookalike, "content", "photo.jpg"), []byte("not a cache item\n"))
	before = snapshot(t, lookalike)
	out, code = tryMount(t, []string{"API_TOKEN=good-token"}, func() bool { return false },
		"--api-url", srv.URL, "--username", "alice", "--cache-dir", lookalike, t.TempDir())
	if code == 0 || !strings.Contains(out, "content/") {
		t.Errorf("mount with a content/ of foreign files as --cache-dir: exit %d, output %q", code, out)
	}
	sameSnapshot(t, "look-alike directory", snapshot(t, lookalike), before)

	// A new path is created private; an empty directory is taken as is.
	fresh := filepath.Join(t.TempDir(), "new", "cache")
	empty := t.TempDir()
	os.Chmod(empty, 0o755)
	for _, dir := range []string{fresh, empty} {
		mnt := t.TempDir()
		out, code := tryMount(t, []string{"API_TOKEN=good-token"}, func() bool { return true },
			"--api-url", srv.URL, "--username", "alice", "--cache-dir", dir, mnt)
		if code != 0 || !strings.Contains(out, "pafs: mounted") {
			t.Errorf("--cache-dir %s: exit %d, output %q", dir, code, out)
		}
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("new cache dir: %v %v, want 0700", st.Mode(), err)
	}
	if st, _ := os.Stat(empty); st.Mode().Perm() != 0o755 {
		t.Errorf("an empty directory given as cache was changed to %v", st.Mode())
	}
}

// pafs unmount on a mount that is not pafs's, holding a .pafs/pid that names
// another process: it refuses at once and signals nothing (issue 10, item 12).
func TestUnmountNotPafs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	sleep := exec.Command("sleep", "300")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	writeLocal(t, filepath.Join(dir, ".pafs", "pid"), []byte(fmt.Sprintf("%d\n", sleep.Process.Pid)))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mounttest.Binary(t), "unmount", dir)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Errorf("pafs unmount of a tmpfs did not return within 10 s: %s", out)
	} else if err == nil || !strings.Contains(string(out), "not a pafs mount") {
		t.Errorf("pafs unmount of a tmpfs: %v, output %q", err, out)
	}
	if !alive(sleep.Process.Pid) {
		t.Error("pafs unmount signalled the process named in the tmpfs's .pafs/pid")
	}
	if !mounttest.Mounted(dir) {
		t.Error("the tmpfs was unmounted")
	}
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// A file name carrying terminal escape sequences is shown escaped by pafs
// status and .pafs/status, never sent raw to the terminal (issue 10, item 13).
func TestStatusEscapesNames(t *testing.T) {
	e := start(t, "--write-back", "1h")
	name := "evil\x1b]0;owned\x07\x1b[31mred\rname.txt"
	writeLocal(t, filepath.Join(e.Home, name), []byte("x\n"))
	out, code := pafs(t, nil, "status", e.Dir)
	file := readFile(t, filepath.Join(e.Dir, ".pafs", "status"))
	for what, text := range map[string]string{"pafs status": out, ".pafs/status": file} {
		if strings.ContainsAny(text, "\x1b\x07\r") {
			t.Errorf("%s prints control characters raw:\n%q", what, text)
		}
		if !strings.Contains(text, `evil\x1b]0;owned\a\x1b[31mred\rname.txt`) {
			t.Errorf("%s does not show the name escaped:\n%s", what, text)
		}
	}
	if code != 0 {
		t.Errorf("pafs status: exit %d", code)
	}
}

// A --read-only mount over a cache holding uploads queued by an earlier run
// sends them (they were written and accepted then) and says so, on stderr
// and in .pafs/status (issue 10, item 13).
func TestReadOnlyMountSendsQueued(t *testing.T) {
	e := start(t, "--write-back", "1h")
	writeLocal(t, filepath.Join(e.Home, "earlier.txt"), []byte("written before\n"))
	e.Kill()
	mnt := t.TempDir()
	var statusText string
	out, code := tryMount(t, []string{"API_TOKEN=" + e.Emu.Token()}, func() bool {
		if got, _ := remote(e, "earlier.txt"); got != "written before\n" {
			return false
		}
		b, _ := os.ReadFile(filepath.Join(mnt, ".pafs", "status"))
		statusText = string(b)
		return true
	}, "--api-url", e.Server.URL, "--username", "alice", "--cache-dir", e.CacheDir, "--read-only", mnt)
	if code != 0 {
		t.Fatalf("read-only mount: exit %d\n%s", code, out)
	}
	if got, _ := remote(e, "earlier.txt"); got != "written before\n" {
		t.Errorf("the queued upload did not reach the server: %q", got)
	}
	const say = "read-only mount: uploading 1 change queued by an earlier run"
	if !strings.Contains(out, say) {
		t.Errorf("the read-only mount did not say it uploads queued changes:\n%s", out)
	}
	if !strings.Contains(statusText, say) {
		t.Errorf(".pafs/status does not say it:\n%s", statusText)
	}
}
