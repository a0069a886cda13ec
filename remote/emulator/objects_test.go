package emulator

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestConsoles(t *testing.T) {
	v := newEnv(t, Config{})
	r := v.sendJSON("POST", v.api("consoles/"), map[string]string{"executable": "bash", "arguments": ""})
	want(t, r, 201, nil)
	c := obj(t, r)
	id := int(c["id"].(float64))
	wantKeys := "[arguments console_frame_url console_url executable id name user working_directory]"
	if fmt.Sprint(keys(c)) != wantKeys || c["working_directory"] != nil || c["user"] != "demo" {
		t.Fatalf("console object %s", r.body)
	}
	if c["console_url"] != fmt.Sprintf("/user/demo/consoles/%d/", id) || c["name"] != fmt.Sprintf("Bash console %d", id) {
		t.Errorf("console urls/name %s", r.body)
	}
	want(t, v.get(v.api(fmt.Sprintf("consoles/%d/", id))), 200, c)
	if l := list(t, v.get(v.api("consoles/"))); len(l) != 1 {
		t.Errorf("list %v", l)
	}
	want(t, v.get(v.api("consoles/shared_with_you/")), 200, []any{})

	notStarted := map[string]string{"error": "Console not yet started. Please load it (or its iframe) in a browser first"}
	out := v.api(fmt.Sprintf("consoles/%d/get_latest_output/", id))
	in := v.api(fmt.Sprintf("consoles/%d/send_input/", id))
	want(t, v.get(out), 412, notStarted)
	want(t, v.sendJSON("POST", in, map[string]string{"input": "ls\n"}), 412, notStarted)

	if !v.e.StartConsole(id) || v.e.StartConsole(99) {
		t.Fatal("StartConsole result")
	}
	before := obj(t, v.get(out))["output"].(string)
	if before == "" {
		t.Fatal("a started console shows a prompt")
	}
	want(t, v.sendForm("POST", in, url.Values{"input": {"ls\n"}}), 200, map[string]string{"status": "OK"})
	after := obj(t, v.get(out))["output"].(string)
	if !strings.HasPrefix(after, before+"ls\r\n") || !strings.HasSuffix(after, "$ ") {
		t.Errorf("output %q after %q", after, before)
	}
	if v.e.ConsoleInput(id) != "ls\n" {
		t.Errorf("ConsoleInput %q", v.e.ConsoleInput(id))
	}
	v.e.AppendConsoleOutput(id, "file1  file2\r\n")
	v.sendJSON("POST", in, map[string]string{"input": strings.Repeat("é", 600)})
	got := obj(t, v.get(out))["output"].(string)
	if len(got) > outputKeep || !strings.HasSuffix(got, "é") {
		t.Errorf("output not trimmed to a clean tail: %d bytes", len(got))
	}
	want(t, v.sendJSON("POST", in, map[string]string{}), 400, map[string][]string{"input": {"This field is required."}})
	want(t, v.del(v.api(fmt.Sprintf("consoles/%d/", id))), 204, nil)
	want(t, v.get(v.api(fmt.Sprintf("consoles/%d/", id))), 404, map[string]string{"detail": "Not found."})
	want(t, v.sendJSON("POST", v.api("consoles/"), map[string]string{}), 400, map[string][]string{"executable": {"This field is required."}})

	sid := v.e.AddSharedConsole("alice", "python3.10")
	l := list(t, v.get(v.api("consoles/shared_with_you/")))
	if len(l) != 1 || l[0].(map[string]any)["user"] != "alice" || l[0].(map[string]any)["name"] != fmt.Sprintf("Python 3.10 console %d", sid) {
		t.Errorf("shared %v", l)
	}
}

