package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// Reading and writing a web app's fields: values read as a line, a write
// changes the server with one request, and the file shows the new value
// without asking again.
func TestControlWebappFields(t *testing.T) {
	e := start(t)
	addApp(e, appA, "mysite")
	e.Emu.AddWebapp(emulator.Webapp{DomainName: appB, PythonVersion: "3.11", SourceDirectory: "/home/alice/b",
		WorkingDirectory: "/home/alice/", ForceHTTPS: true, Enabled: true}, "")
	if out := sh(t, e, "cat webapps/*/python_version"); out != "3.10\n3.11\n" {
		t.Errorf("cat webapps/*/python_version = %q", out)
	}
	if out := sh(t, e, "grep -l true webapps/*/force_https"); out != "webapps/"+appB+"/force_https\n" {
		t.Errorf("grep -l true webapps/*/force_https = %q", out)
	}
	d := "webapps/" + appA
	before := e.Counts()
	sh(t, e, "echo 3.11 > "+d+"/python_version")
	if w := webapp(t, e, appA); w.PythonVersion != "3.11" {
		t.Errorf("python_version on the server: %s", w.PythonVersion)
	}
	// One PATCH; the version list is fetched once to check the value locally.
	equalCounts(t, "echo 3.11 > python_version", mounttest.Delta(before, e.Counts()),
		map[string]int{"PATCH webapps/{domain}": 1, "GET default_python3_version": 1})
	before = e.Counts()
	if got := cat(t, e, d+"/python_version"); got != "3.11\n" {
		t.Errorf("python_version reads %q after the write", got)
	}
	sh(t, e, "echo false > "+d+"/enabled")
	if w := webapp(t, e, appA); w.Enabled {
		t.Error("echo false > enabled left the site enabled")
	}
	if got := cat(t, e, d+"/enabled"); got != "false\n" {
		t.Errorf("enabled reads %q", got)
	}
	sh(t, e, "echo on > "+d+"/enabled && echo yes > "+d+"/force_https && printf 3.12 > "+d+"/python_version")
	sh(t, e, "echo s3cret > "+d+"/password_protection_password && echo ' bob ' > "+d+"/password_protection_username")
	sh(t, e, "echo /home/alice/.venvs/site > "+d+"/virtualenv_path")
	equalCounts(t, "the writes", mounttest.Delta(before, e.Counts()), map[string]int{
		"POST webapps/{domain}/disable": 1, "POST webapps/{domain}/enable": 1, "PATCH webapps/{domain}": 5})
	w := webapp(t, e, appA)
	if !w.Enabled || !w.ForceHTTPS || w.PythonVersion != "3.12" || w.PasswordProtectionPassword != "s3cret" ||
		w.PasswordProtectionUsername != "bob" || w.VirtualenvPath != "/home/alice/.venvs/site" {
		t.Errorf("server state after the writes: %+v", w)
	}
	// Truncating to nothing is a write of "": it clears the virtualenv. It
	// takes effect at close (a shell closes a dup of the descriptor before
	// writing, so a flush with nothing written must not apply).
	sh(t, e, ": > "+d+"/virtualenv_path")
	e.WaitFor("virtualenv cleared", 10*time.Second, func() bool { return webapp(t, e, appA).VirtualenvPath == "" })

	// True sizes, so that tools trusting st_size read everything; modes as
	// documented.
	for _, name := range []string{"config.json", "python_version", "source_directory", "enabled", "force_https"} {
		p := filepath.Join(e.Dir, d, name)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if data := readFile(t, p); int64(len(data)) != st.Size() {
			t.Errorf("%s: stat size %d, content %d bytes", name, st.Size(), len(data))
		}
	}
	for name, want := range map[string]os.FileMode{"config.json": 0o600, "password_protection_password": 0o600,
		"python_version": 0o644, "reload": 0o200} {
		if got := mode(t, filepath.Join(e.Dir, d, name)); got != want {
			t.Errorf("%s mode %v, want %v", name, got, want)
		}
	}
	for link, want := range map[string]string{
		"wsgi.py":        "../../files/var/www/alice_pythonanywhere_com_wsgi.py",
		"logs/error.log": "../../../files/var/log/" + appA + ".error.log",
	} {
		if got, err := os.Readlink(filepath.Join(e.Dir, d, link)); err != nil || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", link, got, err, want)
		}
	}
	if got := sh(t, e, "head -3 "+d+"/wsgi.py"); !strings.Contains(got, "WSGI") {
		t.Errorf("wsgi.py does not lead to the WSGI file: %q", got)
	}
}

