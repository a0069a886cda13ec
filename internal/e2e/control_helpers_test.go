package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// Helpers for the control folders' tests (control_*_test.go).

const (
	appA = "alice.pythonanywhere.com"
	appB = "www.example.com"
	appC = "shop.example.org"
)

// addApp adds a web app with its code in /home/alice/SRC.
func addApp(e *mounttest.Env, domain, src string) {
	e.Emu.AddWebapp(emulator.Webapp{DomainName: domain, PythonVersion: "3.10",
		SourceDirectory: "/home/alice/" + src, WorkingDirectory: "/home/alice/", Enabled: true}, "")
}

func webapp(t *testing.T, e *mounttest.Env, domain string) emulator.Webapp {
	t.Helper()
	w, ok := e.Emu.Webapp(domain)
	if !ok {
		t.Fatalf("no web app %s on the server", domain)
	}
	return w
}

// fails runs a shell script in the mount and fails the test unless it
// exits non-zero; it returns the output.
func fails(t *testing.T, e *mounttest.Env, script string) string {
	t.Helper()
	out, code := e.Sh(e.Dir, script)
	if code == 0 {
		t.Errorf("%q exited 0, want a failure (output %q)", script, out)
	}
	return out
}

// sh runs a shell script in the mount and fails the test if it fails.
func sh(t *testing.T, e *mounttest.Env, script string) string {
	t.Helper()
	return e.MustSh(e.Dir, script)
}

// cat reads a control file.
func cat(t *testing.T, e *mounttest.Env, rel string) string {
	t.Helper()
	return readFile(t, filepath.Join(e.Dir, rel))
}

// api calls the emulator's API directly: a change made elsewhere (the web
// UI, another client), behind the mount's back.
func api(t *testing.T, e *mounttest.Env, method, path, body string) {
	t.Helper()
	req, err := http.NewRequest(method, e.Server.URL+"/api/v0/user/"+e.User+"/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Token "+e.Emu.Token())
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
}

// lastErrors is the status file's "last errors", one message a line.
func lastErrors(e *mounttest.Env) string {
	var b strings.Builder
	st := e.Status()
	for _, ev := range append(st.Errors, st.Notices...) {
		b.WriteString(ev.Op + " " + ev.Path + ": " + ev.Message + "\n")
	}
	return b.String()
}

// only keeps the counts of families whose name starts with one of prefixes
// (after the method): the control folders' requests without files/'.
func only(d map[string]int, prefixes ...string) map[string]int {
	out := map[string]int{}
	for k, v := range d {
		_, fam, _ := strings.Cut(k, " ")
		for _, p := range prefixes {
			if strings.HasPrefix(fam, p) {
				out[k] = v
			}
		}
	}
	return out
}

// mode is a file's permission bits as ls shows them.
func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}