func TestConsoleStartHook(t *testing.T) {
	v := newEnv(t, Config{})
	id := v.e.AddConsole("bash", "")
	v.token = ""
	want(t, v.do("POST", fmt.Sprintf("%s/__emulator/consoles/%d/start", v.srv.URL, id), "", nil), 204, nil)
	want(t, v.do("POST", fmt.Sprintf("%s/__emulator/consoles/%d/output", v.srv.URL, id), "text/plain", []byte("hello")), 204, nil)
	v.token = testToken
	if o := obj(t, v.get(v.api(fmt.Sprintf("consoles/%d/get_latest_output/", id))))["output"].(string); !strings.HasSuffix(o, "hello") {
		t.Errorf("output %q", o)
	}
	v.sendJSON("POST", v.api(fmt.Sprintf("consoles/%d/send_input/", id)), map[string]string{"input": "pwd\n"})
	v.token = ""
	if r := v.get(fmt.Sprintf("%s/__emulator/consoles/%d/input", v.srv.URL, id)); string(r.body) != "pwd\n" {
		t.Errorf("input hook %q", r.body)
	}
	want(t, v.do("POST", v.srv.URL+"/__emulator/consoles/999/start", "", nil), 404, nil)
}

func TestAlwaysOn(t *testing.T) {
	v := newEnv(t, Config{})
	r := v.sendJSON("POST", v.api("always_on/"), map[string]any{"command": "python3.10 bot.py", "description": "bot", "enabled": true})
	want(t, r, 201, nil)
	task := obj(t, r)
	id := int(task["id"].(float64))
	if fmt.Sprint(keys(task)) != "[command description enabled id state url]" || task["state"] != "Running" ||
		task["url"] != fmt.Sprintf("/api/v0/user/demo/always_on/%d/", id) {
		t.Fatalf("task %s", r.body)
	}
	if !v.e.Exists(fmt.Sprintf("/var/log/alwayson-log-%d.log", id)) {
		t.Error("no log file")
	}
	u := v.api(fmt.Sprintf("always_on/%d/", id))
	want(t, v.get(u), 200, task)
	r = v.sendForm("PATCH", u, url.Values{"enabled": {"False"}})
	want(t, r, 200, nil)
	if m := obj(t, r); m["enabled"] != false || m["state"] != "Stopped" || m["command"] != "python3.10 bot.py" {
		t.Errorf("patched %s", r.body)
	}
	r = v.sendJSON("PUT", u, map[string]any{"command": "python3.11 bot.py", "enabled": "1"})
	if m := obj(t, r); r.status != 200 || m["command"] != "python3.11 bot.py" || m["state"] != "Running" {
		t.Errorf("put %d %s", r.status, r.body)
	}
	want(t, v.sendJSON("PATCH", u, map[string]any{"enabled": "maybe"}), 400, map[string][]string{"enabled": {"Must be a valid boolean."}})
	want(t, v.do("POST", u+"restart/", "", nil), 200, map[string]string{"status": "OK"})
	if ts := v.e.AlwaysOnTasks(); len(ts) != 1 || ts[0].Restarts != 1 {
		t.Errorf("restarts %+v", ts)
	}
	want(t, v.sendJSON("POST", v.api("always_on/"), map[string]any{"description": "x"}), 400, map[string][]string{"command": {"This field is required."}})
	want(t, v.del(u), 204, nil)
	want(t, v.get(u), 404, map[string]string{"detail": "Not found."})
	want(t, v.get(v.api("always_on/")), 200, []any{})
}

func TestScheduleCreateAndShape(t *testing.T) {
	v := newEnv(t, Config{})
	r := v.sendJSON("POST", v.api("schedule/"), map[string]any{"command": "echo foo", "interval": "daily", "hour": 16, "minute": 0, "enabled": true})
	want(t, r, 201, nil)
	task := obj(t, r)
	id := int(task["id"].(float64))
	wantKeys := "[can_enable command description enabled expiry extend_url hour id interval logfile minute printable_time url user]"
	if fmt.Sprint(keys(task)) != wantKeys {
		t.Fatalf("keys %v", keys(task))
	}
	logWeb := fmt.Sprintf("/user/demo/files/var/log/tasklog-%d-daily-at-1600-echo_foo.log", id)
	if task["printable_time"] != "16:00" || task["url"] != fmt.Sprintf("/api/v0/user/demo/schedule/%d", id) ||
		task["logfile"] != logWeb || task["hour"] != 16.0 || task["expiry"] != nil {
		t.Errorf("task %s", r.body)
	}
	if !v.e.Exists(strings.TrimPrefix(logWeb, "/user/demo/files")) {
		t.Error("log file not created")
	}
	u := v.api(fmt.Sprintf("schedule/%d/", id))
	want(t, v.get(u), 200, task)

	// Form body, hourly.
	r = v.sendForm("POST", v.api("schedule/"), url.Values{"command": {"date"}, "interval": {"hourly"}, "minute": {"5"}, "enabled": {"False"}})
	want(t, r, 201, nil)
	if m := obj(t, r); m["hour"] != nil || m["printable_time"] != "05 minutes past" || m["enabled"] != false {
		t.Errorf("hourly %s", r.body)
	}
	if n := len(list(t, v.get(v.api("schedule/")))); n != 2 {
		t.Errorf("%d tasks", n)
	}
	want(t, v.get(v.api("user_perms/schedule/")), 200, map[string]bool{"can_create_tasks": true})
}

