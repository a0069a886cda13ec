package control_test

// The real server and the real user (docs/control.md): slow actions,
// hourly tasks without an hour, web apps without "enabled", answers to
// writes that are not the object, true sizes of control files, and log
// links that show fresh content after a change.

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/control"
	"github.com/pafs/pafs/internal/status"
	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// withNotices sends the notices to their own list.
func withNotices(n *status.Errors) func(*control.Config) {
	return func(cfg *control.Config) { cfg.Notices = n }
}

func events(l *status.Errors) string {
	var b strings.Builder
	evs, _ := l.List()
	for _, ev := range evs {
		b.WriteString(ev.Op + " " + ev.Path + ": " + ev.Message + "\n")
	}
	return b.String()
}

// A reload, a web app creation and a certificate request may take longer
// than --timeout: they get their own, longer one. A reload that gets no
// answer even then was sent and is probably done: the write succeeds, the
// log and the status notices say so, and it is never sent twice.
func TestSlowActions(t *testing.T) {
	notices := status.NewErrors(10)
	e := startWith(t, emulator.Config{}, func(c *remote.Config) {
		c.Timeout, c.SlowTimeout = 100*time.Millisecond, time.Second
	}, withNotices(notices))
	e.addApp(appA, "mysite")
	reloads := func() int { w, _ := e.emu.Webapp(appA); return w.Reloads }

	// Slower than --timeout, within the slow calls' timeout: plain success.
	e.emu.SetQuirks(emulator.Quirks{ReloadTime: 300 * time.Millisecond, CreateTime: 300 * time.Millisecond,
		SSLTime: 300 * time.Millisecond})
	e.must("touch reload", e.write("webapps/"+appA+"/reload", ""))
	if reloads() != 1 {
		t.Errorf("%d reloads", reloads())
	}
	_, err := e.dir("webapps").Mkdir(e.ctx, appB)
	e.must("mkdir of a slow creation", err)
	if _, ok := e.emu.Webapp(appB); !ok {
		t.Error("no web app created")
	}
	e.must("letsencrypt", e.write("webapps/"+appA+"/ssl/install", "letsencrypt-auto-renew\n"))
	if got := e.lastErrors() + events(notices); got != "" {
		t.Errorf("slow but answered calls reported:\n%s", got)
	}

	// No answer within the slow timeout: probably done.
	e.emu.SetQuirks(emulator.Quirks{ReloadTime: 2500 * time.Millisecond})
	before := e.counts()
	e.must("touch reload without an answer", e.write("webapps/"+appA+"/reload", ""))
	if got := events(notices); !strings.Contains(got, "reload sent, no answer within 1 s; probably done") ||
		!strings.Contains(got, "webapps/"+appA) {
		t.Errorf("notices:\n%s", got)
	}
	e.waitFor("the reload done by the server", func() bool {
		return reloads() == 2 && e.emu.Stats().Abandoned["POST webapps/{domain}/reload"] == 1
	})
	if d := delta(before, e.counts()); d["POST webapps/{domain}/reload"] != 1 {
		t.Errorf("reload sent %v", d)
	}
	if got := e.lastErrors(); got != "" {
		t.Errorf("a probable reload is an error:\n%s", got)
	}
}

// Switching a task to hourly sends "interval" alone, as the official
// clients do: the real server may refuse any "hour" for an hourly task
// (the emulator does by default).
func TestHourlySendsNoHour(t *testing.T) {
	e := start(t)
	hour := 4
	id := strconv.Itoa(e.emu.AddScheduledTask(emulator.ScheduledTask{Command: "true", Interval: "daily", Hour: &hour, Minute: 5, Enabled: true}))
	d := "schedule/" + id
	e.must("echo hourly > interval", e.write(d+"/interval", "hourly\n"))
	if tk := e.emu.ScheduledTasks()[0]; tk.Interval != "hourly" || tk.Hour != nil {
		t.Errorf("after hourly: %+v", tk)
	}
	if got := e.cat(d + "/hour"); got != "\n" {
		t.Errorf("hour reads %q", got)
	}
	e.must("echo 6 > hour", e.write(d+"/hour", "6\n"))
	e.must("task.json hourly, hour null", e.write(d+"/task.json", `{"interval": "hourly", "hour": null}`))
	if tk := e.emu.ScheduledTasks()[0]; tk.Interval != "hourly" || tk.Hour != nil {
		t.Errorf("after task.json: %+v", tk)
	}
	// A new hourly task, written with "hour": null.
	e.must("create hourly", e.write("schedule/new", `{"command": "date", "interval": "hourly", "hour": null, "minute": 7}`))
	if got := e.emu.ScheduledTasks(); len(got) != 2 || got[1].Interval != "hourly" || got[1].Minute != 7 {
		t.Errorf("created %+v", got)
	}
}

