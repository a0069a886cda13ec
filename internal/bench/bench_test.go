package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
)

// TestQuick runs the quick benchmark on a real mount (skipped without FUSE,
// except under CI=true) and checks what must hold whatever the timing: no
// 429s, no failures, the minimum where pafs is known to reach it, and
// well-formed output.
func TestQuick(t *testing.T) {
	mounttest.RequireFUSE(t)
	var log bytes.Buffer
	// The write-back delay is not scaled down with the window here (it
	// would be 33 ms): on a loaded CI machine cp -r or tar may pause longer
	// than that between a mkdir and the first file in it, and the
	// directory would then be made on the server on its own, which is
	// right but not the minimum the test asserts.
	res, err := Run(context.Background(), Config{Pafs: mounttest.Binary(t), Quick: true, Scale: 60,
		Latency: 20 * time.Millisecond, WriteBack: 500 * time.Millisecond, WorkDir: t.TempDir(), Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Logf("progress:\n%s", log.String())
	for _, p := range res.Phases {
		checkPhase(t, p)
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	checkOutput(t, res, table.String())
}

func checkPhase(t *testing.T, p Phase) {
	t.Helper()
	if p.Skipped != "" {
		t.Logf("%s skipped: %s", p.ID, p.Skipped)
		return
	}
	if p.Error != "" {
		t.Errorf("%s %s failed: %s", p.ID, p.Name, p.Error)
	}
	if p.Throttled != 0 {
		t.Errorf("%s %s: the server answered %d 429s to pafs", p.ID, p.Name, p.Throttled)
	}
	if p.Expected && !p.AtMinimum() {
		t.Errorf("%s %s: pafs made %s, want the minimum %s", p.ID, p.Name, keysText(p.Requests), keysText(p.Minimum))
	}
	if p.ServerSeconds <= 0 || p.ServerSeconds < p.CommandSeconds || p.FloorSeconds < p.APIFloorSeconds {
		t.Errorf("%s: times out of order: command %g, server %g, floor %g (API %g)",
			p.ID, p.CommandSeconds, p.ServerSeconds, p.FloorSeconds, p.APIFloorSeconds)
	}
	if n := p.Naive; n == nil || n.Error != "" || n.Throttled != 0 {
		t.Errorf("%s: naive run %+v", p.ID, n)
	} else if total(n.Requests) < p.MinimumTotal() {
		t.Errorf("%s: the naive client made %d requests, fewer than the minimum %d: the minimum is wrong",
			p.ID, total(n.Requests), p.MinimumTotal())
	}
}

// checkOutput checks that the table names every phase and that the JSON
// reads back with the same phases and the documented fields.
func checkOutput(t *testing.T, res *Results, table string) {
	t.Helper()
	for _, p := range res.Phases {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(p.ID) + ` +` + regexp.QuoteMeta(p.Name)).MatchString(table) {
			t.Errorf("table has no row for %s %s", p.ID, p.Name)
		}
	}
	path := filepath.Join(t.TempDir(), "results.json")
	if err := res.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Phases) != len(res.Phases) || back.Settings.ScaleText == "" || back.Machine.CPUs == 0 {
		t.Errorf("JSON round trip lost data: %d phases, settings %+v", len(back.Phases), back.Settings)
	}
	b, _ := os.ReadFile(path)
	var raw struct {
		Phases []map[string]any `json:"phases"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, p := range raw.Phases {
		for _, k := range []string{"id", "requests", "minimum", "throttled", "server_seconds", "floor_seconds"} {
			if _, ok := p[k]; !ok {
				t.Errorf("phase %v has no %q in the JSON", p["id"], k)
			}
		}
	}
}
