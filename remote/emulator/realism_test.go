package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

// Production Django (APPEND_SLASH, DEBUG off) answers a slashless URL whose
// slashed form exists with a 301 for every method, before authentication. The
// official clients' `students/{name}` DELETE works that way: Python's requests
// repeats a DELETE at the new location (it turns only a POST into a GET).
func TestSlashlessRequestsRedirectForEveryMethod(t *testing.T) {
	v := newEnv(t, Config{Demo: true})
	r := v.del(v.api("students/alice"))
	want(t, r, http.StatusMovedPermanently, nil)
	loc := r.header.Get("Location")
	if loc != "/api/v0/user/demo/students/alice/" {
		t.Fatalf("Location %q", loc)
	}
	if !slices.Contains(v.e.Students(), "alice") {
		t.Fatal("the redirect itself deleted the student")
	}
	want(t, v.del(v.srv.URL+loc), http.StatusNoContent, nil)
	if slices.Contains(v.e.Students(), "alice") {
		t.Error("the DELETE at the redirect target did not delete the student")
	}

	// A POST gets the redirect too and is not applied; followed as a GET (what
	// clients do with a 301 to a POST), it only lists.
	before := len(v.e.ScheduledTasks())
	r = v.sendJSON(http.MethodPost, v.api("schedule"), map[string]any{"command": "x", "interval": "hourly", "minute": 1})
	want(t, r, http.StatusMovedPermanently, nil)
	if r.header.Get("Location") != "/api/v0/user/demo/schedule/" || len(v.e.ScheduledTasks()) != before {
		t.Errorf("POST without slash: Location %q, tasks %d→%d", r.header.Get("Location"), before, len(v.e.ScheduledTasks()))
	}
	id := v.e.AddAlwaysOnTask(AlwaysOnTask{Command: "c", Enabled: true})
	r = v.sendJSON(http.MethodPatch, v.api(fmt.Sprintf("always_on/%d", id)), map[string]any{"enabled": false})
	want(t, r, http.StatusMovedPermanently, nil)
	// Before authentication, as in Django's middleware: a wrong token still gets the redirect.
	v.token = "wrong"
	want(t, v.del(v.api("students/bob")), http.StatusMovedPermanently, nil)
}

// The real sandbox's "/" holds the usual system directories; only the home
// directory, /tmp, /var/www and /var/log take writes.
func TestRootHasSystemDirectories(t *testing.T) {
	v := newEnv(t, Config{})
	root := obj(t, v.get(v.api("files/path/")))
	for _, d := range []string{"bin", "etc", "home", "lib", "opt", "tmp", "usr", "var"} {
		ent, ok := root[d].(map[string]any)
		if !ok || ent["type"] != "directory" {
			t.Errorf("/ lacks directory %s: %s", d, v.get(v.api("files/path/")).body)
		}
	}
	if home := keys(obj(t, v.get(v.filesURL("/home")))); fmt.Sprint(home) != "[demo]" {
		t.Errorf("/home lists %v", home)
	}
	if usr := obj(t, v.get(v.filesURL("/usr"))); usr["lib"] == nil || usr["bin"] == nil {
		t.Errorf("/usr lists %v", keys(usr))
	}
	want(t, v.get(v.filesURL("/etc")), http.StatusOK, nil)

	denied := map[string]string{"detail": "You do not have permission to write to this path."}
	forbidden := map[string]string{"message": "You do not have permission to delete this", "code": "forbidden"}
	for _, p := range []string{"/etc/motd", "/usr/lib/x.py", "/bin/sh2", "/var/x", "/x"} {
		want(t, v.upload(p, []byte("x")), http.StatusForbidden, denied)
	}
	for _, p := range []string{"/usr", "/etc", "/var", "/var/www", "/tmp", "/home", "/home/demo"} {
		want(t, v.del(v.filesURL(p)), http.StatusForbidden, forbidden)
	}
	for _, root := range v.e.WritableRoots() {
		want(t, v.upload(root+"/new.txt", []byte("x")), http.StatusCreated, nil)
	}
	if got := fmt.Sprint(v.e.WritableRoots()); got != "[/home/demo /tmp /var/www /var/log]" {
		t.Errorf("WritableRoots %s", got)
	}
	for _, d := range SystemDirs() {
		if !v.e.IsDir(d) {
			t.Errorf("system directory %s missing", d)
		}
	}
	// Reset keeps them.
	v.e.Reset(false)
	if !v.e.IsDir("/usr/bin") || len(v.e.Files("/")) != 0 {
		t.Error("Reset lost the system directories or left files")
	}
}

// PUT is DRF's full update: every field a create requires must be sent; fields
// not sent keep their values. PATCH stays partial.
func TestPutIsAFullUpdate(t *testing.T) {
	v := newEnv(t, Config{Demo: true})
	aoID := v.e.AddAlwaysOnTask(AlwaysOnTask{Command: "c", Description: "d", Enabled: true})
	ao := v.api(fmt.Sprintf("always_on/%d/", aoID))
	want(t, v.sendJSON(http.MethodPut, ao, map[string]any{"enabled": false}), http.StatusBadRequest,
		map[string][]string{"command": {msgRequired}})
	if ts := v.e.AlwaysOnTasks(); !ts[len(ts)-1].Enabled {
		t.Error("a refused PUT was applied")
	}
	want(t, v.sendJSON(http.MethodPatch, ao, map[string]any{"enabled": false}), http.StatusOK, nil)
	r := v.sendJSON(http.MethodPut, ao, map[string]any{"command": "c2"})
	if m := obj(t, r); r.status != http.StatusOK || m["command"] != "c2" || m["description"] != "d" {
		t.Errorf("full PUT: %d %s", r.status, r.body)
	}

	hour := 3
	taskID := v.e.AddScheduledTask(ScheduledTask{Command: "c", Interval: "daily", Hour: &hour, Minute: 1, Enabled: true})
	task := v.api(fmt.Sprintf("schedule/%d/", taskID))
	want(t, v.sendJSON(http.MethodPut, task, map[string]any{"command": "c2"}), http.StatusBadRequest,
		map[string][]string{"interval": {msgRequired}, "minute": {msgRequired}})
	want(t, v.sendJSON(http.MethodPut, task, map[string]any{"command": "c2", "interval": "daily", "minute": 5}), http.StatusOK, nil)
	want(t, v.sendJSON(http.MethodPatch, task, map[string]any{"minute": 6}), http.StatusOK, nil)

	sf := v.api("webapps/demo.pythonanywhere.com/static_files/")
	id := int(obj(t, v.sendJSON(http.MethodPost, sf, map[string]string{"url": "/m/", "path": "/home/demo/m"}))["id"].(float64))
	want(t, v.sendJSON(http.MethodPut, fmt.Sprintf("%s%d/", sf, id), map[string]string{"url": "/n/"}), http.StatusBadRequest,
		map[string][]string{"path": {msgRequired}})
	want(t, v.sendJSON(http.MethodPatch, fmt.Sprintf("%s%d/", sf, id), map[string]string{"url": "/n/"}), http.StatusOK, nil)
}