// `cat webapps/*/*` on three apps costs one list of web apps (shared by
// every file through the cache) plus what files/ needs for the wsgi.py
// links; a second run within the TTL costs no control request at all.
func TestControlCatAllWebappsIsAHandful(t *testing.T) {
	e := start(t)
	for i, d := range []string{appA, appB, appC} {
		addApp(e, d, "site"+string(rune('a'+i)))
	}
	before := e.Counts()
	out, _ := e.Sh(e.Dir, "cat webapps/*/* 2>/dev/null") // directories make cat complain
	if strings.Count(out, `"domain_name"`) != 3 || strings.Count(out, "Hello, World!") != 3 {
		t.Errorf("cat webapps/*/* missed files:\n%s", out)
	}
	d := mounttest.Delta(before, e.Counts())
	equalCounts(t, "control requests of cat webapps/*/*", only(d, "webapps", "default", "cpu", "system"),
		map[string]int{"GET webapps": 1})
	total := 0
	for _, n := range d {
		total += n
	}
	// 1 webapps list + files/: listings of /, /var and /var/www, and the
	// three WSGI files.
	if total > 7 {
		t.Errorf("cat webapps/*/* on 3 apps took %d requests: %v", total, d)
	}
	t.Logf("cat webapps/*/* on 3 apps: %d requests: %v", total, d)
	before = e.Counts()
	e.Sh(e.Dir, "cat webapps/*/* 2>/dev/null")
	equalCounts(t, "second cat within the TTL", only(mounttest.Delta(before, e.Counts()), "webapps"), map[string]int{})
}

// One touch, one reload, although touch both opens the file and sets its
// times; echo 1 > reload, touch -c and : > reload reload once each, and
// reading it never does.
func TestControlTouchReloadsOnce(t *testing.T) {
	e := start(t)
	addApp(e, appA, "mysite")
	r := "webapps/" + appA + "/reload"
	sh(t, e, "ls webapps/"+appA) // the list, fetched once
	total := 0
	for _, c := range []struct {
		cmd     string
		reloads int
	}{{"touch " + r, 1}, {"echo 1 > " + r, 1}, {"touch -c " + r, 1}, {": > " + r, 1}, {"touch " + r + " " + r, 2}} {
		before := e.Counts()
		sh(t, e, c.cmd)
		total += c.reloads
		e.WaitFor("reloads", 5*time.Second, func() bool { return webapp(t, e, appA).Reloads >= total })
		time.Sleep(50 * time.Millisecond) // a second reload would come now
		if got := webapp(t, e, appA).Reloads; got != total {
			t.Errorf("%q: %d reloads in all, want %d", c.cmd, got, total)
		}
		equalCounts(t, c.cmd, only(mounttest.Delta(before, e.Counts()), "webapps"),
			map[string]int{"POST webapps/{domain}/reload": c.reloads})
	}
	e.Sh(e.Dir, "cat "+r+" webapps/"+appA+"/* >/dev/null 2>&1")
	time.Sleep(100 * time.Millisecond)
	if got := webapp(t, e, appA).Reloads; got != total {
		t.Errorf("reading reload made reloads: %d, want %d", got, total)
	}
}