func TestScheduleValidation(t *testing.T) {
	v := newEnv(t, Config{})
	post := func(body map[string]any) res { return v.sendJSON("POST", v.api("schedule/"), body) }
	want(t, post(map[string]any{}), 400, map[string][]string{"command": {"This field is required."},
		"interval": {"This field is required."}, "minute": {"This field is required."}})
	want(t, post(map[string]any{"command": "x", "interval": "hourly", "hour": 3, "minute": 0}), 400,
		map[string][]string{"non_field_errors": {"Hourly tasks must not have an hour."}})
	want(t, post(map[string]any{"command": "x", "interval": "daily", "minute": 0}), 400,
		map[string][]string{"non_field_errors": {"Daily tasks must have an hour."}})
	want(t, post(map[string]any{"command": "x", "interval": "weekly", "minute": 60, "hour": 24}), 400, map[string][]string{
		"interval": {`"weekly" is not a valid choice.`}, "minute": {"Ensure this value is less than or equal to 59."},
		"hour": {"Ensure this value is less than or equal to 23."}})
	want(t, post(map[string]any{"command": "x", "interval": "hourly", "minute": "abc"}), 400,
		map[string][]string{"minute": {"A valid integer is required."}})

	id := v.e.AddScheduledTask(ScheduledTask{Command: "x", Interval: "hourly", Minute: 1, Enabled: true})
	u := v.api(fmt.Sprintf("schedule/%d/", id))
	want(t, v.sendJSON("PATCH", u, map[string]any{"hour": 5}), 400, map[string][]string{"non_field_errors": {"Hourly tasks must not have an hour."}})
	r := v.sendJSON("PATCH", u, map[string]any{"interval": "daily", "hour": 5})
	if m := obj(t, r); r.status != 200 || m["printable_time"] != "05:01" || !strings.Contains(m["logfile"].(string), "daily-at-0501") {
		t.Errorf("patch to daily: %d %s", r.status, r.body)
	}
	r = v.sendJSON("PUT", u, map[string]any{"command": "x", "interval": "hourly", "minute": 1})
	if m := obj(t, r); r.status != 200 || m["hour"] != nil {
		t.Errorf("put to hourly: %d %s", r.status, r.body)
	}
	want(t, v.del(u), 204, nil)
	want(t, v.del(u), 404, map[string]string{"detail": "Not found."})

	v.e.SetScheduleLimit(1)
	v.e.AddScheduledTask(ScheduledTask{Command: "y", Interval: "hourly"})
	want(t, post(map[string]any{"command": "x", "interval": "hourly", "minute": 0}), 403,
		map[string]string{"detail": "You have reached your maximum number of scheduled tasks"})
}

