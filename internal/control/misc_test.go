package control_test

import (
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// consoles/: create through new, info.json, output, input sent as written
// (EAGAIN, with the page to open, until the console has been opened in a
// browser), kill with rmdir; shared consoles are not ours to kill.
func TestConsoles(t *testing.T) {
	e := start(t)
	if got := e.cat("consoles/new"); !strings.Contains(got, `"executable": "bash"`) {
		t.Errorf("new reads %q", got)
	}
	e.must("create", e.write("consoles/new", `{"executable": "python3.10", "arguments": "-q", "working_directory": "/home/alice"}`+"\n"))
	cons := e.emu.Consoles()
	if len(cons) != 1 || cons[0].Executable != "python3.10" || cons[0].Arguments != "-q" {
		t.Fatalf("created %+v", cons)
	}
	id := strconv.Itoa(cons[0].ID)
	n, err := e.lookup("consoles/latest")
	e.must("latest", err)
	if got := n.(interface{ Target() string }).Target(); got != id {
		t.Errorf("latest -> %q", got)
	}
	if got := e.names("consoles"); !slices.Equal(got, []string{id, "latest", "new", "shared_with_you"}) {
		t.Errorf("ls consoles = %v", got)
	}
	if got := e.cat("consoles/" + id + "/info.json"); !strings.Contains(got, `"executable": "python3.10"`) {
		t.Errorf("info.json %q", got)
	}
	d := "consoles/" + id
	e.wantErrno("input before the console is started", e.write(d+"/input", "print(1)\n"), syscall.EAGAIN)
	if !strings.Contains(e.lastErrors(), "https://example.test") || !strings.Contains(e.lastErrors(), "browser") {
		t.Errorf("no hint to open the console: %s", e.lastErrors())
	}
	if !e.emu.StartConsole(cons[0].ID) {
		t.Fatal("cannot start the console")
	}
	// Two writes through one open: each is sent as written.
	f := e.file(d + "/input")
	h, err := f.Open(e.ctx, true, pid)
	e.must("open input", err)
	_, err = h.Write(e.ctx, []byte("print(1)\n"), 0)
	e.must("write 1", err)
	// The kernel retrying the same write (same offset) sends nothing more.
	_, err = h.Write(e.ctx, []byte("print(1)\n"), 0)
	e.must("write 1 again", err)
	_, err = h.Write(e.ctx, []byte("print(2)\n"), 9)
	e.must("write 2", err)
	e.must("flush", h.Flush(e.ctx))
	h.Release()
	if got := e.emu.ConsoleInput(cons[0].ID); got != "print(1)\nprint(2)\n" {
		t.Errorf("the console got %q", got)
	}
	e.emu.AppendConsoleOutput(cons[0].ID, ">>> hello\n")
	if got := e.cat(d + "/output"); !strings.Contains(got, "hello") {
		t.Errorf("output %q", got)
	}
	e.wantErrno("unknown member", e.write("consoles/new", `{"shell": "zsh"}`), syscall.EINVAL)
	e.wantErrno("relative directory", e.write("consoles/new", `{"working_directory": "x"}`), syscall.EINVAL)
	e.must("kill", e.dir("consoles").Rmdir(e.ctx, id))
	if got := e.emu.Consoles(); len(got) != 0 {
		t.Errorf("after rmdir: %+v", got)
	}

	sid := strconv.Itoa(e.emu.AddSharedConsole("bob", "bash"))
	e.ctl = newControl(e)
	if got := e.names("consoles/shared_with_you"); !slices.Equal(got, []string{sid}) {
		t.Errorf("ls shared_with_you = %v", got)
	}
	if got := e.cat("consoles/shared_with_you/" + sid + "/info.json"); !strings.Contains(got, "bash") {
		t.Errorf("shared info.json %q", got)
	}
	e.wantErrno("kill a shared console", e.dir("consoles/shared_with_you").Rmdir(e.ctx, sid), syscall.EACCES)
}

// account/: cpu.json, settings read and written among their choices.
func TestAccount(t *testing.T) {
	e := start(t)
	want := []string{"cpu.json"}
	for _, s := range e.ctl.SettingNames() {
		want = append(want, s, s+".available")
	}
	slices.Sort(want)
	if got := e.names("account"); !slices.Equal(got, want) {
		t.Errorf("ls account = %v, want %v", got, want)
	}
	if got := e.cat("account/cpu.json"); !strings.Contains(got, "daily_cpu_limit_seconds") {
		t.Errorf("cpu.json %q", got)
	}
	if got := e.cat("account/system_image.available"); got != "glastonbury\nhaggis\ninnit\n" {
		t.Errorf("system_image.available %q", got)
	}
	for _, w := range []struct{ file, in, want string }{
		{"python3_version", "3.11", "3.11"},
		{"python_version", "python3.12", "3.12"},
		{"save_and_run_python_version", "3.13", "3.13"},
		{"system_image", "haggis", "haggis"},
	} {
		before := e.changes()
		e.must("write "+w.file, e.write("account/"+w.file, w.in+"\n"))
		if d := delta(before, e.changes()); len(d) != 1 {
			t.Errorf("%s: sent %v", w.file, d)
		}
		if got := e.cat("account/" + w.file); got != w.want+"\n" {
			t.Errorf("%s reads %q", w.file, got)
		}
	}
	a := e.emu.Account()
	if a.DefaultPython3Version != "3.11" || a.DefaultPythonVersion != "3.12" || a.DefaultSaveAndRunPythonVersion != "3.13" || a.SystemImage != "haggis" {
		t.Errorf("account after writes: %+v", a)
	}
	before := e.changes()
	e.wantErrno("python 2.1", e.write("account/python_version", "2.1\n"), syscall.EINVAL)
	e.wantErrno("no such image", e.write("account/system_image", "bogus\n"), syscall.EINVAL)
	e.wantErrno("no image", e.write("account/system_image", "\n"), syscall.EINVAL)
	if d := delta(before, e.changes()); len(d) != 0 {
		t.Errorf("refused settings sent %v", d)
	}
	// A web app made now gets the new default.
	_, err := e.dir("webapps").Mkdir(e.ctx, appB)
	e.must("mkdir", err)
	if w, _ := e.emu.Webapp(appB); w.PythonVersion != "3.11" {
		t.Errorf("new web app got Python %s, want 3.11", w.PythonVersion)
	}
}

// students/: one empty file each; rm removes the student.
func TestStudents(t *testing.T) {
	e := start(t)
	e.emu.AddStudent("bob")
	e.emu.AddStudent("carol")
	if got := e.names("students"); !slices.Equal(got, []string{"bob", "carol"}) {
		t.Errorf("ls students = %v", got)
	}
	if got := e.cat("students/bob"); got != "" {
		t.Errorf("a student reads %q", got)
	}
	e.must("rm bob", e.dir("students").Unlink(e.ctx, "bob"))
	if got := e.emu.Students(); !slices.Equal(got, []string{"carol"}) {
		t.Errorf("students after rm: %v", got)
	}
	e.wantErrno("rm nobody", e.dir("students").Unlink(e.ctx, "nobody"), syscall.ENOENT)
	_, _, err := e.dir("students").CreateScratch("dave", 0o644)
	e.wantErrno("touch dave", err, syscall.EACCES)
	_, err = e.dir("students").Mkdir(e.ctx, "dave")
	e.wantErrno("mkdir", err, syscall.EPERM)
	e.wantErrno("rmdir", e.dir("students").Rmdir(e.ctx, "carol"), syscall.EPERM)
}
