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

func task(t *testing.T, e *mounttest.Env, id int) emulator.ScheduledTask {
	t.Helper()
	for _, x := range e.Emu.ScheduledTasks() {
		if x.ID == id {
			return x
		}
	}
	t.Fatalf("no scheduled task %d on the server", id)
	return emulator.ScheduledTask{}
}

func hourOf(x emulator.ScheduledTask) string {
	if x.Hour == nil {
		return "none"
	}
	return strconv.Itoa(*x.Hour)
}

// Scheduled tasks: every field reads and writes; hour and interval follow
// the API's rules (an hour makes a task daily, hourly drops the hour); the
// log link follows the log file as its name changes.
func TestControlScheduleFields(t *testing.T) {
	e := start(t)
	four := 4
	id := e.Emu.AddScheduledTask(emulator.ScheduledTask{Command: "python3 backup.py", Enabled: true,
		Interval: "daily", Hour: &four, Minute: 30})
	d := "schedule/" + strconv.Itoa(id)
	if out := sh(t, e, "cd "+d+" && cat command enabled interval hour minute"); out != "python3 backup.py\ntrue\ndaily\n4\n30\n" {
		t.Errorf("fields read %q", out)
	}
	before := e.Counts()
	sh(t, e, "echo 5 > "+d+"/hour && echo 15 > "+d+"/minute && echo no > "+d+"/enabled")
	sh(t, e, "echo 'python3 backup.py --all' > "+d+"/command && echo nightly > "+d+"/description")
	equalCounts(t, "five field writes", mounttest.Delta(before, e.Counts()), map[string]int{"PATCH schedule/{id}": 5})
	x := task(t, e, id)
	if hourOf(x) != "5" || x.Minute != 15 || x.Enabled || x.Command != "python3 backup.py --all" || x.Description != "nightly" {
		t.Errorf("server task: %+v (hour %s)", x, hourOf(x))
	}
	sh(t, e, "echo hourly > "+d+"/interval")
	if x := task(t, e, id); x.Interval != "hourly" || x.Hour != nil {
		t.Errorf("echo hourly > interval: %s, hour %s", x.Interval, hourOf(x))
	}
	if out := cat(t, e, d+"/hour"); out != "\n" {
		t.Errorf("an hourly task's hour reads %q", out)
	}
	fails(t, e, "echo daily > "+d+"/interval") // which hour? the hour file says
	sh(t, e, "echo 23 > "+d+"/hour")
	if x := task(t, e, id); x.Interval != "daily" || hourOf(x) != "23" {
		t.Errorf("echo 23 > hour on an hourly task: %s at %s", x.Interval, hourOf(x))
	}
	// The log link points at the file for the current schedule.
	target, err := os.Readlink(filepath.Join(e.Dir, d, "log"))
	if err != nil || !strings.HasPrefix(target, "../../files/var/log/tasklog-") || !strings.Contains(target, "daily-at-2315") {
		t.Errorf("log -> %q (%v)", target, err)
	}
	e.Emu.WriteFile(strings.TrimPrefix(target, "../../files"), []byte("ran\n"))
	if out := cat(t, e, d+"/log"); out != "ran\n" {
		t.Errorf("cat log = %q", out)
	}
	// task.json is the whole task.
	if out := cat(t, e, d+"/task.json"); !strings.Contains(out, `"printable_time": "23:15"`) {
		t.Errorf("task.json:\n%s", out)
	}
}