func TestWebappCreate(t *testing.T) {
	v := newEnv(t, Config{})
	r := v.sendForm("POST", v.api("webapps/"), url.Values{"domain_name": {"Www.Example.com"}, "python_version": {"python310"}})
	want(t, r, 201, map[string]string{"status": "OK"})
	w, ok := v.e.Webapp("Www.Example.com")
	if !ok || w.PythonVersion != "3.10" || !w.Enabled || w.SourceDirectory != "/home/demo/" {
		t.Fatalf("webapp %+v", w)
	}
	for _, p := range append([]string{"/var/www/www_example_com_wsgi.py"}, LogPaths("Www.Example.com")...) {
		if !v.e.Exists(p) {
			t.Errorf("%s not created", p)
		}
	}
	m := obj(t, v.get(v.api("webapps/Www.Example.com/")))
	wantKeys := "[domain_name enabled expiry force_https id password_protection_enabled password_protection_password " +
		"password_protection_username python_version source_directory user virtualenv_path working_directory]"
	if fmt.Sprint(keys(m)) != wantKeys || m["python_version"] != "3.10" || m["virtualenv_path"] != "" {
		t.Errorf("object %v", m)
	}
	for _, pv := range []string{"3.10", "python3.10", "python399", "python"} {
		want(t, v.sendForm("POST", v.api("webapps/"), url.Values{"domain_name": {"b.example.com"}, "python_version": {pv}}), 400,
			map[string][]string{"python_version": {fmt.Sprintf("%q is not a valid choice.", pv)}})
	}
	r = v.sendJSON("POST", v.api("webapps/"), map[string]string{"domain_name": "Www.Example.com", "python_version": "python311"})
	want(t, r, 400, nil)
	if obj(t, r)["error_message"] == nil {
		t.Errorf("duplicate: %s", r.body)
	}
	want(t, v.sendJSON("POST", v.api("webapps/"), map[string]string{"python_version": "python311"}), 400,
		map[string][]string{"domain_name": {"This field is required."}})
	v.e.SetWebappLimit(1)
	want(t, v.sendJSON("POST", v.api("webapps/"), map[string]string{"domain_name": "c.example.com", "python_version": "python311"}), 400,
		map[string]string{"error_message": "You cannot create any more webapps - your account only allows 1"})
}

func TestWebappUpdateAndActions(t *testing.T) {
	v := newEnv(t, Config{Demo: true})
	u := v.api("webapps/demo.pythonanywhere.com/")
	r := v.sendForm("PATCH", u, url.Values{"python_version": {"3.12"}, "force_https": {"True"}, "virtualenv_path": {"/home/demo/.venv"}, "bogus": {"x"}})
	want(t, r, 200, nil)
	if m := obj(t, r); m["python_version"] != "3.12" || m["force_https"] != true || m["virtualenv_path"] != "/home/demo/.venv" {
		t.Errorf("patched %s", r.body)
	}
	want(t, v.sendJSON("PUT", u, map[string]any{"python_version": "3.99", "force_https": false}), 400,
		map[string][]string{"python_version": {`"3.99" is not a valid choice.`}})
	if w, _ := v.e.Webapp("demo.pythonanywhere.com"); !w.ForceHTTPS {
		t.Error("a refused PUT was half-applied")
	}
	want(t, v.sendJSON("PATCH", u, map[string]any{"virtualenv_path": nil}), 200, nil)
	for _, action := range []string{"disable", "enable", "reload", "reload"} {
		want(t, v.do("POST", u+action+"/", "", nil), 200, map[string]string{"status": "OK"})
		if action == "disable" {
			if w, _ := v.e.Webapp("demo.pythonanywhere.com"); w.Enabled {
				t.Error("still enabled")
			}
		}
	}
	if w, _ := v.e.Webapp("demo.pythonanywhere.com"); !w.Enabled || w.Reloads != 2 || w.VirtualenvPath != "" {
		t.Errorf("after actions %+v", w)
	}
	want(t, v.get(u+"reload/"), 405, map[string]string{"detail": `Method "GET" not allowed.`})
	missing := v.api("webapps/nope.example.com/")
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		want(t, v.do(m, missing, "", nil), 404, map[string]string{"detail": "Not found."})
	}
	want(t, v.do("POST", missing+"reload/", "", nil), 404, map[string]string{"detail": "Not found."})
	// The object is looked up before the body is read, as in a DRF view.
	want(t, v.do("PATCH", missing, "application/json", []byte("{")), 404, map[string]string{"detail": "Not found."})
	want(t, v.sendJSON("POST", missing+"static_files/", map[string]string{}), 404, map[string]string{"detail": "Not found."})
	want(t, v.sendJSON("POST", missing+"ssl/", map[string]string{}), 404, map[string]string{"detail": "Not found."})
	want(t, v.del(u), 204, nil)
	if _, ok := v.e.Webapp("demo.pythonanywhere.com"); ok || !v.e.Exists(WSGIPath("demo.pythonanywhere.com")) {
		t.Error("delete should remove the app but keep its files")
	}
}