// A web app object without "enabled": the file says unknown (neither true
// nor false), writes still work and are remembered until the list is
// fetched again, and config.json round-trips.
func TestEnabledOmitted(t *testing.T) {
	e := startWith(t, emulator.Config{Quirks: emulator.Quirks{OmitFields: []string{"webapp.enabled"}}}, nil)
	e.addApp(appA, "mysite")
	d := "webapps/" + appA
	if got := e.cat(d + "/enabled"); got != "unknown\n" {
		t.Errorf("enabled reads %q", got)
	}
	if f := e.file(d + "/enabled"); f.Size(e.ctx, nil) != len("unknown\n") {
		t.Errorf("enabled size %d", f.Size(e.ctx, nil))
	}
	config := e.cat(d + "/config.json")
	if strings.Contains(config, "enabled\":") && !strings.Contains(config, "password_protection_enabled") {
		t.Errorf("config.json: %s", config)
	}
	before := e.changes()
	e.must("rewrite config.json", e.write(d+"/config.json", config))
	if got := delta(before, e.changes()); len(got) != 0 {
		t.Errorf("an unchanged config.json sent %v", got)
	}
	before = e.changes()
	e.must("echo false > enabled", e.write(d+"/enabled", "false\n"))
	if w, _ := e.emu.Webapp(appA); w.Enabled {
		t.Error("not disabled")
	}
	if got := delta(before, e.changes()); got["POST webapps/{domain}/disable"] != 1 || len(got) != 1 {
		t.Errorf("disabling sent %v", got)
	}
	if got := e.cat(d + "/enabled"); got != "false\n" {
		t.Errorf("after disabling, enabled reads %q", got)
	}
	// A PATCH answered without the field keeps what this mount knows.
	e.must("force_https", e.write(d+"/force_https", "true\n"))
	if got := e.cat(d + "/enabled"); got != "false\n" {
		t.Errorf("after a PATCH, enabled reads %q", got)
	}
	e.must("config.json enabled", e.write(d+"/config.json", `{"enabled": true}`))
	if w, _ := e.emu.Webapp(appA); !w.Enabled {
		t.Error("not enabled")
	}
	// A new list does not say: unknown again, and a script can tell.
	e.ctl = newControl(e)
	if got := e.cat(d + "/enabled"); got != "unknown\n" {
		t.Errorf("after a new list, enabled reads %q", got)
	}
	e.wantErrno("echo unknown > enabled", e.write(d+"/enabled", "unknown\n"), syscall.EINVAL)
}

