package cli

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/writeback"
)

func TestParseMountArgs(t *testing.T) {
	c, err := parseMountArgs([]string{"-o", "ro,allow_other,max_read=131072", "--cache-max-size", "512M", "--write-back", "0", "mnt"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.readOnly || !c.allowOther || c.cacheMax != 512<<20 || c.writeBack != 0 {
		t.Errorf("parsed %+v", c)
	}
	if len(c.options) != 1 || c.options[0] != "max_read=131072" {
		t.Errorf("kernel options %v", c.options)
	}
	if !filepath.IsAbs(c.mountpoint) {
		t.Errorf("mountpoint %q not absolute", c.mountpoint)
	}
	for _, bad := range [][]string{{}, {"a", "b"}, {"--dir-cache-time", "0", "m"}, {"--cache-max-size", "lots", "m"}} {
		if _, err := parseMountArgs(bad, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"100": 100, "1k": 1024, "5G": 5 << 30, "1.5M": 3 << 19, "2GiB": 2 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestCheckFUSEMissingDevice(t *testing.T) {
	old := fuseDevice
	defer func() { fuseDevice = old }()
	fuseDevice = filepath.Join(t.TempDir(), "no-fuse")
	err := checkFUSE()
	if err == nil || !strings.Contains(err.Error(), "modprobe fuse") {
		t.Errorf("checkFUSE = %v, want a how-to-fix message", err)
	}
}

func TestPrepareMountpoint(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "new", "mnt")
	created, err := prepareMountpoint(dir, false)
	if err != nil {
		t.Fatalf("missing dir: %v", err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("not created: %v", err)
	}
	if want := []string{dir, filepath.Join(base, "new")}; strings.Join(created, " ") != strings.Join(want, " ") {
		t.Errorf("created %v, want %v", created, want)
	}
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
	if _, err := prepareMountpoint(dir, false); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty dir: %v", err)
	}
	if c, err := prepareMountpoint(dir, true); err != nil || c != nil {
		t.Errorf("nonempty allowed: %v %v", c, err)
	}
	if _, err := prepareMountpoint("/proc", false); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Errorf("/proc: %v", err)
	}
	// What someone put in a created directory keeps it.
	removeCreated(created)
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("a created directory holding a file was removed: %v", err)
	}
	os.Remove(filepath.Join(dir, "x"))
	removeCreated(created)
	if ents, err := os.ReadDir(base); err != nil || len(ents) != 0 {
		t.Errorf("created directories left: %v %v", ents, err)
	}
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	bar := newProgress(&b)
	bar.show(4, 4096, "", "")
	bar.show(4, 4096, "", "")
	bar.show(1, 10, "POST files/path/x: 503", "")
	bar.show(1, 10, "", "waiting 20s for the rate limit")
	bar.show(0, 0, "", "")
	out := b.String()
	for _, want := range []string{"pafs: [..............................] 4 of 4 uploads left (4 KiB)\n",
		"[######################........] 1 of 4 uploads left (10 B); last error: POST files/path/x: 503\n",
		"1 of 4 uploads left (10 B); waiting 20s for the rate limit\n",
		"pafs: [##############################] all 4 uploads done\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "\n") != 4 {
		t.Errorf("progress output:\n%s", out)
	}
}

// On PythonAnywhere itself ($PYTHONANYWHERE_SITE set), the user name and the
// host need no flags.
func TestAccountOnPythonAnywhere(t *testing.T) {
	t.Setenv("API_TOKEN", "t")
	t.Setenv("PYTHONANYWHERE_SITE", "eu.pythonanywhere.com")
	t.Setenv("USER", "carol")
	m := &mount{c: &mountConfig{region: "us"}, log: slog.New(slog.DiscardHandler)}
	url, err := m.account()
	if err != nil || url != "https://eu.pythonanywhere.com" || m.c.username != "carol" {
		t.Errorf("account() = %q, %v; user %q", url, err, m.c.username)
	}
	m = &mount{c: &mountConfig{region: "us", regionSet: true, username: "dave"}, log: slog.New(slog.DiscardHandler)}
	if url, err := m.account(); err != nil || url != "https://www.pythonanywhere.com" || m.c.username != "dave" {
		t.Errorf("explicit flags: %q, %v; user %q", url, err, m.c.username)
	}
}

// The stop wait gives up only when nothing succeeded for the timeout while
// requests kept failing: a wait without failures (the rate limit, a long
// upload) goes on.
func TestStopWatch(t *testing.T) {
	failures := 0
	w := &stopWatch{timeout: time.Minute, failures: func() int { return failures }}
	t0 := time.Now()
	p := writeback.Progress{Ops: 3}
	if w.stuck(p, t0) || w.stuck(p, t0.Add(2*time.Minute)) {
		t.Error("gave up without a failure")
	}
	failures = 5
	if !w.stuck(p, t0.Add(2*time.Minute)) {
		t.Error("did not give up after failures and no progress")
	}
	p.Done = 1 // progress: the clock starts again
	if w.stuck(p, t0.Add(2*time.Minute)) || w.stuck(p, t0.Add(2*time.Minute+30*time.Second)) {
		t.Error("gave up right after progress")
	}
	failures++
	if !w.stuck(p, t0.Add(3*time.Minute+time.Second)) {
		t.Error("did not give up a timeout after the last progress")
	}
}

func TestRateWait(t *testing.T) {
	if got := rateWait([]familyWait{{family: "cpu", waiting: 0, nextFree: 5 * time.Second}}); got != "" {
		t.Errorf("nothing waits, got %q", got)
	}
	got := rateWait([]familyWait{
		{family: "consoles", waiting: 1, nextFree: 2 * time.Second, inWindow: 40, limit: 40, window: time.Minute},
		{family: "files/path", waiting: 3, nextFree: 38 * time.Second, inWindow: 40, limit: 40, window: time.Minute},
	})
	if want := "waiting 38s for the rate limit (files/path: 40 of 40 requests per 1m0s used)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
