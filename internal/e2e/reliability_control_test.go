package e2e

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pafs/pafs/internal/mounttest"
)

// Extreme writes to control files: empty ones (open with O_TRUNC and close,
// or a zero-byte write) and huge ones (megabytes, in one write and streamed
// by a program). None may crash the mount, hang, send a request that
// changes anything (an empty value is refused, not applied as "clear"
// unless the file documents that), or leave the file reading otherwise.
// docs/control.md: writes beyond 64 KiB are EFBIG.
func TestReliabilityControlExtremeWrites(t *testing.T) {
	e := start(t)
	addApp(e, appA, "mysite")
	d := filepath.Join(e.Dir, "webapps", appA)
	files := []string{"python_version", "enabled", "force_https", "source_directory", "config.json"}
	before := map[string]string{}
	for _, f := range files {
		before[f] = readFile(t, filepath.Join(d, f))
	}
	w0 := webapp(t, e, appA)
	counts := e.Counts()

	for _, f := range files {
		p := filepath.Join(d, f)
		// Huge, in one write: EFBIG, nothing sent.
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 8<<20), 0o644); !errors.Is(err, syscall.EFBIG) {
			t.Errorf("%s: an 8 MiB write: %v, want EFBIG", f, err)
		}
		// Huge, streamed by a program: fails, nothing sent.
		if out, code := e.Sh(d, "head -c 3000000 /dev/urandom > "+f); code == 0 {
			t.Errorf("%s: streaming 3 MB exited 0: %s", f, out)
		}
		// A zero-byte write of an open file: nothing to apply.
		fh, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := fh.Write(nil); err != nil {
			t.Errorf("%s: zero-byte write: %v", f, err)
		}
		if err := fh.Close(); err != nil {
			t.Errorf("%s: close after a zero-byte write: %v", f, err)
		}
	}
	// Nothing above may change anything on the server.
	for k := range mounttest.Delta(counts, e.Counts()) {
		if !strings.HasPrefix(k, "GET ") {
			t.Errorf("extreme writes sent %s", k)
		}
	}
	if w := webapp(t, e, appA); w.PythonVersion != w0.PythonVersion || w.Enabled != w0.Enabled ||
		w.ForceHTTPS != w0.ForceHTTPS || w.SourceDirectory != w0.SourceDirectory {
		t.Errorf("the web app changed: %+v, was %+v", w, w0)
	}
	for _, f := range files {
		if got := readFile(t, filepath.Join(d, f)); got != before[f] {
			t.Errorf("%s reads %q after the extreme writes, was %q", f, got, before[f])
		}
	}
	// Truncated to nothing and closed: a value file with no value, a JSON
	// file with no JSON. Refused (the close or the write says so) or
	// ignored, never applied as a value; the mount answers on.
	for _, f := range []string{"python_version", "enabled", "config.json"} {
		e.Sh(d, ": > "+f)
		if got := readFile(t, filepath.Join(d, f)); got != before[f] {
			t.Errorf("%s reads %q after being emptied, was %q", f, got, before[f])
		}
	}
	if w := webapp(t, e, appA); w.PythonVersion != w0.PythonVersion || w.Enabled != w0.Enabled {
		t.Errorf("emptying files changed the web app: %+v", w)
	}
	// Still working.
	sh(t, e, "echo 3.11 > webapps/"+appA+"/python_version")
	if w := webapp(t, e, appA); w.PythonVersion != "3.11" {
		t.Errorf("after the extremes a normal write did not apply: %+v", w)
	}
}
