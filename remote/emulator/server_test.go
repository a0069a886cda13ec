package emulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	v := newEnv(t, Config{})
	v.token = "wrong"
	r := v.get(v.api("cpu/"))
	want(t, r, 401, map[string]string{"detail": "Invalid token."})
	if r.header.Get("WWW-Authenticate") != "Token" {
		t.Error("no WWW-Authenticate")
	}
	v.token = ""
	want(t, v.get(v.api("cpu/")), 401, map[string]string{"detail": "Authentication credentials were not provided."})
	want(t, v.get(v.filesURL("/home/demo")), 401, nil)
	req, _ := http.NewRequest("GET", v.api("cpu/"), nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("Bearer accepted: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	v.token = testToken
	want(t, v.get(v.srv.URL+"/api/v0/user/alice/cpu/"), 403, map[string]string{"detail": "You do not have permission to perform this action."})
	want(t, v.get(v.srv.URL+"/api/v0/user/alice/files/path/home/alice"), 403, nil)
	if v.e.Stats().Total429 != 0 {
		t.Error("401/403 counted as throttled")
	}
}

func TestTrailingSlashRule(t *testing.T) {
	v := newEnv(t, Config{Demo: true})
	r := v.get(v.api("files/tree?path=/home/demo"))
	want(t, r, 301, nil)
	if loc := r.header.Get("Location"); loc != "/api/v0/user/demo/files/tree/?path=/home/demo" {
		t.Errorf("Location %q", loc)
	}
	before := len(v.e.ScheduledTasks())
	r = v.sendJSON("POST", v.api("schedule"), map[string]any{"command": "x", "interval": "hourly", "minute": 1})
	if r.status != 301 || len(v.e.ScheduledTasks()) != before {
		t.Errorf("POST without slash: %d, tasks %d→%d", r.status, before, len(v.e.ScheduledTasks()))
	}
	want(t, v.del(v.api("students/alice")), 301, nil)
	want(t, v.get(v.api("webapps/demo.pythonanywhere.com/reload")), 301, nil)
	if v.e.Count("GET", "files/tree") != 1 || v.e.Count("POST", "schedule") != 1 {
		t.Errorf("stats %v", v.e.Stats().Requests)
	}
}

func TestUnknownRoutes(t *testing.T) {
	v := newEnv(t, Config{})
	for _, p := range []string{"/", "/api/v0/user/demo/", "/api/v0/user/demo/nothing/", "/api/v0/user/demo/consoles/abc/",
		"/api/v0/user/demo/consoles//", "/api/v0/user/demo/schedule/1/extra/", "/api/v1/user/demo/websites/", "/__emulator"} {
		r := v.get(v.srv.URL + p)
		if r.status != 404 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", p, r.status, r.header.Get("Content-Type"))
		}
	}
	if v.e.Count("GET", "unmatched") != 8 {
		t.Errorf("stats %v", v.e.Stats().Requests)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	v := newEnv(t, Config{})
	r := v.do("PUT", v.api("consoles/"), "", nil)
	want(t, r, 405, map[string]string{"detail": `Method "PUT" not allowed.`})
	if r.header.Get("Allow") != "GET, POST, HEAD, OPTIONS" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	want(t, v.do("PATCH", v.filesURL("/home/demo"), "", nil), 405, map[string]string{"detail": `Method "PATCH" not allowed.`})
	r = v.do("HEAD", v.api("cpu/"), "", nil)
	if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") == "0" {
		t.Errorf("HEAD: %d %q %q", r.status, r.body, r.header.Get("Content-Length"))
	}
	want(t, v.do("OPTIONS", v.api("cpu/"), "", nil), 200, nil)
}

func TestBodyParsing(t *testing.T) {
	v := newEnv(t, Config{})
	u := v.api("always_on/")
	r := v.do("POST", u, "application/json", []byte(`{"command": `))
	want(t, r, 400, nil)
	if d, _ := obj(t, r)["detail"].(string); !strings.HasPrefix(d, "JSON parse error - ") {
		t.Errorf("detail %q", d)
	}
	want(t, v.do("POST", u, "application/json", []byte(`{"command": "x"} trailing`)), 400, nil)
	want(t, v.do("POST", u, "application/json", []byte(`["command"]`)), 400,
		map[string][]string{"non_field_errors": {"Invalid data. Expected a dictionary, but got list."}})
	want(t, v.do("POST", u, "text/plain", []byte("command=x")), 415, map[string]string{"detail": `Unsupported media type "text/plain" in request.`})
	want(t, v.do("POST", u, "application/json; charset=utf-8", []byte(`{"command": "a", "enabled": "false"}`)), 201, nil)
	want(t, v.do("POST", u, "application/json", []byte(`{"command": true}`)), 400, map[string][]string{"command": {"Not a valid string."}})
	want(t, v.do("POST", u, "application/json", []byte(`{"command": null}`)), 400, map[string][]string{"command": {"This field may not be null."}})
	want(t, v.do("POST", u, "application/json", []byte(`{"command": "  "}`)), 400, map[string][]string{"command": {"This field may not be blank."}})
	for _, b := range []string{"True", "true", "1", "yes", "on"} {
		r := v.sendForm("POST", u, url.Values{"command": {"c"}, "enabled": {b}})
		if r.status != 201 || obj(t, r)["enabled"] != true {
			t.Errorf("enabled=%s: %d %s", b, r.status, r.body)
		}
	}
	for _, b := range []string{"False", "false", "0"} {
		r := v.sendForm("POST", u, url.Values{"command": {"c"}, "enabled": {b}})
		if r.status != 201 || obj(t, r)["enabled"] != false {
			t.Errorf("enabled=%s: %d %s", b, r.status, r.body)
		}
	}
	// Multipart for ordinary endpoints too.
	body := "--XX\r\nContent-Disposition: form-data; name=\"command\"\r\n\r\nmp\r\n--XX--\r\n"
	r = v.do("POST", u, "multipart/form-data; boundary=XX", []byte(body))
	if r.status != 201 || obj(t, r)["command"] != "mp" {
		t.Errorf("multipart: %d %s", r.status, r.body)
	}
	want(t, v.do("POST", u, "multipart/form-data", []byte(body)), 400, nil)
	// Numbers in JSON strings and floats with .0 are integers, as in DRF.
	r = v.sendJSON("POST", v.api("schedule/"), map[string]any{"command": "x", "interval": "daily", "hour": "7", "minute": 5.0})
	if r.status != 201 || obj(t, r)["printable_time"] != "07:05" {
		t.Errorf("numbers: %d %s", r.status, r.body)
	}
}

