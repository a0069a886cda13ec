package control_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/pafs/pafs/remote/emulator"
)

// sample is a value to write to a field and what the server then holds
// (and the file reads as).
type sample struct{ in, want string }

// roundTrip writes every writable field of the kind's table, in table
// order, into the object folder dir: each write costs exactly one request
// that changes something (the field's PATCH, or req[name]), the server's
// object then holds the value under the field's name, and the file reads
// it back. A field of the table without a sample fails the test.
func roundTrip(e *env, folder, domain, dir string, samples map[string]sample, req map[string]string, server func() any) {
	e.t.Helper()
	fields := e.ctl.WritableFields(folder, domain)
	if len(fields) == 0 {
		e.t.Fatalf("%s: no writable fields", folder)
	}
	for _, name := range fields {
		s, ok := samples[name]
		if !ok {
			e.t.Errorf("%s: writable field %s has no sample: add one to the test", folder, name)
			continue
		}
		before := e.changes()
		e.must("write "+dir+"/"+name, e.write(dir+"/"+name, s.in+"\n"))
		d := delta(before, e.changes())
		want := req[name]
		if want == "" {
			want = req[""]
		}
		if len(d) != 1 || d[want] != 1 {
			e.t.Errorf("%s/%s: requests %v, want one %s", dir, name, d, want)
		}
		if got := member(e, server(), name); got != s.want {
			e.t.Errorf("%s/%s: the server holds %q, want %q", dir, name, got, s.want)
		}
		if got := e.cat(dir + "/" + name); got != s.want+"\n" {
			e.t.Errorf("%s/%s reads %q after the write, want %q", dir, name, got, s.want+"\n")
		}
	}
}

// member is the JSON member name of the server's object v, as the
// one-value file would show it.
func member(e *env, v any, name string) string {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatal(err)
	}
	x, ok := m[name]
	if !ok {
		e.t.Errorf("the server's object has no member %q: %s", name, b)
	}
	switch x := x.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return string(b)
}

func TestRoundTripWebapp(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	roundTrip(e, "webapps", "", "webapps/"+appA, map[string]sample{
		"python_version":               {"python3.12", "3.12"},
		"source_directory":             {"/home/alice/src2", "/home/alice/src2"},
		"working_directory":            {" /home/alice/work ", "/home/alice/work"},
		"virtualenv_path":              {"/home/alice/.venvs/site", "/home/alice/.venvs/site"},
		"force_https":                  {"yes", "true"},
		"password_protection_enabled":  {"on", "true"},
		"password_protection_username": {"bob", "bob"},
		"password_protection_password": {"s3cret", "s3cret"},
		"enabled":                      {"0", "false"},
	}, map[string]string{"": "PATCH webapps/{domain}", "enabled": "POST webapps/{domain}/disable"},
		func() any { w, _ := e.emu.Webapp(appA); return w })
}

func TestRoundTripSchedule(t *testing.T) {
	e := start(t)
	hour := 3
	id := strconv.Itoa(e.emu.AddScheduledTask(emulator.ScheduledTask{Command: "true", Interval: "daily", Hour: &hour, Minute: 5, Enabled: true}))
	// In table order: hourly drops the hour, then an hour makes it daily.
	roundTrip(e, "schedule", "", "schedule/"+id, map[string]sample{
		"command":     {"python3 /home/alice/job.py", "python3 /home/alice/job.py"},
		"description": {"nightly job", "nightly job"},
		"enabled":     {"false", "false"},
		"interval":    {"hourly", "hourly"},
		"hour":        {"4", "4"},
		"minute":      {"30", "30"},
	}, map[string]string{"": "PATCH schedule/{id}"}, func() any { return e.emu.ScheduledTasks()[0] })
	if got := e.cat("schedule/" + id + "/interval"); got != "daily\n" {
		t.Errorf("writing the hour left interval %q, want daily", got)
	}
}

func TestRoundTripAlwaysOn(t *testing.T) {
	e := start(t)
	id := strconv.Itoa(e.emu.AddAlwaysOnTask(emulator.AlwaysOnTask{Command: "python3 bot.py", Enabled: true}))
	roundTrip(e, "always_on", "", "always_on/"+id, map[string]sample{
		"command":     {"python3 /home/alice/bot2.py", "python3 /home/alice/bot2.py"},
		"description": {"the bot", "the bot"},
		"enabled":     {"no", "false"},
	}, map[string]string{"": "PATCH always_on/{id}"}, func() any { return e.emu.AlwaysOnTasks()[0] })
	if got := e.cat("always_on/" + id + "/state"); got != "Stopped\n" {
		t.Errorf("state after disabling: %q", got)
	}
}

func TestRoundTripStatic(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	fid := strconv.Itoa(e.emu.AddStaticFile(appA, "/static/", "/home/alice/mysite/static"))
	hid := strconv.Itoa(e.emu.AddStaticHeader(appA, "/static/", "Cache-Control", "no-cache"))
	roundTrip(e, "static_files", appA, "webapps/"+appA+"/static_files/"+fid, map[string]sample{
		"url":  {"/assets/", "/assets/"},
		"path": {"/home/alice/assets", "/home/alice/assets"},
	}, map[string]string{"": "PATCH webapps/{domain}/static_files/{id}"}, func() any { return e.emu.StaticFiles(appA)[0] })
	roundTrip(e, "static_headers", appA, "webapps/"+appA+"/static_headers/"+hid, map[string]sample{
		"url":   {"/media/", "/media/"},
		"name":  {"X-Frame-Options", "X-Frame-Options"},
		"value": {"DENY", "DENY"},
	}, map[string]string{"": "PATCH webapps/{domain}/static_headers/{id}"}, func() any { return e.emu.StaticHeaders(appA)[0] })
}
