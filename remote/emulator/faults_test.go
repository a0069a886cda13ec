package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestErrorRateOne(t *testing.T) {
	v := newEnv(t, Config{Faults: Faults{Seed: 7, ErrorRate: 1}})
	seen := map[int]int{}
	for range 40 {
		r := v.get(v.api("cpu/"))
		if json.Valid(r.body) {
			t.Errorf("%d with a JSON body: the injected errors are HTML pages", r.status)
		}
		seen[r.status]++
	}
	if len(seen) != 2 || seen[500] == 0 || seen[503] == 0 {
		t.Errorf("statuses %v, want only 500 and 503", seen)
	}
	s := v.e.Stats()
	if s.Faults != 40 || s.FaultKinds["500"]+s.FaultKinds["503"] != 40 || s.Requests["GET cpu"] != 40 || s.FaultFamilies["cpu"] != 40 {
		t.Errorf("stats %+v", s)
	}
}

func TestErrorsDoNotApply(t *testing.T) {
	v := newEnv(t, Config{Faults: Faults{ErrorRate: 1}})
	r := v.upload("/home/demo/x", []byte("x"))
	if r.status < 500 {
		t.Fatalf("status %d", r.status)
	}
	r = v.sendJSON("POST", v.api("consoles/"), map[string]string{"executable": "bash"})
	if r.status < 500 {
		t.Fatalf("status %d", r.status)
	}
	if v.e.Exists("/home/demo/x") || len(v.e.Consoles()) != 0 {
		t.Error("a request answered 500/503 was applied")
	}
}

func TestFaultsAreReproducible(t *testing.T) {
	run := func() []int {
		v := newEnv(t, Config{Faults: Faults{Seed: 42, ErrorRate: 0.5}})
		var out []int
		for range 30 {
			out = append(out, v.get(v.api("cpu/")).status)
		}
		return out
	}
	a, b := run(), run()
	if !equalInts(a, b) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	n := 0
	for _, s := range a {
		if s != 200 {
			n++
		}
	}
	if n == 0 || n == 30 {
		t.Errorf("error rate 0.5 gave %d/30 errors", n)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDropRateOne(t *testing.T) {
	v := newEnv(t, Config{Faults: Faults{DropRate: 1}})
	req, _ := http.NewRequest("POST", v.api("consoles/"), strings.NewReader(`{"executable": "bash"}`))
	req.Header.Set("Authorization", "Token "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got a response (%d), want a transport error", resp.StatusCode)
	}
	if len(v.e.Consoles()) != 0 {
		t.Error("a dropped request was applied")
	}
	if s := v.e.Stats(); s.FaultKinds["drop"] == 0 || s.Requests["POST consoles"] == 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestMalformedRateOne(t *testing.T) {
	v := newEnv(t, Config{Demo: true, Faults: Faults{MalformedRate: 1}})
	r := v.get(v.api("webapps/"))
	if r.status != 200 || json.Valid(r.body) || len(r.body) == 0 {
		t.Errorf("%d %q: want 200 with broken JSON", r.status, r.body)
	}
	if r.header.Get("Content-Length") != "" && r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
		t.Error("Content-Length does not match the truncated body")
	}
	// File bytes are not JSON answers and stay intact.
	if r := v.get(v.filesURL("/home/demo/README.txt")); !strings.HasPrefix(string(r.body), "Welcome") {
		t.Errorf("file body %q", r.body)
	}
	if v.e.Stats().FaultKinds["malformed"] == 0 {
		t.Error("not counted")
	}
}

func TestSlowBody(t *testing.T) {
	v := newEnv(t, Config{Faults: Faults{SlowBodyRate: 1, SlowBodyDelay: 20 * time.Millisecond}})
	data := bytes.Repeat([]byte("z"), 4096)
	v.e.WriteFile("/home/demo/z", data)
	start := time.Now()
	r := v.get(v.filesURL("/home/demo/z"))
	if el := time.Since(start); el < 7*20*time.Millisecond {
		t.Errorf("body came in %v", el)
	}
	if !bytes.Equal(r.body, data) {
		t.Error("slow body corrupted")
	}
}

func TestLatencyAndSpikes(t *testing.T) {
	v := newEnv(t, Config{Latency: 60 * time.Millisecond})
	start := time.Now()
	want(t, v.get(v.api("cpu/")), 200, nil)
	if time.Since(start) < 60*time.Millisecond {
		t.Error("latency not applied")
	}
	v.e.SetLatency(0)
	v.e.SetFaults(Faults{SpikeRate: 1, Spike: 80 * time.Millisecond})
	start = time.Now()
	want(t, v.get(v.api("cpu/")), 200, nil)
	if time.Since(start) < 80*time.Millisecond {
		t.Error("spike not applied")
	}
	if s := v.e.Stats(); s.FaultKinds["spike"] != 1 || s.Faults != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestThrottleStorm(t *testing.T) {
	v := newEnv(t, Config{})
	v.token = ""
	want(t, v.sendJSON("PATCH", v.srv.URL+"/__emulator/faults", map[string]any{"throttle_storm": true}), 200, nil)
	v.token = testToken
	r := v.get(v.api("cpu/"))
	want(t, r, 429, map[string]string{"detail": "Request was throttled. Expected available in 1 second."})
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	v.e.SetFaults(Faults{})
	want(t, v.get(v.api("cpu/")), 200, nil)
	if s := v.e.Stats(); s.Total429 != 1 || s.FaultKinds["storm"] != 1 || s.Faults != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestFaultsHook(t *testing.T) {
	v := newEnv(t, Config{})
	v.token = ""
	u := v.srv.URL + "/__emulator/faults"
	r := v.sendJSON("PUT", u, map[string]any{"seed": 3, "error_rate": 0.25, "spike": "1.5s", "slow_body_delay": 0.01})
	want(t, r, 200, nil)
	f := v.e.CurrentFaults()
	if f.Seed != 3 || f.ErrorRate != 0.25 || f.Spike != 1500*time.Millisecond || f.SlowBodyDelay != 10*time.Millisecond {
		t.Errorf("faults %+v", f)
	}
	want(t, v.sendJSON("PUT", u, map[string]any{"error_rate": 2}), 400, nil)
	want(t, v.do("PUT", u, "application/json", []byte("{")), 400, nil)
	want(t, v.sendJSON("PUT", v.srv.URL+"/__emulator/latency", map[string]any{"latency": "5ms"}), 200, map[string]string{"latency": "5ms"})
	r = v.get(v.srv.URL + "/__emulator/")
	if !strings.Contains(string(r.body), "/__emulator/faults") {
		t.Errorf("index %q", r.body)
	}
	r = v.get(v.srv.URL + "/__emulator/state")
	var s Snapshot
	if err := json.Unmarshal(r.body, &s); err != nil || s.Account.SystemImage != "innit" {
		t.Errorf("state: %v %s", err, r.body)
	}
}