// Answers to POST and PATCH that are not the object ({"status": "OK"}, an
// empty 200) are not cached: no phantom "0" folder, values right after a
// write, and latest points at the object created.
func TestWriteAnswersNotObjects(t *testing.T) {
	for _, answer := range []emulator.WriteAnswer{emulator.AnswerStatusOK, emulator.AnswerEmpty} {
		t.Run(string(answer), func(t *testing.T) {
			notices := status.NewErrors(10)
			e := start(t, withNotices(notices))
			e.addApp(appA, "mysite")
			e.emu.SetQuirks(emulator.Quirks{WriteAnswer: answer})
			wa := "webapps/" + appA

			e.cat("account/python3_version")
			e.cat(wa + "/python_version")
			before := e.counts()
			e.must("python_version", e.write(wa+"/python_version", "3.11\n"))
			if got := e.cat(wa + "/python_version"); got != "3.11\n" {
				t.Errorf("python_version reads %q", got)
			}
			// The object alone is fetched: one request more, no list.
			if d := delta(before, e.counts()); d["PATCH webapps/{domain}"] != 1 || d["GET webapps/{domain}"] != 1 || len(d) != 2 {
				t.Errorf("a write answered %s cost %v", answer, d)
			}
			if got := e.names("webapps"); !slices.Equal(got, []string{appA}) {
				t.Errorf("ls webapps = %q", got)
			}
			e.must("config.json", e.write(wa+"/config.json", `{"force_https": true, "enabled": false}`))
			if got := e.cat(wa+"/force_https") + e.cat(wa+"/enabled"); got != "true\nfalse\n" {
				t.Errorf("force_https, enabled read %q", got)
			}

			// Each collection: create through new, then change a field.
			for _, c := range []struct {
				folder, create, field, value string
				ids                          func() []int
			}{
				{"schedule", `{"command": "date", "interval": "daily", "hour": 3}`, "minute", "9", func() []int {
					var ids []int
					for _, x := range e.emu.ScheduledTasks() {
						ids = append(ids, x.ID)
					}
					return ids
				}},
				{"always_on", `{"command": "python3 bot.py"}`, "description", "bot", func() []int {
					var ids []int
					for _, x := range e.emu.AlwaysOnTasks() {
						ids = append(ids, x.ID)
					}
					return ids
				}},
				{wa + "/static_files", `{"url": "/media/", "path": "/home/alice/media"}`, "path", "/home/alice/m2", func() []int {
					var ids []int
					for _, x := range e.emu.StaticFiles(appA) {
						ids = append(ids, x.ID)
					}
					return ids
				}},
				{wa + "/static_headers", `{"url": "/", "name": "X-A", "value": "1"}`, "value", "2", func() []int {
					var ids []int
					for _, x := range e.emu.StaticHeaders(appA) {
						ids = append(ids, x.ID)
					}
					return ids
				}},
			} {
				before := e.counts()
				e.must("create in "+c.folder, e.write(c.folder+"/new", c.create))
				// The list is fetched once to find the new object.
				if d := delta(before, e.counts()); len(d) != 2 {
					t.Errorf("creating in %s cost %v", c.folder, d)
				}
				ids := c.ids()
				if len(ids) != 1 {
					t.Fatalf("%s: %v on the server", c.folder, ids)
				}
				id := strconv.Itoa(ids[0])
				if got := e.names(c.folder); !slices.Equal(got, []string{id, "latest", "new"}) {
					t.Errorf("ls %s = %q", c.folder, got)
				}
				n, err := e.lookup(c.folder + "/latest")
				e.must("latest", err)
				if l, ok := n.(*control.Link); !ok || l.Target() != id {
					t.Errorf("%s/latest -> %v, want %s", c.folder, n, id)
				}
				e.must("write "+c.field, e.write(c.folder+"/"+id+"/"+c.field, c.value+"\n"))
				if got := e.cat(c.folder + "/" + id + "/" + c.field); got != c.value+"\n" {
					t.Errorf("%s/%s/%s reads %q", c.folder, id, c.field, got)
				}
			}
			// A task's log link follows its new name at once.
			tk := e.emu.ScheduledTasks()[0]
			n, err := e.lookup("schedule/" + strconv.Itoa(tk.ID) + "/log")
			e.must("log", err)
			if l := n.(*control.Link); !strings.HasSuffix(tk.Logfile, strings.TrimPrefix(l.Target(), "../../files")) {
				t.Errorf("log -> %q, task's log is %q", l.Target(), tk.Logfile)
			}

			e.must("console", e.write("consoles/new", `{"executable": "python3.10"}`))
			cons := e.emu.Consoles()
			if len(cons) != 1 {
				t.Fatalf("consoles %+v", cons)
			}
			n, err = e.lookup("consoles/latest")
			e.must("consoles/latest", err)
			if l := n.(*control.Link); l.Target() != strconv.Itoa(cons[0].ID) {
				t.Errorf("consoles/latest -> %q", l.Target())
			}
			if got := e.names("consoles"); slices.Contains(got, "0") {
				t.Errorf("ls consoles = %q", got)
			}
			if got := e.lastErrors(); got != "" {
				t.Errorf("errors:\n%s", got)
			}
		})
	}
}

// A created object the answer does not name is found in a new list by
// what was sent. When that cannot tell (an identical object was there and
// the list before the creation is unknown), latest is left alone and the
// notices say what happened.
func TestCreatedObjectFound(t *testing.T) {
	notices := status.NewErrors(10)
	e := start(t, withNotices(notices))
	e.emu.SetQuirks(emulator.Quirks{WriteAnswer: emulator.AnswerStatusOK})
	old := e.emu.AddAlwaysOnTask(emulator.AlwaysOnTask{Command: "same", Enabled: true})
	// The list before is cached: the new one is the one that was not there.
	e.names("always_on")
	e.must("create", e.write("always_on/new", `{"command": "same"}`))
	n, err := e.lookup("always_on/latest")
	e.must("latest", err)
	if l := n.(*control.Link); l.Target() == strconv.Itoa(old) || l.Target() == "0" {
		t.Errorf("latest -> %q", l.Target())
	}
	// Not cached, and two identical tasks: which one is new is unknown.
	e.ctl = control.New(control.Config{Client: e.client, Errors: e.errs, Notices: notices, TTL: time.Hour})
	e.must("create again", e.write("always_on/new", `{"command": "same"}`))
	if len(e.emu.AlwaysOnTasks()) != 3 {
		t.Fatalf("%d tasks", len(e.emu.AlwaysOnTasks()))
	}
	if _, err := e.lookup("always_on/latest"); err == nil {
		t.Error("latest set although the new task is unknown")
	}
	if got := e.names("always_on"); len(got) != 4 || slices.Contains(got, "0") {
		t.Errorf("ls always_on = %q", got)
	}
	if got := events(notices); !strings.Contains(got, "always_on") || !strings.Contains(got, "created") {
		t.Errorf("notices:\n%s", got)
	}
}

