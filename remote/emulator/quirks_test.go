package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// postWith sends an authenticated request with client, which may give up early.
func (v *env) postWith(client *http.Client, method, rawURL, ct, body string) (*http.Response, error) {
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	if err != nil {
		v.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "Token "+v.token)
	resp, err := client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// A slow reload, web app creation or certificate installation is carried out
// even when the client stops waiting, and Stats.Abandoned says so.
func TestSlowActionsFinishWithoutTheClient(t *testing.T) {
	const slow = 300 * time.Millisecond
	v := newEnv(t, Config{Demo: true, Quirks: Quirks{ReloadTime: slow, CreateTime: slow, SSLTime: slow}})
	impatient := &http.Client{Timeout: 50 * time.Millisecond}
	domain := "demo.pythonanywhere.com"

	if _, err := v.postWith(impatient, "POST", v.api("webapps/"+domain+"/reload/"), "", ""); err == nil {
		t.Fatal("the reload answered before its duration")
	}
	if w, _ := v.e.Webapp(domain); w.Reloads != 0 {
		t.Fatal("reload counted before it finished")
	}
	eventually(t, 5*time.Second, func() bool { w, _ := v.e.Webapp(domain); return w.Reloads == 1 })
	eventually(t, 5*time.Second, func() bool { return v.e.Stats().Abandoned["POST webapps/{domain}/reload"] == 1 })

	if _, err := v.postWith(impatient, "POST", v.api("webapps/"), "application/x-www-form-urlencoded",
		"domain_name=slow.example.com&python_version=python310"); err == nil {
		t.Fatal("the create answered before its duration")
	}
	eventually(t, 5*time.Second, func() bool { _, ok := v.e.Webapp("slow.example.com"); return ok })

	if _, err := v.postWith(impatient, "POST", v.api("webapps/slow.example.com/ssl/"), "application/json",
		`{"cert_type": "letsencrypt-auto-renew"}`); err == nil {
		t.Fatal("the certificate answered before its duration")
	}
	eventually(t, 5*time.Second, func() bool { info, ok := v.e.SSL("slow.example.com"); return ok && info.IssuerName == "R11" })

	// A patient client gets the answer after the duration.
	start := time.Now()
	resp, err := v.postWith(http.DefaultClient, "POST", v.api("webapps/"+domain+"/reload/"), "", "")
	if err != nil || resp.StatusCode != 200 || time.Since(start) < slow {
		t.Fatalf("patient reload: %v %v after %v", resp, err, time.Since(start))
	}
	// Refusals are not slow: a missing app or a bad body answers at once.
	start = time.Now()
	want(t, v.do("POST", v.api("webapps/nope.example.com/reload/"), "", nil), 404, nil)
	want(t, v.sendForm("POST", v.api("webapps/"), map[string][]string{"domain_name": {domain}, "python_version": {"python310"}}), 400, nil)
	if time.Since(start) >= slow {
		t.Errorf("refusals took %v", time.Since(start))
	}
}

// "hour" for an hourly task, null included, is refused by default; the
// official clients never send it. AcceptNullHourOnHourly takes a null.
func TestHourOnHourly(t *testing.T) {
	hour := 4
	for _, strict := range []bool{false, true} {
		v := newEnv(t, Config{Quirks: Quirks{AcceptNullHourOnHourly: !strict}})
		id := v.e.AddScheduledTask(ScheduledTask{Command: "c", Interval: "daily", Hour: &hour, Minute: 1, Enabled: true})
		u := v.api(fmt.Sprintf("schedule/%d/", id))
		r := v.sendJSON("PATCH", u, map[string]any{"interval": "hourly", "hour": nil})
		if !strict {
			want(t, r, 200, nil) // the lenient server
			continue
		}
		want(t, r, 400, map[string][]string{"non_field_errors": {"Hourly tasks must not have an hour."}})
		if ts := v.e.ScheduledTasks(); ts[0].Interval != "daily" {
			t.Error("a refused PATCH was applied")
		}
		want(t, v.sendForm("PATCH", u, map[string][]string{"interval": {"hourly"}, "hour": {""}}), 400, nil)
		want(t, v.sendJSON("POST", v.api("schedule/"), map[string]any{"command": "x", "interval": "hourly", "minute": 0, "hour": nil}), 400,
			map[string][]string{"non_field_errors": {"Hourly tasks must not have an hour."}})
		// What the official clients send: interval only.
		r = v.sendJSON("PATCH", u, map[string]any{"interval": "hourly"})
		if m := obj(t, r); r.status != 200 || m["hour"] != nil || m["interval"] != "hourly" {
			t.Errorf("interval only: %d %s", r.status, r.body)
		}
	}
}

// OmitFields leaves fields out of every answer carrying such an object.
func TestOmitFields(t *testing.T) {
	v := newEnv(t, Config{Demo: true, Quirks: Quirks{OmitFields: []string{"webapp.enabled", "schedule.description", "console.name"}}})
	u := v.api("webapps/demo.pythonanywhere.com/")
	for _, r := range []res{v.get(u), v.sendJSON("PATCH", u, map[string]any{"force_https": true})} {
		m := obj(t, r)
		if _, ok := m["enabled"]; ok || m["domain_name"] != "demo.pythonanywhere.com" {
			t.Errorf("webapp object %s", r.body)
		}
		if id, ok := m["id"].(float64); !ok || id != 4001 {
			t.Errorf("id %v", m["id"])
		}
	}
	for _, w := range list(t, v.get(v.api("webapps/"))) {
		if _, ok := w.(map[string]any)["enabled"]; ok {
			t.Error("webapp list carries enabled")
		}
	}
	want(t, v.do("POST", u+"disable/", "", nil), 200, nil)
	if w, _ := v.e.Webapp("demo.pythonanywhere.com"); w.Enabled {
		t.Error("disable did not happen")
	}
	for _, task := range list(t, v.get(v.api("schedule/"))) {
		if _, ok := task.(map[string]any)["description"]; ok {
			t.Error("task carries description")
		}
	}
	if c := obj(t, v.sendJSON("POST", v.api("consoles/"), map[string]any{"executable": "bash"})); c["name"] != nil || c["id"] == nil {
		t.Errorf("console %v", c)
	}
	if _, ok := list(t, v.get(v.api("always_on/")))[0].(map[string]any)["description"]; !ok {
		t.Error("an unnamed kind lost a field")
	}
}

// WriteAnswer makes POST/PUT/PATCH answer {"status": "OK"} or an empty 200 in
// place of the object; the change is still applied.
func TestWriteAnswer(t *testing.T) {
	v := newEnv(t, Config{Demo: true, Quirks: Quirks{WriteAnswer: AnswerStatusOK}})
	task := v.api(fmt.Sprintf("schedule/%d/", v.e.ScheduledTasks()[0].ID))
	want(t, v.sendJSON("PATCH", task, map[string]any{"minute": 42}), 200, map[string]string{"status": "OK"})
	if v.e.ScheduledTasks()[0].Minute != 42 {
		t.Error("the PATCH was not applied")
	}
	want(t, v.sendJSON("POST", v.api("always_on/"), map[string]any{"command": "c"}), 201, map[string]string{"status": "OK"})
	if len(v.e.AlwaysOnTasks()) != 2 {
		t.Error("the POST was not applied")
	}
	// Errors, reads and files/* keep their answers.
	want(t, v.sendJSON("PATCH", task, map[string]any{"minute": 99}), 400, nil)
	if m := obj(t, v.get(task)); m["minute"] != float64(42) {
		t.Errorf("GET %v", m)
	}
	if r := v.sendJSON("POST", v.api("files/sharing/"), map[string]string{"path": "/home/demo/README.txt"}); obj(t, r)["url"] == nil {
		t.Errorf("sharing %s", r.body)
	}

	v.e.SetQuirks(Quirks{WriteAnswer: AnswerEmpty, WriteAnswerFamilies: []string{"webapps/{domain}"}})
	r := v.sendJSON("PATCH", v.api("webapps/demo.pythonanywhere.com/"), map[string]any{"python_version": "3.12"})
	if r.status != 200 || len(r.body) != 0 || strings.Contains(r.header.Get("Content-Type"), "json") {
		t.Errorf("empty answer: %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	if w, _ := v.e.Webapp("demo.pythonanywhere.com"); w.PythonVersion != "3.12" {
		t.Error("the PATCH was not applied")
	}
	if m := obj(t, v.sendJSON("PATCH", task, map[string]any{"minute": 1})); m["minute"] != float64(1) {
		t.Errorf("a family not listed lost its object: %v", m)
	}
}

// RateScope counts coarser than per family, with the usual 429 and Retry-After.
func TestRateScopeCoarser(t *testing.T) {
	v := newEnv(t, Config{RateLimit: 2, RateWindow: 30 * time.Second, Quirks: Quirks{RateScope: ScopeKind}})
	want(t, v.get(v.filesURL("/home/demo")), 200, nil)
	want(t, v.get(v.api("files/tree/?path=/home/demo")), 200, nil)
	r := v.get(v.api("files/sharing/?path=/home/demo/x"))
	want(t, r, 429, nil)
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 || secs > 30 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	want(t, v.get(v.api("cpu/")), 200, nil) // another kind

	v.e.SetQuirks(Quirks{RateScope: ScopeAPI}) // empties the windows
	want(t, v.get(v.api("cpu/")), 200, nil)
	want(t, v.get(v.api("webapps/")), 200, nil)
	want(t, v.get(v.filesURL("/home/demo")), 429, nil)
	if s := v.e.Stats(); s.Throttled["files/sharing"] != 1 || s.Throttled["files/path"] != 1 {
		t.Errorf("throttled %v", s.Throttled)
	}
}

// Over MaxUpload, the front proxy answers nginx's 413 page without reading the
// body, authenticating or using rate-limit budget; a chunked body is cut off too.
func TestMaxUpload(t *testing.T) {
	v := newEnv(t, Config{RateLimit: 1, RateWindow: 30 * time.Second, Quirks: Quirks{MaxUpload: 1000}})
	r := v.upload("/home/demo/big", bytes.Repeat([]byte("x"), 2000))
	want(t, r, 413, nil)
	if !strings.Contains(string(r.body), "<title>413 Request Entity Too Large</title>") || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("413 body %q (%s)", r.body, r.header.Get("Content-Type"))
	}
	v.token = "wrong"
	want(t, v.upload("/home/demo/big", bytes.Repeat([]byte("x"), 2000)), 413, nil)
	v.token = testToken
	if v.e.Exists("/home/demo/big") {
		t.Error("a refused upload was stored")
	}

	// Without Content-Length (chunked).
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("content", "f")
	_, _ = fw.Write(bytes.Repeat([]byte("y"), 2000))
	_ = mw.Close()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", v.filesURL("/home/demo/chunked"), io.MultiReader(&buf))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Token "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 || v.e.Exists("/home/demo/chunked") {
		t.Errorf("chunked: %d", resp.StatusCode)
	}
	// The chunked request reached the view and used the one request of the window.
	want(t, v.upload("/home/demo/small", []byte("x")), 429, nil)
	v.e.SetRateLimit(-1, 0)
	want(t, v.upload("/home/demo/small", []byte("x")), 201, nil)
}

func TestQuirksHook(t *testing.T) {
	v := newEnv(t, Config{})
	put := func(method, body string) res {
		return v.do(method, v.srv.URL+"/__emulator/quirks", "application/json", []byte(body))
	}
	r := put("PUT", `{"reload_time": "20ms", "omit_fields": ["webapp.enabled"], "rate_scope": "api", "max_upload": 10}`)
	want(t, r, 200, nil)
	q := v.e.Quirks()
	if q.ReloadTime != 20*time.Millisecond || q.OmitFields[0] != "webapp.enabled" || q.RateScope != ScopeAPI || q.MaxUpload != 10 {
		t.Errorf("quirks %+v", q)
	}
	want(t, put("PATCH", `{"write_answer": "empty"}`), 200, nil)
	if q := v.e.Quirks(); q.WriteAnswer != AnswerEmpty || q.MaxUpload != 10 {
		t.Errorf("after PATCH %+v", q)
	}
	want(t, put("PATCH", `{"rate_scope": "planet"}`), 400, nil)
	var got map[string]any
	if err := json.Unmarshal(v.get(v.srv.URL+"/__emulator/quirks").body, &got); err != nil || got["reload_time"] != "20ms" {
		t.Errorf("GET %v %v", got, err)
	}
}
