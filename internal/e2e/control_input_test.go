package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pafs/pafs/internal/mounttest"
)

// Bad values fail the writing command itself (non-zero exit, EINVAL), are
// refused before any request that changes something, leave the file
// reading as before, and put the reason in the status file.
func TestControlWebappBadInput(t *testing.T) {
	e := start(t)
	addApp(e, appA, "mysite")
	d := "webapps/" + appA
	sh(t, e, "cat "+d+"/config.json "+d+"/python_version >/dev/null")
	config := cat(t, e, d+"/config.json")
	before := e.Counts()
	for _, script := range []string{
		"echo maybe > " + d + "/enabled",
		"echo 2.1 > " + d + "/python_version",
		"echo 3.99 > " + d + "/python_version",
		"echo relative/dir > " + d + "/source_directory",
		"printf 'two\\nlines\\n' > " + d + "/password_protection_username",
		`echo '{"python_version": "2.1", "force_https": true}' > ` + d + "/config.json",
		`echo '{"force_https": "perhaps"}' > ` + d + "/config.json",
		`echo '{"domain_name": "evil.example.com"}' > ` + d + "/config.json",
		`echo '{"pyhton_version": "3.11"}' > ` + d + "/config.json",
		`echo '{"force_https": true' > ` + d + "/config.json", // cut short
		`echo '{not json' > ` + d + "/config.json",
		`echo '[1, 2]' > ` + d + "/config.json",
		"head -c 70000 /dev/zero | tr '\\0' x > " + d + "/config.json", // EFBIG
	} {
		fails(t, e, script)
	}
	// The errno itself, as a program sees it.
	if err := os.WriteFile(filepath.Join(e.Dir, d, "enabled"), []byte("maybe\n"), 0o644); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("writing maybe to enabled: %v, want EINVAL", err)
	}
	if err := os.WriteFile(filepath.Join(e.Dir, d, "python_version"), make([]byte, 70000), 0o644); !errors.Is(err, syscall.EFBIG) {
		t.Errorf("a 70000-byte write: %v, want EFBIG", err)
	}
	// Nothing was sent that changes anything, nothing was half-applied.
	d2 := mounttest.Delta(before, e.Counts())
	for k := range d2 {
		if !strings.HasPrefix(k, "GET ") {
			t.Errorf("bad input sent %s (%v)", k, d2)
		}
	}
	w := webapp(t, e, appA)
	if w.PythonVersion != "3.10" || w.ForceHTTPS || !w.Enabled || w.SourceDirectory != "/home/alice/mysite" {
		t.Errorf("server state changed: %+v", w)
	}
	if got := cat(t, e, d+"/config.json"); got != config {
		t.Errorf("config.json reads differently after failed writes:\n%s\nwas\n%s", got, config)
	}
	if got := sh(t, e, "cat "+d+"/enabled "+d+"/python_version"); got != "true\n3.10\n" {
		t.Errorf("files read %q after failed writes", got)
	}
	errs := lastErrors(e)
	for _, want := range []string{`"maybe" is not a boolean`, `"2.1" is not available`, "unknown member", "cannot change", "invalid JSON"} {
		if !strings.Contains(errs, want) {
			t.Errorf("status last errors lack %q:\n%s", want, errs)
		}
	}
	// The API's own refusals land there too (a version the local list has
	// but the server refuses is not reachable here; a bad domain is).
	fails(t, e, "mkdir webapps/under_score")
	if errs := lastErrors(e); !strings.Contains(errs, "mkdir webapps/under_score") {
		t.Errorf("the API's refusal is not in the status:\n%s", errs)
	}
}

// Files in control folders: only editors' temp names can be created (and
// stay local); control files cannot be removed; nothing but rmdir of an
// object's folder deletes anything.
func TestControlForeignFilesRefused(t *testing.T) {
	e := start(t)
	addApp(e, appA, "mysite")
	d := "webapps/" + appA
	fails(t, e, "rm -r "+d) // lists the folders below, unlinks nothing
	before := e.Counts()
	fails(t, e, "touch "+d+"/notes.txt")
	fails(t, e, "echo x > "+d+"/newfile")
	fails(t, e, "rm "+d+"/python_version")
	fails(t, e, "rmdir "+d+"/logs")
	fails(t, e, "mkdir "+d+"/sub")
	fails(t, e, "ln -s /tmp "+d+"/link")
	fails(t, e, "mv "+d+"/python_version "+d+"/pv")
	// Editors' files stay in memory.
	sh(t, e, "echo swap > "+d+"/.config.json.swp && echo backup > "+d+"/config.json~ && cat "+d+"/.config.json.swp")
	if out := sh(t, e, "ls -a "+d+" | grep -c -e swp -e '~'"); out != "2\n" {
		t.Errorf("editor files listed %q times", out)
	}
	sh(t, e, "rm "+d+"/.config.json.swp "+d+"/config.json~")
	equalCounts(t, "refused and local operations", only(mounttest.Delta(before, e.Counts()), "webapps", "files"), map[string]int{})
	if _, ok := e.Emu.Webapp(appA); !ok {
		t.Fatal("the web app is gone")
	}
	if out := sh(t, e, "cat "+d+"/python_version"); out != "3.10\n" {
		t.Errorf("python_version reads %q", out)
	}
}