// Bad values: non-zero exit, nothing sent, the file reads as before.
func TestControlScheduleBadInput(t *testing.T) {
	e := start(t)
	four := 4
	id := e.Emu.AddScheduledTask(emulator.ScheduledTask{Command: "x", Enabled: true, Interval: "daily", Hour: &four})
	d := "schedule/" + strconv.Itoa(id)
	sh(t, e, "cat "+d+"/task.json > /dev/null")
	before := e.Counts()
	for _, s := range []string{
		"echo 25 > " + d + "/hour",
		"echo -1 > " + d + "/hour",
		"echo 60 > " + d + "/minute",
		"echo maybe > " + d + "/enabled",
		"echo weekly > " + d + "/interval",
		"echo '' > " + d + "/command",
		`echo '{"hour": 24}' > ` + d + "/task.json",
		`echo '{"interval": "hourly", "hour": 3}' > ` + d + "/task.json",
		`echo '{"id": 1}' > ` + d + "/task.json",
		`echo '{"minute": 5, "enabled": "sometimes"}' > ` + d + "/task.json",
		`echo '{bad' > schedule/new`,
		`echo '{"command": "x", "interval": "daily"}' > schedule/new`, // daily needs an hour
		`echo '{"interval": "hourly"}' > schedule/new`,                // no command
		`echo '{"command": "x", "interval": "hourly", "colour": "red"}' > schedule/new`,
		`echo '{"command": "x", "interval": "hourly"' > schedule/new`, // cut short
	} {
		fails(t, e, s)
	}
	equalCounts(t, "bad input", only(mounttest.Delta(before, e.Counts()), "schedule"), map[string]int{})
	if out := sh(t, e, "cd "+d+" && cat hour minute enabled interval command"); out != "4\n0\ntrue\ndaily\nx\n" {
		t.Errorf("fields after bad writes: %q", out)
	}
	if n := len(e.Emu.ScheduledTasks()); n != 1 {
		t.Errorf("%d tasks on the server, want 1", n)
	}
	if errs := lastErrors(e); !strings.Contains(errs, `"25" is not a whole number from 0 to 23`) ||
		!strings.Contains(errs, "daily tasks need an hour") {
		t.Errorf("status last errors:\n%s", errs)
	}
}

// Creating through new, learning the id through latest, deleting with
// rmdir; objects made and deleted elsewhere show up and vanish within the
// TTL.
func TestControlScheduleCreateDelete(t *testing.T) {
	e := start(t, "--dir-cache-time", "1s")
	if out := sh(t, e, "ls schedule"); out != "new\n" {
		t.Errorf("ls schedule = %q", out)
	}
	fails(t, e, "readlink schedule/latest")
	before := e.Counts()
	sh(t, e, `echo '{"command": "echo hi", "interval": "daily", "hour": 3, "minute": 45}' > schedule/new`)
	id := strings.TrimSpace(sh(t, e, "readlink schedule/latest"))
	equalCounts(t, "create", only(mounttest.Delta(before, e.Counts()), "schedule"), map[string]int{"POST schedule": 1})
	n, _ := strconv.Atoi(id)
	if x := task(t, e, n); x.Command != "echo hi" || hourOf(x) != "3" || x.Minute != 45 || !x.Enabled {
		t.Errorf("created %+v", x)
	}
	if out := sh(t, e, "cat schedule/latest/command"); out != "echo hi\n" {
		t.Errorf("latest/command = %q", out)
	}
	sh(t, e, `printf '{"command": "second", "interval": "hourly", "minute": 5}' > schedule/new`)
	if id2 := strings.TrimSpace(sh(t, e, "readlink schedule/latest")); id2 == id {
		t.Error("latest did not move to the second task")
	}
	sh(t, e, "rmdir schedule/"+id)
	if len(e.Emu.ScheduledTasks()) != 1 {
		t.Errorf("rmdir left %d tasks", len(e.Emu.ScheduledTasks()))
	}
	fails(t, e, "ls schedule/"+id)
	// Made elsewhere: appears within the TTL; deleted elsewhere: vanishes.
	other := e.Emu.AddScheduledTask(emulator.ScheduledTask{Command: "elsewhere", Interval: "hourly"})
	name := strconv.Itoa(other)
	e.WaitFor("a task made elsewhere", 5*time.Second, func() bool {
		out, _ := e.Sh(e.Dir, "ls schedule")
		return strings.Contains(out, name+"\n")
	})
	api(t, e, "DELETE", "schedule/"+name+"/", "")
	e.WaitFor("a task deleted elsewhere", 5*time.Second, func() bool {
		out, _ := e.Sh(e.Dir, "ls schedule")
		return !strings.Contains(out, name+"\n")
	})
	if _, code := e.Sh(e.Dir, "cat schedule/"+name+"/command"); code == 0 {
		t.Error("a deleted task's files still read")
	}
}

