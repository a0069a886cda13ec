package bench

import (
	"strings"
	"testing"
	"time"
)

func TestAPIFloor(t *testing.T) {
	const w, lat = 3 * time.Second, 100 * time.Millisecond
	for _, c := range []struct {
		name  string
		steps []step
		want  time.Duration
	}{
		{"none", nil, 0},
		{"ls -lR: root, then 30 subdirectories", []step{free("GET files/path", 1), then(0, "GET files/path", 30)}, 2 * lat},
		{"50 uploads: one window, then the rest", []step{free("POST files/path", 50)}, w + lat},
		{"40 uploads fit one window", []step{free("POST files/path", 40)}, lat},
		{"41st waits a window", []step{free("POST files/path", 41)}, w + lat},
		// 331 requests: the first window holds the root listing (t=0), 30
		// listings (t=0.1) and 9 downloads (t=0.2); each later window
		// repeats that pattern, so the last (331st) request is the 11th of
		// the 9th window: sent at 8w+0.1, done at 8w+0.2.
		{"grep: listings, then downloads", []step{free("GET files/path", 1), then(0, "GET files/path", 30),
			then(1, "GET files/path", 300)}, 8*w + 2*lat},
		{"saves one after another", []step{free("GET files/path", 1), {key: "POST files/path", n: 10, serial: true}}, 11 * lat},
		{"families have their own windows", []step{free("GET webapps", 40), free("GET files/path", 40)}, lat},
		{"a create, then its delete", []step{free("POST schedule", 1), then(0, "DELETE schedule/{id}", 1)}, 2 * lat},
	} {
		if got := apiFloor(c.steps, 40, w, lat); got != c.want {
			t.Errorf("%s: floor %s, want %s", c.name, got, c.want)
		}
	}
	if got := apiFloor([]step{free("POST files/path", 200)}, -1, w, lat); got != lat {
		t.Errorf("rate limit off: floor %s, want %s", got, lat)
	}
}

func TestFloorText(t *testing.T) {
	m := model{steps: []step{free("GET files/path", 1), then(0, "GET files/path", 30), then(1, "GET files/path", 300)}}
	if got, want := floorText(m, 40, 3*time.Second, 100*time.Millisecond, 24200*time.Millisecond),
		"8×3s windows + 2×100ms round trips"; got != want {
		t.Errorf("floorText = %q, want %q", got, want)
	}
}

func TestSelectPhases(t *testing.T) {
	all := []*phase{{id: "3a", workload: "3"}, {id: "3b", workload: "3", after: "3a"},
		{id: "4a", workload: "4"}, {id: "4b", workload: "4"}, {id: "6", workload: "6"}}
	for _, c := range []struct {
		only []string
		want string
	}{
		{nil, "3a 3b 4a 4b 6"},
		{[]string{"3b"}, "3a 3b"}, // 3b builds on 3a
		{[]string{"4", "6"}, "4a 4b 6"},
		{[]string{"4b"}, "4b"},
		{[]string{"9"}, ""},
	} {
		var got []string
		for _, p := range selectPhases(Config{Only: c.only}, all) {
			got = append(got, p.id)
		}
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("--only %v: %q, want %q", c.only, s, c.want)
		}
	}
}

func TestScaleText(t *testing.T) {
	c := Config{}.withDefaults()
	if got, want := c.ScaleText(), "40 requests per 3s per endpoint family (20× faster than the real 60s)"; got != want {
		t.Errorf("ScaleText = %q, want %q", got, want)
	}
	if c.WriteBack != 100*time.Millisecond {
		t.Errorf("write-back %s, want pafs's 2s scaled to 100ms", c.WriteBack)
	}
}