// stat of a control file reports the length of what a read returns,
// before any read (it may fetch the object, as the read would).
func TestControlFileSizes(t *testing.T) {
	e := startWith(t, emulator.Config{Demo: true}, nil)
	checked := 0
	var walk func(path string)
	walk = func(path string) {
		for _, name := range e.names(path) {
			p := path + "/" + name
			n, err := e.lookup(p)
			e.must("lookup "+p, err)
			switch n := n.(type) {
			case *control.Dir:
				walk(p)
			case *control.File:
				size := n.Size(e.ctx, nil)
				got, err := e.read(p)
				if err != nil {
					continue // a console not started: nothing to compare
				}
				checked++
				if size != len(got) {
					t.Errorf("%s: size %d, read %d bytes", p, size, len(got))
				}
			}
		}
	}
	for _, d := range e.ctl.Folders() {
		walk(d.Path())
	}
	if checked < 50 {
		t.Errorf("only %d files checked", checked)
	}
}

// readVFS reads a file through files/.
func readVFS(e *env, files *vfs.FS, p string) string {
	e.t.Helper()
	h, err := files.Open(e.ctx, p, os.O_RDONLY)
	e.must("open "+p, err)
	defer h.Release()
	var b []byte
	buf := make([]byte, 4096)
	for off := int64(0); ; {
		n, err := h.Read(buf, off)
		b = append(b, buf[:n]...)
		off += int64(n)
		if n == 0 || err != nil {
			return string(b)
		}
	}
}

// The logs behind the log links are read fresh after what changes them:
// a restart, a reload, a task's new schedule (a new log name).
func TestLogsFreshAfterActions(t *testing.T) {
	var files *vfs.FS
	e := start(t, withFiles(t, 0, &files))
	e.addApp(appA, "mysite")
	ctx := context.Background()

	// always_on/ID/restart: the log shows the restart.
	id := e.emu.AddAlwaysOnTask(emulator.AlwaysOnTask{Command: "python3 bot.py", Enabled: true})
	aoLog := "/var/log/alwayson-log-" + strconv.Itoa(id) + ".log"
	before := readVFS(e, files, aoLog)
	e.must("restart", e.write("always_on/"+strconv.Itoa(id)+"/restart", ""))
	if got := readVFS(e, files, aoLog); got == before || !strings.Contains(got, "restarted") {
		t.Errorf("after restart the log reads %q (before %q)", got, before)
	}

	// webapps/D/reload: the logs are read again.
	server := "/var/log/" + appA + ".server.log"
	readVFS(e, files, server)
	e.emu.WriteFile(server, []byte("reloaded at last\n"))
	e.must("reload", e.write("webapps/"+appA+"/reload", ""))
	if got := readVFS(e, files, server); got != "reloaded at last\n" {
		t.Errorf("after reload the server log reads %q", got)
	}

	// schedule/ID/log after a change of command: the new name is there.
	hour := 4
	tid := strconv.Itoa(e.emu.AddScheduledTask(emulator.ScheduledTask{Command: "date", Interval: "daily", Hour: &hour, Enabled: true}))
	e.cat("schedule/" + tid + "/command")
	if _, err := files.ReadDir(ctx, "/var/log"); err != nil {
		t.Fatal(err)
	}
	e.must("command", e.write("schedule/"+tid+"/command", "uptime\n"))
	n, err := e.lookup("schedule/" + tid + "/log")
	e.must("log", err)
	target := n.(*control.Link).Target()
	if !strings.Contains(target, "uptime") {
		t.Fatalf("log -> %q", target)
	}
	name := target[strings.LastIndex(target, "/")+1:]
	if _, err := files.Lookup(ctx, "/var/log", name); err != nil {
		t.Errorf("the new log %s: %v", name, err)
	}
}