func TestStaticMappings(t *testing.T) {
	v := newEnv(t, Config{Demo: true})
	for _, kind := range []struct {
		path   string
		create map[string]string
		change map[string]string
	}{
		{"static_files", map[string]string{"url": "/media/", "path": "/home/demo/media"}, map[string]string{"path": "/home/demo/m2"}},
		{"static_headers", map[string]string{"url": "/s/", "name": "X-Test", "value": "1"}, map[string]string{"value": "2"}},
	} {
		base := v.api("webapps/demo.pythonanywhere.com/" + kind.path + "/")
		before := len(list(t, v.get(base)))
		r := v.sendJSON("POST", base, kind.create)
		want(t, r, 201, nil)
		m := obj(t, r)
		id := int(m["id"].(float64))
		for k, val := range kind.create {
			if m[k] != val {
				t.Errorf("%s %s: %v", kind.path, k, m)
			}
		}
		want(t, v.get(fmt.Sprintf("%s%d/", base, id)), 200, m)
		r = v.sendJSON("PATCH", fmt.Sprintf("%s%d/", base, id), kind.change)
		for k, val := range kind.change {
			if obj(t, r)[k] != val {
				t.Errorf("%s patch: %s", kind.path, r.body)
			}
		}
		if len(list(t, v.get(base))) != before+1 {
			t.Errorf("%s list", kind.path)
		}
		want(t, v.sendJSON("POST", base, map[string]string{}), 400, nil)
		want(t, v.del(fmt.Sprintf("%s%d/", base, id)), 204, nil)
		want(t, v.get(fmt.Sprintf("%s%d/", base, id)), 404, map[string]string{"detail": "Not found."})
		want(t, v.get(v.api("webapps/www.demo-demo.com/"+kind.path+"/")), 200, []any{})
	}
	if sf := v.e.StaticFiles("demo.pythonanywhere.com"); len(sf) != 1 || sf[0].URL != "/static/" {
		t.Errorf("demo static files %+v", sf)
	}
	if sh := v.e.StaticHeaders("demo.pythonanywhere.com"); len(sh) != 1 || sh[0].Name != "Cache-Control" {
		t.Errorf("demo static headers %+v", sh)
	}
}

func TestAccountResources(t *testing.T) {
	v := newEnv(t, Config{Demo: true})
	cpu := obj(t, v.get(v.api("cpu/")))
	if fmt.Sprint(keys(cpu)) != "[daily_cpu_limit_seconds daily_cpu_total_usage_seconds next_reset_time]" ||
		len(cpu["next_reset_time"].(string)) != len("2025-08-09T03:26:37") {
		t.Errorf("cpu %v", cpu)
	}
	for _, c := range []struct{ path, key, avail, good string }{
		{"default_python3_version", "default_python3_version", "available_python3_versions", "3.12"},
		{"default_python_version", "default_python_version", "available_python_versions", "3.8"},
		{"default_save_and_run_python_version", "default_save_and_run_python_version", "available_python_versions", "3.13"},
		{"system_image", "system_image", "available_system_images", "haggis"},
	} {
		u := v.api(c.path + "/")
		m := obj(t, v.get(u))
		if len(m) != 2 || m[c.avail] == nil || m[c.key] == nil {
			t.Errorf("%s: %v", c.path, m)
		}
		r := v.sendJSON("PATCH", u, map[string]string{c.key: c.good})
		if r.status != 200 || obj(t, r)[c.key] != c.good {
			t.Errorf("%s patch: %d %s", c.path, r.status, r.body)
		}
		want(t, v.sendForm("PATCH", u, url.Values{c.key: {"3.99"}}), 400, map[string][]string{c.key: {`"3.99" is not a valid choice.`}})
		want(t, v.sendJSON("PATCH", u, map[string]string{}), 400, map[string][]string{c.key: {"This field is required."}})
	}
	a := v.e.Account()
	if a.DefaultPython3Version != "3.12" || a.SystemImage != "haggis" {
		t.Errorf("account %+v", a)
	}
	want(t, v.get(v.api("students/")), 200, map[string]any{"students": []map[string]string{{"username": "alice"}, {"username": "bob"}}})
	want(t, v.del(v.api("students/alice/")), 204, nil)
	want(t, v.del(v.api("students/alice/")), 404, map[string]string{"detail": "Not found."})
	if s := v.e.Students(); len(s) != 1 || s[0] != "bob" {
		t.Errorf("students %v", s)
	}
}