func TestBigBodyRefused(t *testing.T) {
	v := newEnv(t, Config{})
	big := make([]byte, maxFormBody+10)
	want(t, v.do("POST", v.api("consoles/"), "application/json", big), 400, map[string]string{"detail": "Request body too large."})
}

func TestDemoData(t *testing.T) {
	v := newEnv(t, Config{Demo: true})
	for _, p := range []string{"/home/demo/mysite/flask_app.py", "/home/demo/mysite/templates/index.html",
		"/home/demo/mysite/static/style.css", "/home/demo/README.txt", "/home/demo/.bashrc",
		"/var/www/demo_pythonanywhere_com_wsgi.py", "/var/log/demo.pythonanywhere.com.access.log",
		"/var/log/demo.pythonanywhere.com.error.log", "/var/log/demo.pythonanywhere.com.server.log", "/tmp"} {
		if !v.e.Exists(p) {
			t.Errorf("%s missing", p)
		}
	}
	if b, _ := v.e.ReadFile("/var/log/demo.pythonanywhere.com.access.log"); strings.Count(string(b), "\n") < 3 {
		t.Error("access log has no lines")
	}
	s := v.e.Snapshot()
	if len(s.Webapps) != 2 || s.Webapps[0].SourceDirectory != "/home/demo/mysite" || s.Webapps[1].Enabled {
		t.Errorf("webapps %+v", s.Webapps)
	}
	if len(s.ScheduledTasks) != 2 || s.ScheduledTasks[0].Interval != "daily" || s.ScheduledTasks[1].Interval != "hourly" {
		t.Errorf("tasks %+v", s.ScheduledTasks)
	}
	if len(s.AlwaysOnTasks) != 1 || len(s.Consoles) != 1 || s.Consoles[0].Started || len(s.Students) != 2 {
		t.Errorf("snapshot %+v", s)
	}
	a := v.e.Account()
	if a.DefaultPython3Version != "3.10" || a.SystemImage != "innit" || len(a.AvailablePython3Versions) != 6 {
		t.Errorf("account %+v", a)
	}
	info, ok := v.e.SSL("demo.pythonanywhere.com")
	if !ok || info.SubjectName != "*.pythonanywhere.com" {
		t.Errorf("ssl %+v", info)
	}
	// Without demo data: empty account, but the standard directories exist.
	e := New(Config{Token: "t"})
	if len(e.Webapps()) != 0 || !e.IsDir("/home/demo") || !e.IsDir("/var/log") || len(e.Files("/")) != 0 {
		t.Error("empty account")
	}
	v.e.Reset(false)
	if len(v.e.Webapps()) != 0 {
		t.Error("Reset")
	}
}

func TestNewDefaults(t *testing.T) {
	e := New(Config{})
	if e.Username() != "demo" || len(e.Token()) != 40 {
		t.Errorf("user %q token %q", e.Username(), e.Token())
	}
	if l, w := e.RateLimit(); l != 40 || w.Seconds() != 60 {
		t.Errorf("rate limit %d/%v", l, w)
	}
	// The client names families exactly like this.
	wantFamilies := "files/path files/tree files/sharing consoles consoles/shared_with_you consoles/{id} " +
		"consoles/{id}/get_latest_output consoles/{id}/send_input always_on always_on/{id} always_on/{id}/restart " +
		"schedule schedule/{id} webapps webapps/{domain} webapps/{domain}/reload webapps/{domain}/enable " +
		"webapps/{domain}/disable webapps/{domain}/ssl webapps/{domain}/static_files webapps/{domain}/static_files/{id} " +
		"webapps/{domain}/static_headers webapps/{domain}/static_headers/{id} cpu default_python3_version " +
		"default_python_version default_save_and_run_python_version system_image students students/{name} user_perms/schedule"
	if got := strings.Join(Families(), " "); got != wantFamilies {
		t.Errorf("families\n%s\nwant\n%s", got, wantFamilies)
	}
}
