package control_test

import (
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pafs/pafs/internal/control"
	"github.com/pafs/pafs/remote/emulator"
)

// schedule/: new reads as a template and creates from a JSON object (one
// POST, no list after it); latest links to it; rmdir deletes it.
func TestScheduleCreateDelete(t *testing.T) {
	e := start(t)
	if got := e.cat("schedule/new"); !strings.Contains(got, `"interval": "daily"`) {
		t.Errorf("new reads %q", got)
	}
	if _, err := e.lookup("schedule/latest"); err == nil {
		t.Error("latest exists before anything was created")
	}
	before := e.counts()
	e.must("create", e.write("schedule/new", `{"command": "python3 /home/alice/job.py", "interval": "daily", "hour": 4, "minute": 30}`+"\n"))
	tasks := e.emu.ScheduledTasks()
	if len(tasks) != 1 || tasks[0].Hour == nil || *tasks[0].Hour != 4 || tasks[0].Minute != 30 || !tasks[0].Enabled {
		t.Fatalf("created %+v", tasks)
	}
	id := strconv.Itoa(tasks[0].ID)
	// latest and the new folder are known without a listing.
	n, err := e.lookup("schedule/latest")
	e.must("latest", err)
	if l, ok := n.(*control.Link); !ok || l.Target() != id {
		t.Errorf("latest -> %v", n)
	}
	if got := e.cat("schedule/" + id + "/minute"); got != "30\n" {
		t.Errorf("minute %q", got)
	}
	if d := delta(before, e.counts()); d["POST schedule"] != 1 || len(d) != 1 {
		t.Errorf("creating and reading back cost %v", d)
	}
	if got := e.names("schedule"); !slices.Equal(got, []string{id, "latest", "new"}) {
		t.Errorf("ls schedule = %v", got)
	}
	want := []string{"command", "description", "enabled", "hour", "interval", "log", "minute", "task.json"}
	if got := e.names("schedule/" + id); !slices.Equal(got, want) {
		t.Errorf("ls schedule/%s = %v", id, got)
	}
	n, err = e.lookup("schedule/" + id + "/log")
	e.must("log", err)
	if l := n.(*control.Link); !strings.HasPrefix(l.Target(), "../../files/var/log/tasklog-") {
		t.Errorf("log -> %q", l.Target())
	}
	before = e.changes()
	for _, js := range []string{
		`{"command": "x"}`,
		`{"interval": "daily", "hour": 4}`,
		`{"command": "x", "interval": "weekly"}`,
		`{"command": "x", "interval": "daily"}`,
		`{"command": "x", "interval": "hourly", "hour": 4}`,
		`{"command": "x", "interval": "daily", "hour": 24}`,
		`{"command": "", "interval": "hourly"}`,
		`{"command": "x", "interval": "hourly", "colour": "red"}`,
		`{"command": "x", "interval": "hourly", "minute": {}}`,
		`"a string"`,
	} {
		e.wantErrno("create "+js, e.write("schedule/new", js+"\n"), syscall.EINVAL)
	}
	if d := delta(before, e.changes()); len(d) != 0 {
		t.Errorf("bad creates sent %v", d)
	}
	e.must("rmdir", e.dir("schedule").Rmdir(e.ctx, id))
	if got := e.emu.ScheduledTasks(); len(got) != 0 {
		t.Errorf("after rmdir: %+v", got)
	}
	e.wantErrno("rmdir again", e.dir("schedule").Rmdir(e.ctx, id), syscall.ENOENT)
	e.wantErrno("unlink", e.dir("schedule").Unlink(e.ctx, "new"), syscall.EPERM)
}