// vim and sed -i on task.json: one PATCH with the changed fields only.
func TestControlTaskJSONInEditors(t *testing.T) {
	e := start(t)
	four := 4
	id := e.Emu.AddScheduledTask(emulator.ScheduledTask{Command: "job", Enabled: true, Interval: "daily", Hour: &four})
	d := "schedule/" + strconv.Itoa(id)
	cat(t, e, d+"/task.json")
	api(t, e, "PATCH", "schedule/"+strconv.Itoa(id)+"/", `{"description": "set elsewhere"}`)
	before := e.Counts()
	e.MustRun(e.Dir, "vim", "-u", "NONE", "-N", "-es", "-c", `%s/"minute": 0/"minute": 20/`, "-c", "wq", d+"/task.json")
	equalCounts(t, "vim", only(mounttest.Delta(before, e.Counts()), "schedule"), map[string]int{"PATCH schedule/{id}": 1})
	if x := task(t, e, id); x.Minute != 20 || x.Description != "set elsewhere" || hourOf(x) != "4" {
		t.Errorf("after vim: %+v", x)
	}
	before = e.Counts()
	sh(t, e, `sed -i 's/"interval": "daily"/"interval": "hourly"/' `+d+"/task.json")
	equalCounts(t, "sed -i", only(mounttest.Delta(before, e.Counts()), "schedule"), map[string]int{"PATCH schedule/{id}": 1})
	if x := task(t, e, id); x.Interval != "hourly" || x.Hour != nil || x.Minute != 20 {
		t.Errorf("after sed (daily to hourly drops the hour): %+v", x)
	}
}

// Always-on tasks: fields, state, one restart per touch, new/latest/rmdir,
// and the log link.
func TestControlAlwaysOn(t *testing.T) {
	e := start(t)
	id := e.Emu.AddAlwaysOnTask(emulator.AlwaysOnTask{Command: "python3 bot.py", Enabled: true})
	d := "always_on/" + strconv.Itoa(id)
	if out := sh(t, e, "cd "+d+" && cat command enabled state"); out != "python3 bot.py\ntrue\nRunning\n" {
		t.Errorf("fields read %q", out)
	}
	sh(t, e, "echo false > "+d+"/enabled")
	if out := cat(t, e, d+"/state"); out != "Stopped\n" {
		t.Errorf("state after disabling: %q (the PATCH answer updates it)", out)
	}
	fails(t, e, "echo Running > "+d+"/state")
	restarts := func() int {
		for _, x := range e.Emu.AlwaysOnTasks() {
			if x.ID == id {
				return x.Restarts
			}
		}
		return -1
	}
	before := e.Counts()
	sh(t, e, "touch "+d+"/restart")
	sh(t, e, "echo 1 > "+d+"/restart")
	time.Sleep(50 * time.Millisecond)
	if n := restarts(); n != 2 {
		t.Errorf("touch + echo: %d restarts, want 2", n)
	}
	equalCounts(t, "restarts", only(mounttest.Delta(before, e.Counts()), "always_on"), map[string]int{"POST always_on/{id}/restart": 2})
	if got, err := os.Readlink(filepath.Join(e.Dir, d, "log")); err != nil || got != "../../files/var/log/alwayson-log-"+strconv.Itoa(id)+".log" {
		t.Errorf("log -> %q, %v", got, err)
	}
	if out := cat(t, e, d+"/log"); !strings.Contains(out, "python3 bot.py") {
		t.Errorf("the log reads %q", out)
	}
	sh(t, e, `echo '{"command": "python3 worker.py", "description": "worker"}' > always_on/new`)
	nid := strings.TrimSpace(sh(t, e, "readlink always_on/latest"))
	if out := sh(t, e, "cat always_on/"+nid+"/description always_on/latest/enabled"); out != "worker\ntrue\n" {
		t.Errorf("the new task reads %q", out)
	}
	fails(t, e, `echo '{"description": "no command"}' > always_on/new`)
	sh(t, e, "rmdir always_on/"+nid)
	if n := len(e.Emu.AlwaysOnTasks()); n != 1 {
		t.Errorf("%d always-on tasks after rmdir, want 1", n)
	}
}

// Creating a task and deleting it again costs exactly the create and the
// delete: new and latest are answered without listing the tasks.
func TestControlCreateDeleteCostsTwo(t *testing.T) {
	e := start(t)
	before := e.Counts()
	id := strings.TrimSpace(sh(t, e, `echo '{"command": "echo hi", "interval": "hourly", "minute": 5}' > schedule/new && readlink schedule/latest`))
	sh(t, e, "rmdir schedule/"+id)
	equalCounts(t, "create and delete", mounttest.Delta(before, e.Counts()),
		map[string]int{"POST schedule": 1, "DELETE schedule/{id}": 1})
	if n := len(e.Emu.ScheduledTasks()); n != 0 {
		t.Errorf("%d tasks left", n)
	}
}