// vim and sed -i editing config.json change only the fields they changed,
// in one PATCH: a field changed elsewhere meanwhile is not reverted.
func TestControlConfigJSONInEditors(t *testing.T) {
	e := start(t)
	addApp(e, appA, "mysite")
	d := "webapps/" + appA
	cat(t, e, d+"/config.json") // cached now
	api(t, e, "PATCH", "webapps/"+appA+"/", `{"virtualenv_path": "/home/alice/.venv"}`)
	before := e.Counts()
	e.MustRun(e.Dir, "vim", "-u", "NONE", "-N", "-es", "-c", `%s/"force_https": false/"force_https": true/`, "-c", "wq", d+"/config.json")
	equalCounts(t, "vim", only(mounttest.Delta(before, e.Counts()), "webapps"), map[string]int{"PATCH webapps/{domain}": 1})
	w := webapp(t, e, appA)
	if !w.ForceHTTPS {
		t.Error("vim's change did not reach the server")
	}
	if w.VirtualenvPath != "/home/alice/.venv" {
		t.Errorf("vim's save reverted a change made elsewhere: virtualenv %q", w.VirtualenvPath)
	}
	api(t, e, "PATCH", "webapps/"+appA+"/", `{"working_directory": "/home/alice/work"}`)
	before = e.Counts()
	sh(t, e, `sed -i 's/"python_version": "3.10"/"python_version": "3.11"/' `+d+"/config.json")
	equalCounts(t, "sed -i", only(mounttest.Delta(before, e.Counts()), "webapps"), map[string]int{"PATCH webapps/{domain}": 1})
	w = webapp(t, e, appA)
	if w.PythonVersion != "3.11" || w.WorkingDirectory != "/home/alice/work" || !w.ForceHTTPS {
		t.Errorf("after sed -i: %+v", w)
	}
	// A bad edit fails sed and changes nothing.
	before = e.Counts()
	fails(t, e, `sed -i 's/"python_version": "3.11"/"python_version": "2.1"/; s/"force_https": true/"force_https": false/' `+d+"/config.json")
	equalCounts(t, "bad sed -i", only(mounttest.Delta(before, e.Counts()), "webapps"), map[string]int{})
	if w := webapp(t, e, appA); w.PythonVersion != "3.11" || !w.ForceHTTPS {
		t.Errorf("a refused edit was half-applied: %+v", w)
	}
	// In-place writers (cp, nano: open with O_TRUNC, write, close) too.
	edited := strings.Replace(cat(t, e, d+"/config.json"), `"working_directory": "/home/alice/work"`,
		`"working_directory": "/home/alice/cp"`, 1)
	src := filepath.Join(t.TempDir(), "config.json")
	writeLocal(t, src, []byte(edited))
	before = e.Counts()
	sh(t, e, "cp "+src+" "+d+"/config.json")
	equalCounts(t, "cp", only(mounttest.Delta(before, e.Counts()), "webapps"), map[string]int{"PATCH webapps/{domain}": 1})
	if w := webapp(t, e, appA); w.WorkingDirectory != "/home/alice/cp" {
		t.Errorf("after cp: working directory %q", w.WorkingDirectory)
	}
	// Unchanged content: no request at all; enabled is applied through
	// its own endpoint.
	before = e.Counts()
	sh(t, e, "cat "+d+"/config.json > /tmp/pafs-cfg-$$ && cat /tmp/pafs-cfg-$$ > "+d+"/config.json && rm /tmp/pafs-cfg-$$")
	sh(t, e, `echo '{"enabled": false}' > `+d+"/config.json")
	equalCounts(t, "rewrite and enabled", only(mounttest.Delta(before, e.Counts()), "webapps"),
		map[string]int{"POST webapps/{domain}/disable": 1})
	if webapp(t, e, appA).Enabled {
		t.Error("enabled: false in config.json left the site enabled")
	}
	if out := sh(t, e, "ls -a "+d+" | grep -c -e '~' -e swp -e sed -e 4913 || true"); out != "0\n" {
		t.Errorf("editor files left behind: %s", sh(t, e, "ls -a "+d))
	}
}
