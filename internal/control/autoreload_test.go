package control_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/control"
	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/remote/emulator"
)

// withFiles gives the Control a files/ tree over the same account, with
// uploads held back for writeBack (0: at close).
func withFiles(t *testing.T, writeBack time.Duration, files **vfs.FS) func(*control.Config) {
	return func(cfg *control.Config) {
		f, err := vfs.New(cfg.Client, vfs.Options{Home: "/home/" + user, CacheDir: t.TempDir(), WriteBack: writeBack})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		cfg.Files, *files = f, f
	}
}

// save writes a file through files/, as an editor's save does.
func save(e *env, files *vfs.FS, dir, name, data string) {
	e.t.Helper()
	h, _, err := files.Create(e.ctx, dir, name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	e.must("create "+name, err)
	_, err = h.Write([]byte(data), 0)
	e.must("write "+name, err)
	e.must("close "+name, h.Flush(e.ctx))
	h.Release()
}

// --auto-reload: a burst of saves under a web app's source directory makes
// one reload once they stop; saves elsewhere make none; a save to the WSGI
// file counts too.
func TestAutoReload(t *testing.T) {
	var files *vfs.FS
	e := start(t, withFiles(t, 0, &files), func(cfg *control.Config) {
		cfg.AutoReload, cfg.AutoReloadDelay = true, 150*time.Millisecond
	})
	e.addApp(appA, "mysite")
	e.addApp(appB, "other")
	e.emu.Mkdir("/home/alice/mysite")
	reloads := func(d string) int { w, _ := e.emu.Webapp(d); return w.Reloads }
	for i := range 3 {
		save(e, files, "/home/alice/mysite", "app.py", strings.Repeat("x", i)+"\n")
	}
	save(e, files, "/home/alice", "notes.txt", "not code\n")
	e.waitFor("the auto reload", func() bool { return reloads(appA) == 1 })
	time.Sleep(450 * time.Millisecond) // three quiet periods: nothing more may come
	if a, b := reloads(appA), reloads(appB); a != 1 || b != 0 {
		t.Errorf("after a burst of 3 saves: %d reloads of %s, %d of %s; want 1 and 0", a, appA, b, appB)
	}
	save(e, files, "/var/www", "www_example_com_wsgi.py", "application = None\n")
	e.waitFor("the WSGI reload", func() bool { return reloads(appB) == 1 })
}

// A reload sends the uploads of the app's code first; the auto-reloader
// does not reload again for them.
func TestReloadWaitsForUploads(t *testing.T) {
	var files *vfs.FS
	e := start(t, withFiles(t, time.Hour, &files), func(cfg *control.Config) {
		cfg.AutoReload, cfg.AutoReloadDelay = true, 100*time.Millisecond
	})
	e.addApp(appA, "mysite")
	e.emu.WriteFile("/home/alice/mysite/app.py", []byte("v1\n"))
	e.names("webapps") // the list the auto-reloader matches uploads against
	save(e, files, "/home/alice/mysite", "app.py", "v2\n")
	if got, _ := e.emu.ReadFile("/home/alice/mysite/app.py"); string(got) != "v1\n" {
		t.Fatalf("the upload was not held back (server has %q): the test proves nothing", got)
	}
	e.must("reload", e.write("webapps/"+appA+"/reload", "\n"))
	if got, _ := e.emu.ReadFile("/home/alice/mysite/app.py"); string(got) != "v2\n" {
		t.Errorf("reloaded with %q on the server", got)
	}
	time.Sleep(300 * time.Millisecond) // three quiet periods
	if w, _ := e.emu.Webapp(appA); w.Reloads != 1 {
		t.Errorf("%d reloads, want the one the write made", w.Reloads)
	}
}

// A refresh that fails keeps serving the last answer (and says so in the
// log); with none at hand, the error is the caller's.
func TestStaleListServed(t *testing.T) {
	e := start(t, func(cfg *control.Config) { cfg.TTL = time.Millisecond })
	e.addApp(appA, "mysite")
	if got := e.cat("webapps/" + appA + "/python_version"); got != "3.10\n" {
		t.Fatalf("python_version %q", got)
	}
	e.emu.SetFaults(emulator.Faults{ErrorRate: 1})
	time.Sleep(2 * time.Millisecond) // past the TTL
	if got := e.cat("webapps/" + appA + "/python_version"); got != "3.10\n" {
		t.Errorf("with the API failing, python_version reads %q", got)
	}
	_, err := e.read("account/cpu.json")
	if err == nil {
		t.Error("cpu.json read without the API")
	}
}
