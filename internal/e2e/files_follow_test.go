package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
)

// reader is a program left running on the mount (tail -f, a polling loop),
// its output collected.
type reader struct {
	cmd *exec.Cmd
	out *mounttest.Buffer
}

// startReader starts name args in dir; it is killed when the test ends.
func startReader(t *testing.T, dir, name string, args ...string) *reader {
	t.Helper()
	r := &reader{cmd: exec.Command(name, args...), out: &mounttest.Buffer{}}
	r.cmd.Dir = dir
	r.cmd.Env = append(os.Environ(), "LC_ALL=C")
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(r.stop)
	return r
}

// stop kills the reader and waits for it to exit.
func (r *reader) stop() {
	if r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// waitOutput waits until the reader has printed want.
func (r *reader) waitOutput(e *mounttest.Env, want string, d time.Duration) {
	e.T.Helper()
	e.WaitFor(fmt.Sprintf("%s to print %q (printed %q)", r.cmd.Args[0], want, r.out), d, func() bool {
		return strings.Contains(r.out.String(), want)
	})
}

// followed returns the paths .pafs/status lists as followed.
func followed(e *mounttest.Env) []string {
	var out []string
	for _, f := range e.Status().Following.Files {
		out = append(out, f.Path)
	}
	return out
}

// tail -f and tail -F on a log see lines appended on the server within the
// follow interval (plus tail's own 1 s sleep); two followers of one file
// share one poll, whose cost stays under the cap (one download per
// interval); .pafs/status lists the file; when the readers exit, polling
// stops and the file costs nothing more.
func TestFollowTail(t *testing.T) {
	const interval = 200 * time.Millisecond
	// Listings and cached contents stay fresh for the whole test: every
	// download counted below is a follow poll.
	e := start(t, "--follow-interval", interval.String(), "--dir-cache-time", "1h")
	const log = "/home/alice/logs/error.log"
	e.Emu.WriteFile(log, []byte("first line\n"))
	path := filepath.Join(e.Home, "logs", "error.log")
	tf := startReader(t, e.Home, "tail", "-f", path)
	tF := startReader(t, e.Home, "tail", "-F", path)
	tf.waitOutput(e, "first line", 10*time.Second)
	tF.waitOutput(e, "first line", 10*time.Second)
	content := "first line\n"
	for i := 2; i <= 4; i++ {
		line := fmt.Sprintf("line %d written on the server", i)
		content += line + "\n"
		e.Emu.WriteFile(log, []byte(content))
		// tail sleeps 1 s between polls; pafs polls every interval
		// (backing off to 4 intervals while nothing changes).
		tf.waitOutput(e, line, 5*time.Second)
		tF.waitOutput(e, line, 5*time.Second)
	}
	if got := followed(e); len(got) != 1 || got[0] != log {
		t.Errorf("status follows %v, want [%s]", got, log)
	}

	// The cost of following, measured over a few seconds with nothing
	// changing: at most one download per interval for both readers.
	before, t0 := e.Counts(), time.Now()
	time.Sleep(3 * time.Second) // measuring a rate: the time is the measure
	d := mounttest.Delta(before, e.Counts())
	limit := int(time.Since(t0)/interval) + 1
	t.Logf("following for %s cost %v (cap %d)", time.Since(t0).Round(time.Millisecond), d, limit)
	if n := d["GET files/path"]; n > limit || n == 0 || len(d) != 1 {
		t.Errorf("following for %s cost %v, want 1..%d downloads", time.Since(t0).Round(time.Millisecond), d, limit)
	}

	tf.stop()
	tF.stop()
	e.WaitFor("the follow to end", 5*time.Second, func() bool { return len(followed(e)) == 0 })
	before = e.Counts()
	time.Sleep(5 * interval) // the absence of polls: five intervals
	if d := mounttest.Delta(before, e.Counts()); len(d) != 0 {
		t.Errorf("after the readers exited: %v, want no requests", d)
	}
	if out := tf.out.String(); strings.Count(out, "line 3 written") != 1 {
		t.Errorf("tail -f printed %q", out)
	}
}

// Pollers that keep the file open and read at its end (a Python readline
// loop, less +F), and pollers that open the file again and again (watch
// cat), see server-side appends too. Each follows its own file, so that
// each way of polling is seen on its own.
func TestFollowPollers(t *testing.T) {
	e := start(t, "--follow-interval", "200ms", "--dir-cache-time", "1h")
	for _, name := range []string{"py.log", "less.log", "cat.log"} {
		e.Emu.WriteFile("/home/alice/app/"+name, []byte("started\n"))
	}
	dir := filepath.Join(e.Home, "app")
	py := startReader(t, dir, "python3", "-u", "-c", `
import sys, time
f = open(sys.argv[1])
while True:
    line = f.readline()
    if line:
        print("py:", line, end="")
    else:
        time.sleep(0.3)
`, "py.log")
	// less needs a terminal: script gives it one.
	less := startReader(t, dir, "script", "-qfc", "TERM=dumb less +F less.log", "/dev/null")
	loop := startReader(t, dir, "sh", "-c", `while :; do tail -n 1 cat.log | sed 's/^/cat: /'; sleep 1; done`)
	py.waitOutput(e, "py: started", 10*time.Second)
	less.waitOutput(e, "started", 10*time.Second)
	loop.waitOutput(e, "cat: started", 10*time.Second)
	for _, name := range []string{"py.log", "less.log", "cat.log"} {
		e.Emu.WriteFile("/home/alice/app/"+name, []byte("started\nrequest served\n"))
	}
	py.waitOutput(e, "py: request served", 10*time.Second)
	less.waitOutput(e, "request served", 10*time.Second)
	loop.waitOutput(e, "cat: request served", 10*time.Second)
	if got := followed(e); len(got) != 3 {
		t.Errorf("status follows %v, want the three logs", got)
	}
	// Three followed files share the cap: one download per interval.
	before, t0 := e.Counts(), time.Now()
	time.Sleep(2 * time.Second) // measuring a rate: the time is the measure
	d := mounttest.Delta(before, e.Counts())
	if limit := int(time.Since(t0)/(200*time.Millisecond)) + 1; d["GET files/path"] > limit || len(d) > 1 {
		t.Errorf("following three files for %s cost %v, want at most %d downloads", time.Since(t0).Round(time.Millisecond), d, limit)
	}
	text := readFile(t, filepath.Join(e.Dir, ".pafs", "status"))
	if !strings.Contains(text, "Following: 3 files") || !strings.Contains(text, "/home/alice/app/less.log  1 reader, every") {
		t.Errorf(".pafs/status does not list the followed files:\n%s", text)
	}
	t.Logf("%s", text)
}

// A file held open by another process shows a server-side change to every
// view once pafs has downloaded it again: stat by name, fstat, reads
// through the old descriptor and a mapping of it (the kernel's cached pages
// are invalidated), and tar c archives all of it.
func TestServerChangeHeldOpen(t *testing.T) {
	// Contents expire at once, so the cat below downloads again.
	e := start(t, "--dir-cache-time", "200ms")
	oldData := strings.Repeat("old log line\n", 50)
	newData := strings.Repeat("NEW log line\n", 50) + strings.Repeat("new line\n", 5)
	e.Emu.WriteFile("/home/alice/app.log", []byte(oldData))
	path := filepath.Join(e.Home, "app.log")
	held, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if b, err := io.ReadAll(held); err != nil || string(b) != oldData {
		t.Fatalf("first read: %d bytes, %v", len(b), err)
	}
	mapped, err := syscall.Mmap(int(held.Fd()), 0, len(oldData), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mapped)
	mustEqual(t, "the mapping before the change", mapped, []byte(oldData))
	startReader(t, e.Home, "sh", "-c", "exec sleep 120 < app.log")
	e.Emu.WriteFile("/home/alice/app.log", []byte(newData))
	e.WaitFor("cat to show the new content", 10*time.Second, func() bool { return readFile(t, path) == newData })

	if out := strings.TrimSpace(e.MustRun(e.Home, "stat", "-c", "%s", "app.log")); out != strconv.Itoa(len(newData)) {
		t.Errorf("stat says %s bytes, cat read %d", out, len(newData))
	}
	if fi, err := held.Stat(); err != nil || fi.Size() != int64(len(newData)) {
		t.Errorf("fstat of the held descriptor: %v, %v; want %d bytes", fi.Size(), err, len(newData))
	}
	e.WaitFor("the mapping to show the new content", 5*time.Second, func() bool {
		return string(mapped) == newData[:len(oldData)]
	})
	b := make([]byte, len(newData)+100)
	n, err := held.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	mustEqual(t, "read through the held descriptor", b[:n], []byte(newData))

	tarball := filepath.Join(t.TempDir(), "a.tar")
	e.MustRun(e.Home, "tar", "cf", tarball, "app.log")
	out := t.TempDir()
	e.MustRun(out, "tar", "xf", tarball)
	got, err := os.ReadFile(filepath.Join(out, "app.log"))
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "tar c of the held file", got, []byte(newData))
}