// The reload is a barrier: an upload still waiting in the queue (a write
// back delay of an hour) under the app's source directory, or to its WSGI
// file, reaches the server before the reload request does.
func TestControlReloadWaitsForUploads(t *testing.T) {
	e := start(t, "--write-back", "1h")
	addApp(e, appA, "mysite")
	e.Emu.WriteFile("/home/alice/mysite/app.py", []byte("v1\n"))
	wsgi := "/var/www/alice_pythonanywhere_com_wsgi.py"
	writeLocal(t, filepath.Join(e.Home, "mysite", "app.py"), []byte("v2\n"))
	writeLocal(t, filepath.Join(e.Dir, "files", wsgi), []byte("application = None\n"))
	time.Sleep(200 * time.Millisecond)
	if got, _ := remote(e, "mysite/app.py"); got != "v1\n" {
		t.Fatalf("the upload was not held back (server has %q): the test proves nothing", got)
	}
	// Watch the server: a reload counted while the old code is still there
	// is a violation.
	stop := make(chan struct{})
	bad := make(chan string, 1)
	go func() {
		for {
			select {
			case <-stop:
				close(bad)
				return
			default:
			}
			w0, _ := e.Emu.Webapp(appA)
			reloads := w0.Reloads
			code, _ := remote(e, "mysite/app.py")
			w, _ := e.Emu.ReadFile(wsgi)
			if reloads > 0 && (code != "v2\n" || string(w) != "application = None\n") {
				bad <- "reload counted while the server had " + code + " / " + string(w)
				close(bad)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	sh(t, e, "touch webapps/"+appA+"/reload")
	close(stop)
	if msg, ok := <-bad; ok {
		t.Error(msg)
	}
	if got, _ := remote(e, "mysite/app.py"); got != "v2\n" {
		t.Errorf("after touch reload the server has %q", got)
	}
	if got := webapp(t, e, appA).Reloads; got != 1 {
		t.Errorf("%d reloads", got)
	}
}

// --auto-reload: a burst of saves under the source directory makes one
// reload once they stop; saves elsewhere make none; the log says why.
func TestControlAutoReloadDebounces(t *testing.T) {
	e := start(t, "--auto-reload", "--auto-reload-delay", "600ms")
	addApp(e, appA, "mysite")
	addApp(e, appB, "other")
	for i := 0; i < 5; i++ {
		writeLocal(t, filepath.Join(e.Home, "mysite", "app.py"), []byte(strings.Repeat("x", i)+"\n"))
		time.Sleep(120 * time.Millisecond)
	}
	writeLocal(t, filepath.Join(e.Home, "notes.txt"), []byte("not code\n"))
	e.WaitFor("the auto reload", 10*time.Second, func() bool { return webapp(t, e, appA).Reloads == 1 })
	e.WaitIdle()
	time.Sleep(1200 * time.Millisecond) // two quiet periods: nothing more may come
	if a, b := webapp(t, e, appA).Reloads, webapp(t, e, appB).Reloads; a != 1 || b != 0 {
		t.Errorf("after a burst of 5 saves: %d reloads of %s, %d of %s; want 1 and 0", a, appA, b, appB)
	}
	if !strings.Contains(e.Log(), "auto-reload: reloading web app after uploads") {
		t.Errorf("the log does not say why it reloaded:\n%s", e.Log())
	}
	// A save to the WSGI file counts too.
	writeLocal(t, filepath.Join(e.Dir, "files/var/www/www_example_com_wsgi.py"), []byte("application = None\n"))
	e.WaitFor("the WSGI reload", 10*time.Second, func() bool { return webapp(t, e, appB).Reloads == 1 })
}

// A manual reload covers the uploads its barrier made: --auto-reload does
// not reload again for them.
func TestControlAutoReloadAfterTouch(t *testing.T) {
	e := start(t, "--auto-reload", "--auto-reload-delay", "500ms", "--write-back", "1h")
	addApp(e, appA, "mysite")
	sh(t, e, "ls webapps") // the list the auto-reloader matches uploads against
	writeLocal(t, filepath.Join(e.Home, "mysite", "app.py"), []byte("v2\n"))
	sh(t, e, "touch webapps/"+appA+"/reload")
	if got, _ := remote(e, "mysite/app.py"); got != "v2\n" {
		t.Fatalf("the barrier did not upload: %q", got)
	}
	time.Sleep(1500 * time.Millisecond) // three quiet periods
	if got := webapp(t, e, appA).Reloads; got != 1 {
		t.Errorf("%d reloads, want the one touch made", got)
	}
}

// Web apps made or deleted elsewhere show up or vanish within the TTL; the
// files of a vanished app fail with ENOENT.
func TestControlWebappsFollowTheServer(t *testing.T) {
	e := start(t, "--dir-cache-time", "1s")
	addApp(e, appA, "mysite")
	if out := sh(t, e, "ls webapps"); out != appA+"\n" {
		t.Fatalf("ls webapps = %q", out)
	}
	addApp(e, appB, "b")
	e.WaitFor("an app made elsewhere", 5*time.Second, func() bool {
		out, _ := e.Sh(e.Dir, "ls webapps")
		return out == appA+"\n"+appB+"\n"
	})
	api(t, e, "DELETE", "webapps/"+appA+"/", "")
	e.WaitFor("an app deleted elsewhere", 5*time.Second, func() bool {
		out, _ := e.Sh(e.Dir, "ls webapps")
		return out == appB+"\n"
	})
	if out := fails(t, e, "cat webapps/"+appA+"/python_version"); !strings.Contains(out, "No such file") {
		t.Errorf("reading a deleted app's file: %q", out)
	}
}

// mkdir creates a web app with the account's default Python 3 version;
// rmdir deletes it and leaves its code.
func TestControlWebappMkdirRmdir(t *testing.T) {
	e := start(t)
	sh(t, e, "mkdir webapps/"+appB)
	w := webapp(t, e, appB)
	if w.PythonVersion != "3.10" {
		t.Errorf("new web app has Python %s, want the default 3.10", w.PythonVersion)
	}
	if out := sh(t, e, "ls webapps && cat webapps/"+appB+"/python_version"); out != appB+"\n3.10\n" {
		t.Errorf("after mkdir: %q", out)
	}
	fails(t, e, "mkdir webapps/not_a_domain")
	sh(t, e, "rmdir webapps/"+appB)
	if _, ok := e.Emu.Webapp(appB); ok {
		t.Error("rmdir left the web app")
	}
	if !e.Emu.Exists("/var/www/www_example_com_wsgi.py") {
		t.Error("rmdir deleted the WSGI file")
	}
	if out := sh(t, e, "ls webapps"); out != "" {
		t.Errorf("ls webapps after rmdir: %q", out)
	}
	fails(t, e, "rmdir webapps/"+appB)
}

// A custom domain without a CNAME: the API reloads but answers 409
// cname_error; touch succeeds and the log says why the site may not answer.
func TestControlReloadCNAMEWarning(t *testing.T) {
	e := start(t)
	e.Emu.AddWebapp(emulator.Webapp{DomainName: "www.custom-example.org", PythonVersion: "3.10",
		SourceDirectory: "/home/alice/site", Enabled: true, CNAMEError: true}, "")
	if out, code := e.Sh(e.Dir, "touch webapps/www.custom-example.org/reload"); code != 0 {
		t.Fatalf("touch reload: exit %d %s", code, out)
	}
	if got := webapp(t, e, "www.custom-example.org").Reloads; got != 1 {
		t.Errorf("%d reloads", got)
	}
	e.WaitFor("a CNAME warning in the log", 5*time.Second, func() bool {
		return strings.Contains(strings.ToLower(e.Log()), "cname")
	})
}
