package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// The real server and the real user: slow reloads, answers to writes that
// are not the object, true sizes, and logs read fresh after an action.

// A reload slower than --timeout succeeds; one slower than --slow-timeout
// too (exit 0), with a notice in .pafs/status: it was sent and the server
// does it anyway.
func TestControlSlowReload(t *testing.T) {
	e := start(t, "--timeout", "200ms", "--slow-timeout", "1s")
	addApp(e, appA, "mysite")
	reloads := func() int { return webapp(t, e, appA).Reloads }
	e.Emu.SetQuirks(emulator.Quirks{ReloadTime: 500 * time.Millisecond})
	sh(t, e, "touch webapps/"+appA+"/reload")
	if n := reloads(); n != 1 {
		t.Errorf("%d reloads", n)
	}
	e.Emu.SetQuirks(emulator.Quirks{ReloadTime: 2500 * time.Millisecond})
	sh(t, e, "touch webapps/"+appA+"/reload")
	if got := lastErrors(e); !strings.Contains(got, "reload sent, no answer within 1 s; probably done") {
		t.Errorf("status:\n%s", got)
	}
	if !strings.Contains(e.Log(), "probably done") {
		t.Error("the log does not say the reload is probably done")
	}
	e.WaitFor("the reload done by the server", 10*time.Second, func() bool {
		return reloads() == 2 && e.Emu.Stats().Abandoned["POST webapps/{domain}/reload"] == 1
	})
	if n := e.Emu.Count("POST", "webapps/{domain}/reload"); n != 2 {
		t.Errorf("%d reloads sent, want 2", n)
	}
}

// With answers to POST and PATCH that are {"status": "OK"}: no phantom
// folder, values right after a write, latest and the log link right.
func TestControlWriteAnswerNotObject(t *testing.T) {
	e := start(t)
	addApp(e, appA, "mysite")
	e.Emu.SetQuirks(emulator.Quirks{WriteAnswer: emulator.AnswerStatusOK})
	sh(t, e, `echo '{"command": "date", "interval": "daily", "hour": 3}' > schedule/new`)
	tasks := e.Emu.ScheduledTasks()
	if len(tasks) != 1 {
		t.Fatalf("tasks %+v", tasks)
	}
	id := strconv.Itoa(tasks[0].ID)
	if out := sh(t, e, "ls schedule; readlink schedule/latest"); out != id+"\nlatest\nnew\n"+id+"\n" {
		t.Errorf("ls, readlink:\n%s", out)
	}
	if out := sh(t, e, "echo 9 > schedule/latest/minute && cat schedule/latest/minute && cat schedule/latest/log"); out != "9\n" {
		t.Errorf("minute and the new log read %q", out)
	}
	if out := sh(t, e, "echo 3.11 > webapps/"+appA+"/python_version && cat webapps/"+appA+"/python_version && ls webapps"); out != "3.11\n"+appA+"\n" {
		t.Errorf("python_version, ls webapps: %q", out)
	}
}

// stat reports the size of what cat reads, for every control file of the
// demo account, before anything was read.
func TestControlStatSizes(t *testing.T) {
	t.Parallel()
	e := mounttest.Start(t, mounttest.Options{Emulator: emulator.Config{Demo: true, RateLimit: -1}})
	sh(t, e, "[ -s account/system_image ] && [ -s webapps/alice.pythonanywhere.com/python_version ]")
	out := sh(t, e, `find webapps schedule always_on consoles students account -type f | while read -r f; do
		s=$(stat -c %s "$f"); n=$(cat "$f" 2>/dev/null | wc -c)
		[ "$s" = "$n" ] || echo "$f: stat $s, cat $n"
		echo ok
	done`)
	if n := strings.Count(out, "ok\n"); n < 50 || strings.Contains(out, "stat ") {
		t.Errorf("%d files:\n%s", n, strings.ReplaceAll(out, "ok\n", ""))
	}
}

// The log behind a log link is read fresh after a restart or a reload, and
// a task's log is there at once under its new name.
func TestControlLogsFresh(t *testing.T) {
	e := start(t)
	addApp(e, appA, "mysite")
	four := 4
	tid := strconv.Itoa(e.Emu.AddScheduledTask(emulator.ScheduledTask{Command: "date", Enabled: true, Interval: "daily", Hour: &four}))
	id := strconv.Itoa(e.Emu.AddAlwaysOnTask(emulator.AlwaysOnTask{Command: "python3 bot.py", Enabled: true}))
	sh(t, e, "cat schedule/"+tid+"/log && ls files/var/log >/dev/null") // /var/log listed
	ao := "always_on/" + id
	if out := cat(t, e, ao+"/log"); strings.Contains(out, "restarted") {
		t.Fatalf("the log reads %q before a restart", out)
	}
	sh(t, e, "touch "+ao+"/restart")
	if out := cat(t, e, ao+"/log"); !strings.Contains(out, "restarted") {
		t.Errorf("after touch restart the log reads %q", out)
	}

	logs := "webapps/" + appA + "/logs/server.log"
	cat(t, e, logs)
	e.Emu.WriteFile("/var/log/"+appA+".server.log", []byte("reloaded\n"))
	sh(t, e, "touch webapps/"+appA+"/reload")
	if out := cat(t, e, logs); out != "reloaded\n" {
		t.Errorf("after touch reload server.log reads %q", out)
	}

	sh(t, e, "echo uptime > schedule/"+tid+"/command && cat schedule/"+tid+"/log")
	target, err := os.Readlink(filepath.Join(e.Dir, "schedule", tid, "log"))
	if err != nil || !strings.Contains(target, "uptime") {
		t.Errorf("log -> %q, %v", target, err)
	}
}
