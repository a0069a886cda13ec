package emulator

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"
)

func TestRateLimitWindow(t *testing.T) {
	// A long window, so that a slow machine cannot let the window slide mid-test.
	v := newEnv(t, Config{RateLimit: 5, RateWindow: 30 * time.Second})
	for range 5 {
		want(t, v.get(v.api("cpu/")), 200, nil)
	}
	r := v.get(v.api("cpu/"))
	want(t, r, 429, nil)
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 30 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	want(t, r, 429, map[string]string{"detail": fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs)})
	// Other families have their own budget; all methods of a family share one.
	want(t, v.get(v.api("system_image/")), 200, nil)
	want(t, v.do("DELETE", v.api("cpu/"), "", nil), 429, nil)
	for range 5 {
		want(t, v.get(v.filesURL("/home/demo")), 200, nil)
	}
	want(t, v.upload("/home/demo/x", []byte("x")), 429, nil) // any path, any method: files/path
	s := v.e.Stats()
	if s.Total429 != 3 || s.Throttled["cpu"] != 2 || s.Throttled["files/path"] != 1 || s.Requests["GET cpu"] != 6 {
		t.Errorf("stats %+v", s)
	}
}

func TestRateLimitSlides(t *testing.T) {
	window := 300 * time.Millisecond
	v := newEnv(t, Config{RateLimit: 2, RateWindow: window})
	start := time.Now()
	want(t, v.get(v.api("cpu/")), 200, nil)
	want(t, v.get(v.api("cpu/")), 200, nil)
	r := v.get(v.api("cpu/"))
	if time.Since(start) < window {
		want(t, r, 429, map[string]string{"detail": "Request was throttled. Expected available in 1 second."})
		if r.header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After %q (rounded up, at least 1)", r.header.Get("Retry-After"))
		}
	}
	// Throttled requests do not count, so polling ends as soon as the window slides.
	eventually(t, 5*time.Second, func() bool { return v.get(v.api("cpu/")).status == 200 })
	if time.Since(start) < window {
		t.Error("the window let a request through early")
	}
}

func TestRateLimitSendInputTriple(t *testing.T) {
	v := newEnv(t, Config{RateLimit: 2, RateWindow: 30 * time.Second})
	id := v.e.AddConsole("bash", "")
	v.e.StartConsole(id)
	u := v.api(fmt.Sprintf("consoles/%d/send_input/", id))
	for range 6 {
		want(t, v.sendJSON("POST", u, map[string]string{"input": "x"}), 200, nil)
	}
	want(t, v.sendJSON("POST", u, map[string]string{"input": "x"}), 429, nil)
	if v.e.ConsoleInput(id) != "xxxxxx" {
		t.Errorf("a throttled input was applied: %q", v.e.ConsoleInput(id))
	}
	// The console's other endpoints keep the normal budget.
	out := v.api(fmt.Sprintf("consoles/%d/get_latest_output/", id))
	want(t, v.get(out), 200, nil)
	want(t, v.get(out), 200, nil)
	want(t, v.get(out), 429, nil)
}

func TestRateLimitRuntimeChanges(t *testing.T) {
	v := newEnv(t, Config{RateLimit: 1, RateWindow: time.Minute})
	want(t, v.get(v.api("cpu/")), 200, nil)
	want(t, v.get(v.api("cpu/")), 429, nil)
	v.e.SetRateLimit(-1, 0)
	for range 50 {
		want(t, v.get(v.api("cpu/")), 200, nil)
	}
	// Over HTTP.
	v.token = ""
	r := v.sendJSON("PUT", v.srv.URL+"/__emulator/ratelimit", map[string]any{"limit": 1, "window": "1m"})
	want(t, r, 200, map[string]any{"limit": 1, "window": "1m0s"})
	v.token = testToken
	want(t, v.get(v.api("cpu/")), 200, nil)
	want(t, v.get(v.api("cpu/")), 429, nil)
}

func TestStatsOverHTTP(t *testing.T) {
	v := newEnv(t, Config{RateLimit: 1, RateWindow: time.Minute})
	v.get(v.filesURL("/home/demo"))
	v.get(v.filesURL("/home/demo/missing"))
	v.get(v.api("cpu/"))
	v.get(v.api("cpu/"))
	v.token = ""
	r := v.get(v.srv.URL + "/__emulator/stats")
	want(t, r, 200, nil)
	var s Stats
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatal(err)
	}
	if s.Requests["GET files/path"] != 2 || s.Requests["GET cpu"] != 2 || s.Total != 4 || s.Total429 != 2 || s.Throttled["cpu"] != 1 || s.Throttled["files/path"] != 1 {
		t.Errorf("stats %s", r.body)
	}
	want(t, v.do("POST", v.srv.URL+"/__emulator/stats/reset", "", nil), 204, nil)
	if s := v.e.Stats(); s.Total != 0 || len(s.Requests) != 0 {
		t.Errorf("after reset %+v", s)
	}
	if v.e.Stats().Total != 0 {
		t.Error("hook requests are counted")
	}
}