// Scheduled tasks' one-value files keep the API's rules: hourly drops the
// hour, daily needs one, values out of range are EINVAL.
func TestScheduleBadInput(t *testing.T) {
	e := start(t)
	id := strconv.Itoa(e.emu.AddScheduledTask(emulator.ScheduledTask{Command: "true", Interval: "hourly", Minute: 5, Enabled: true}))
	d := "schedule/" + id
	before := e.changes()
	for file, v := range map[string]string{"hour": "24\n", "minute": "60\n", "interval": "daily\n",
		"enabled": "perhaps\n", "command": " \n", "description": "a\nb\n"} {
		e.wantErrno("write "+file, e.write(d+"/"+file, v), syscall.EINVAL)
	}
	e.wantErrno("weekly", e.write(d+"/interval", "weekly\n"), syscall.EINVAL)
	e.wantErrno("task.json hourly with an hour", e.write(d+"/task.json", `{"hour": 3}`), syscall.EINVAL)
	e.wantErrno("task.json id", e.write(d+"/task.json", `{"id": 99}`), syscall.EINVAL)
	if got := delta(before, e.changes()); len(got) != 0 {
		t.Errorf("bad input sent %v", got)
	}
	if got := e.cat(d + "/hour"); got != "\n" {
		t.Errorf("hour of an hourly task reads %q", got)
	}
	// task.json: an hour with daily in one object, one request.
	before = e.changes()
	e.must("task.json", e.write(d+"/task.json", `{"interval": "daily", "hour": 6, "printable_time": "ignored"}`))
	if got := delta(before, e.changes()); got["PATCH schedule/{id}"] != 1 || len(got) != 1 {
		t.Errorf("task.json sent %v", got)
	}
	if got := e.cat(d + "/hour"); got != "6\n" {
		t.Errorf("hour reads %q", got)
	}
	// Back to hourly through task.json with "hour": null.
	e.must("task.json hourly", e.write(d+"/task.json", `{"interval": "hourly", "hour": null}`))
	if tk := e.emu.ScheduledTasks()[0]; tk.Interval != "hourly" || tk.Hour != nil {
		t.Errorf("after hourly: %+v", tk)
	}
}

// always_on/: create, restart (a trigger), read-only state, delete.
func TestAlwaysOn(t *testing.T) {
	e := start(t)
	e.must("create", e.write("always_on/new", `{"command": "python3 /home/alice/bot.py", "description": "bot"}`))
	tasks := e.emu.AlwaysOnTasks()
	if len(tasks) != 1 || !tasks[0].Enabled || tasks[0].Description != "bot" {
		t.Fatalf("created %+v", tasks)
	}
	id := strconv.Itoa(tasks[0].ID)
	d := "always_on/" + id
	want := []string{"command", "description", "enabled", "log", "restart", "state", "task.json"}
	if got := e.names(d); !slices.Equal(got, want) {
		t.Errorf("ls %s = %v", d, got)
	}
	e.must("restart", e.write(d+"/restart", "\n"))
	if got := e.emu.AlwaysOnTasks()[0].Restarts; got != 1 {
		t.Errorf("%d restarts", got)
	}
	// state is read-only.
	f := e.file(d + "/state")
	_, err := f.Open(e.ctx, true, pid)
	e.wantErrno("open state for writing", err, syscall.EACCES)
	zero := uint64(0)
	e.wantErrno("truncate state", f.Setattr(e.ctx, nil, pid, control.SetAttr{Size: &zero}), syscall.EPERM)
	e.must("chmod state", f.Setattr(e.ctx, nil, pid, control.SetAttr{Mode: new(uint32)}))
	e.wantErrno("rename onto state", f.Replace(e.ctx, []byte("x")), syscall.EACCES)
	if got := e.cat(d + "/state"); got != "Running\n" {
		t.Errorf("state %q", got)
	}
	e.wantErrno("no command", e.write("always_on/new", `{"description": "x"}`), syscall.EINVAL)
	e.must("rmdir", e.dir("always_on").Rmdir(e.ctx, id))
	if got := e.emu.AlwaysOnTasks(); len(got) != 0 {
		t.Errorf("after rmdir: %+v", got)
	}
	// A folder of an object deleted meanwhile: its files are gone.
	_, err = e.read(d + "/command")
	e.wantErrno("read of a deleted task", err, syscall.ENOENT)
}