// make rebuilds a target after its source changed on the server: the
// download that shows the new content gives the file a new mtime.
func TestMakeAfterServerChange(t *testing.T) {
	e := start(t, "--dir-cache-time", "200ms")
	e.Emu.WriteFile("/home/alice/proj/in.txt", []byte("v1\n"))
	proj := filepath.Join(e.Home, "proj")
	writeLocal(t, filepath.Join(proj, "Makefile"), []byte("out.txt: in.txt\n\tcp in.txt out.txt\n"))
	e.MustRun(proj, "make")
	if got := readFile(t, filepath.Join(proj, "out.txt")); got != "v1\n" {
		t.Fatalf("first make: out.txt %q", got)
	}
	e.Emu.WriteFile("/home/alice/proj/in.txt", []byte("v2, changed on the server\n"))
	e.WaitFor("the new in.txt", 10*time.Second, func() bool {
		return readFile(t, filepath.Join(proj, "in.txt")) == "v2, changed on the server\n"
	})
	out := e.MustRun(proj, "make")
	if got := readFile(t, filepath.Join(proj, "out.txt")); got != "v2, changed on the server\n" {
		t.Errorf("make after the server change: %q; out.txt %q", out, got)
	}
}

// The first download of a file is no change: the mtime it showed stays, or
// vim, which stats the file when it reads it and again before it writes,
// refuses to save ("changed since reading it").
func TestFirstReadKeepsMtime(t *testing.T) {
	e := start(t)
	e.Emu.WriteFile("/home/alice/fresh.py", []byte("value = 0\n"))
	e.Emu.WriteFile("/home/alice/other.py", []byte("value = 0\n"))
	before := e.MustRun(e.Home, "stat", "-c", "%Y.%y", "fresh.py")
	readFile(t, filepath.Join(e.Home, "fresh.py"))
	if after := e.MustRun(e.Home, "stat", "-c", "%Y.%y", "fresh.py"); after != before {
		t.Errorf("mtime before the first read %q, after %q", before, after)
	}
	e.MustRun(e.Home, "vim", "-u", "NONE", "-N", "-es", "-c", "%s/value = 0/value = 1/", "-c", "wq", "other.py")
	waitRemote(t, e, "other.py", "value = 1\n")
}
