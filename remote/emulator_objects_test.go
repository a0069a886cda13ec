package remote_test

// Functional tests of every endpoint against the emulator, over real HTTP.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/remote"
)

// Tests of the non-file endpoints against the emulator: consoles, tasks,
// web apps, static mappings, account.

func TestConsoles(t *testing.T) {
	emu, c, _ := setup(t, demo())
	ctx := context.Background()
	list := must(c.ListConsoles(ctx))
	if len(list) != 1 || list[0].Executable != "bash" {
		t.Fatalf("demo consoles %+v", list)
	}
	must(c.ListSharedConsoles(ctx))
	con := must(c.CreateConsole(ctx, remote.ConsoleCreate{Executable: "python3.10", WorkingDirectory: "/home/alice"}))
	if con.ID == 0 || con.Executable != "python3.10" || con.User != user || con.ConsoleURL == "" {
		t.Fatalf("created %+v", con)
	}
	if got := must(c.GetConsole(ctx, con.ID)); got.ID != con.ID || got.Name != con.Name {
		t.Fatalf("get %+v, want %+v", got, con)
	}
	err := c.SendInput(ctx, con.ID, "print(1)\n")
	wantStatus(t, err, 412, syscall.EAGAIN, "Console not yet started")
	_, err = c.ConsoleOutput(ctx, con.ID)
	wantStatus(t, err, 412, syscall.EAGAIN, "not yet started")

	if !emu.StartConsole(con.ID) {
		t.Fatal("StartConsole failed")
	}
	if err := c.SendInput(ctx, con.ID, "print(1)\n"); err != nil {
		t.Fatal(err)
	}
	if in := emu.ConsoleInput(con.ID); in != "print(1)\n" {
		t.Fatalf("console got %q", in)
	}
	if _, err := c.ConsoleOutput(ctx, con.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteConsole(ctx, con.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetConsole(ctx, con.ID)
	wantStatus(t, err, 404, syscall.ENOENT, "Not found.")
	err = c.DeleteConsole(ctx, con.ID)
	wantStatus(t, err, 404, syscall.ENOENT, "Not found.")
	_, err = c.CreateConsole(ctx, remote.ConsoleCreate{})
	if e := wantStatus(t, err, 400, syscall.EINVAL, "executable"); len(e.Fields["executable"]) == 0 {
		t.Fatalf("fields %v", e.Fields)
	}
}

func TestAlwaysOn(t *testing.T) {
	emu, c, _ := setup(t, demo())
	ctx := context.Background()
	if list := must(c.ListAlwaysOn(ctx)); len(list) != 1 || !list[0].Enabled {
		t.Fatalf("demo tasks %+v", list)
	}
	off := false
	task := must(c.CreateAlwaysOn(ctx, remote.AlwaysOnCreate{Command: "python3 /home/alice/b.py", Description: "b", Enabled: &off}))
	if task.ID == 0 || task.Enabled || task.Command != "python3 /home/alice/b.py" || task.State == "" {
		t.Fatalf("created %+v", task)
	}
	if got := must(c.GetAlwaysOn(ctx, task.ID)); got.Description != "b" {
		t.Fatalf("get %+v", got)
	}
	desc, on := "bee", true
	upd := must(c.UpdateAlwaysOn(ctx, task.ID, remote.AlwaysOnPatch{Description: &desc, Enabled: &on}))
	if upd.Description != "bee" || !upd.Enabled || upd.Command != task.Command {
		t.Fatalf("updated %+v", upd)
	}
	if err := c.RestartAlwaysOn(ctx, task.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAlwaysOn(ctx, task.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(emu.AlwaysOnTasks()); n != 1 {
		t.Fatalf("%d tasks left", n)
	}
	_, err := c.GetAlwaysOn(ctx, task.ID)
	wantStatus(t, err, 404, syscall.ENOENT, "Not found.")
	_, err = c.CreateAlwaysOn(ctx, remote.AlwaysOnCreate{})
	wantStatus(t, err, 400, syscall.EINVAL, "command")
}

func TestSchedule(t *testing.T) {
	emu, c, _ := setup(t, demo())
	ctx := context.Background()
	list := must(c.ListSchedule(ctx))
	if len(list) != 2 {
		t.Fatalf("demo tasks %+v", list)
	}
	hour := 5
	task := must(c.CreateSchedule(ctx, remote.ScheduleCreate{Command: "echo hi", Interval: "daily", Hour: &hour, Minute: 7}))
	if task.ID == 0 || task.Hour == nil || *task.Hour != 5 || task.Minute != 7 || !task.Enabled || task.PrintableTime == "" {
		t.Fatalf("created %+v", task)
	}
	if got := must(c.GetSchedule(ctx, task.ID)); got.Command != "echo hi" {
		t.Fatalf("get %+v", got)
	}
	hourly := "hourly"
	upd := must(c.UpdateSchedule(ctx, task.ID, remote.SchedulePatch{Interval: &hourly}))
	if upd.Interval != "hourly" || upd.Hour != nil {
		t.Fatalf("updated %+v", upd)
	}
	// Cross-field validation: an hourly task with an hour.
	_, err := c.UpdateSchedule(ctx, task.ID, remote.SchedulePatch{Hour: &hour})
	if e := wantStatus(t, err, 400, syscall.EINVAL, "Hourly tasks must not have an hour."); len(e.Fields["non_field_errors"]) != 1 {
		t.Fatalf("fields %v", e.Fields)
	}
	// Field validation: several fields at once.
	_, err = c.CreateSchedule(ctx, remote.ScheduleCreate{Interval: "weekly", Minute: 99})
	e := apiErr(t, err)
	if e.Status != 400 || len(e.Fields["command"]) == 0 || len(e.Fields["interval"]) == 0 || len(e.Fields["minute"]) == 0 {
		t.Fatalf("field errors %+v", e)
	}
	if !strings.Contains(e.Message, "command: ") || !strings.Contains(e.Message, "; interval: ") {
		t.Fatalf("message %q", e.Message)
	}
	if err := c.DeleteSchedule(ctx, task.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSchedule(ctx, task.ID)
	wantStatus(t, err, 404, syscall.ENOENT, "Not found.")
	if len(emu.ScheduledTasks()) != 2 {
		t.Fatal("task not deleted")
	}
	if ok := must(c.CanCreateTasks(ctx)); !ok {
		t.Fatal("CanCreateTasks false on the demo account")
	}
	emu.SetScheduleLimit(2)
	_, err = c.CreateSchedule(ctx, remote.ScheduleCreate{Command: "x", Interval: "hourly"})
	wantStatus(t, err, 403, syscall.EACCES, "maximum number of scheduled tasks")
}

func TestWebapps(t *testing.T) {
	emu, c, _ := setup(t, demo())
	ctx := context.Background()
	site := user + ".pythonanywhere.com"
	apps := must(c.ListWebapps(ctx))
	if len(apps) != 2 {
		t.Fatalf("demo apps %+v", apps)
	}
	app := must(c.GetWebapp(ctx, site))
	if app.DomainName != site || app.PythonVersion != "3.10" || app.SourceDirectory == "" {
		t.Fatalf("get %+v", app)
	}

	if err := c.CreateWebapp(ctx, "new.example.com", "3.11"); err != nil {
		t.Fatal(err)
	}
	if w, ok := emu.Webapp("new.example.com"); !ok || w.PythonVersion != "3.11" {
		t.Fatalf("emulator app %+v %v", w, ok)
	}
	err := c.CreateWebapp(ctx, "new.example.com", "3.11")
	if e := wantStatus(t, err, 400, syscall.EINVAL, "already have a web app"); e.Code != "domain_taken" {
		t.Fatalf("code %q", e.Code)
	}
	err = c.CreateWebapp(ctx, "other.example.com", "3.99")
	wantStatus(t, err, 400, syscall.EINVAL, `python_version: "python399" is not a valid choice.`)
	emu.SetWebappLimit(3)
	err = c.CreateWebapp(ctx, "more.example.com", "3.10")
	wantStatus(t, err, 400, syscall.EINVAL, "You cannot create any more webapps")

	bad := "3.99"
	_, err = c.UpdateWebapp(ctx, site, remote.WebappPatch{PythonVersion: &bad})
	if got := err.Error(); got != `PATCH webapps/alice.pythonanywhere.com/: 400 Bad Request: python_version: "3.99" is not a valid choice.` {
		t.Fatalf("Error() = %q", got)
	}
	v, venv, yes := "python311", "/home/alice/.venv", true
	upd := must(c.UpdateWebapp(ctx, site, remote.WebappPatch{PythonVersion: &v, VirtualenvPath: &venv, ForceHTTPS: &yes}))
	if upd.PythonVersion != "3.11" || upd.VirtualenvPath != venv || !upd.ForceHTTPS {
		t.Fatalf("updated %+v", upd)
	}

	if err := c.DisableWebapp(ctx, site); err != nil {
		t.Fatal(err)
	}
	if w, _ := emu.Webapp(site); w.Enabled {
		t.Fatal("still enabled")
	}
	if err := c.EnableWebapp(ctx, site); err != nil {
		t.Fatal(err)
	}
	if err := c.ReloadWebapp(ctx, site); err != nil {
		t.Fatal(err)
	}
	if w, _ := emu.Webapp(site); !w.Enabled || w.Reloads != 1 {
		t.Fatalf("after enable+reload %+v", w)
	}
	err = c.ReloadWebapp(ctx, "nope.example.com")
	wantStatus(t, err, 404, syscall.ENOENT, "Not found.")

	ssl := must(c.GetSSL(ctx, site))
	if ssl.NotAfter == "" || len(ssl.SubjectAlternateNames) == 0 {
		t.Fatalf("ssl %+v", ssl)
	}
	cert, key := selfSigned(t, "new.example.com")
	if err := c.InstallSSL(ctx, "new.example.com", cert, key); err != nil {
		t.Fatal(err)
	}
	if s := must(c.GetSSL(ctx, "new.example.com")); !strings.Contains(s.SubjectName, "new.example.com") {
		t.Fatalf("installed ssl %+v", s)
	}
	err = c.InstallSSL(ctx, "new.example.com", "not a cert", key)
	wantStatus(t, err, 400, syscall.EINVAL, "")
	if err := c.RequestLetsEncrypt(ctx, "new.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSSL(ctx, "new.example.com"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSSL(ctx, "new.example.com")
	wantStatus(t, err, 404, syscall.ENOENT, "")

	if err := c.DeleteWebapp(ctx, "new.example.com"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetWebapp(ctx, "new.example.com")
	wantStatus(t, err, 404, syscall.ENOENT, "Not found.")
}

// selfSigned returns a PEM certificate and key for domain.
func selfSigned(t *testing.T, domain string) (cert, key string) {
	t.Helper()
	k := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
	}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k))
	kder := must(x509.MarshalPKCS8PrivateKey(k))
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func TestStaticMappings(t *testing.T) {
	emu, c, _ := setup(t, demo())
	ctx := context.Background()
	site := user + ".pythonanywhere.com"

	files := must(c.ListStaticFiles(ctx, site))
	if len(files) != 1 || files[0].URL != "/static/" {
		t.Fatalf("demo static files %+v", files)
	}
	sf := must(c.CreateStaticFile(ctx, site, "/media/", "/home/alice/media"))
	if sf.ID == 0 || sf.URL != "/media/" || sf.Path != "/home/alice/media" {
		t.Fatalf("created %+v", sf)
	}
	if got := must(c.GetStaticFile(ctx, site, sf.ID)); got != sf {
		t.Fatalf("get %+v", got)
	}
	np := "/home/alice/media2"
	if upd := must(c.UpdateStaticFile(ctx, site, sf.ID, nil, &np)); upd.Path != np || upd.URL != "/media/" {
		t.Fatalf("updated %+v", upd)
	}
	if err := c.DeleteStaticFile(ctx, site, sf.ID); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetStaticFile(ctx, site, sf.ID)
	wantStatus(t, err, 404, syscall.ENOENT, "Not found.")
	if len(emu.StaticFiles(site)) != 1 {
		t.Fatal("static file not deleted")
	}

	headers := must(c.ListStaticHeaders(ctx, site))
	if len(headers) != 1 || headers[0].Name != "Cache-Control" {
		t.Fatalf("demo headers %+v", headers)
	}
	sh := must(c.CreateStaticHeader(ctx, site, "/static/", "X-Frame-Options", "DENY"))
	if sh.ID == 0 || sh.Name != "X-Frame-Options" || sh.Value != "DENY" {
		t.Fatalf("created %+v", sh)
	}
	if got := must(c.GetStaticHeader(ctx, site, sh.ID)); got != sh {
		t.Fatalf("get %+v", got)
	}
	val := "SAMEORIGIN"
	if upd := must(c.UpdateStaticHeader(ctx, site, sh.ID, nil, nil, &val)); upd.Value != val || upd.Name != sh.Name {
		t.Fatalf("updated %+v", upd)
	}
	if err := c.DeleteStaticHeader(ctx, site, sh.ID); err != nil {
		t.Fatal(err)
	}
	err = c.DeleteStaticHeader(ctx, site, sh.ID)
	wantStatus(t, err, 404, syscall.ENOENT, "Not found.")
	_, err = c.ListStaticFiles(ctx, "nope.example.com")
	wantStatus(t, err, 404, syscall.ENOENT, "")
}

func TestAccount(t *testing.T) {
	emu, c, _ := setup(t, demo())
	ctx := context.Background()
	cpu := must(c.CPU(ctx))
	if cpu.DailyCPULimitSeconds <= 0 || cpu.DailyCPUTotalUsageSeconds != 12.345678 || cpu.NextResetTime == "" {
		t.Fatalf("cpu %+v", cpu)
	}
	for _, kind := range []remote.PythonKind{remote.Python3, remote.PythonDefault, remote.SaveAndRun} {
		ch := must(c.PythonVersion(ctx, kind))
		if ch.Current == "" || len(ch.Available) == 0 || !slices.Contains(ch.Available, ch.Current) {
			t.Fatalf("%s: %+v", kind, ch)
		}
		target := ch.Available[0]
		set := must(c.SetPythonVersion(ctx, kind, target))
		if set.Current != target {
			t.Fatalf("%s set to %q: %+v", kind, target, set)
		}
		if again := must(c.PythonVersion(ctx, kind)); again.Current != target {
			t.Fatalf("%s reads back %+v", kind, again)
		}
	}
	if a := emu.Account(); a.DefaultPython3Version != must(c.PythonVersion(ctx, remote.Python3)).Current {
		t.Fatalf("emulator account %+v", a)
	}
	_, err := c.SetPythonVersion(ctx, remote.Python3, "3.99")
	wantStatus(t, err, 400, syscall.EINVAL, `"3.99" is not a valid choice.`)

	img := must(c.SystemImage(ctx))
	if img.Current == "" || len(img.Available) == 0 {
		t.Fatalf("system image %+v", img)
	}
	if set := must(c.SetSystemImage(ctx, "glastonbury")); set.Current != "glastonbury" {
		t.Fatalf("set image %+v", set)
	}

	students := must(c.ListStudents(ctx))
	if len(students) != 2 || students[0].Username == "" {
		t.Fatalf("students %+v", students)
	}
	if err := c.DeleteStudent(ctx, students[0].Username); err != nil {
		t.Fatal(err)
	}
	if got := emu.Students(); len(got) != 1 {
		t.Fatalf("emulator students %v", got)
	}
	err = c.DeleteStudent(ctx, "nobody")
	wantStatus(t, err, 404, syscall.ENOENT, "")
}
