package control

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/pafs/pafs/remote"
)

// Each field's table entry owns its PATCH member: for every writable field
// with one, the PATCH body it makes carries exactly the key that is the
// field's name (a typo, or a field pointing at another's member, would
// drop or misplace the value), and the new files' templates name writable
// fields only.
func TestFieldPatchKeys(t *testing.T) {
	client, err := remote.New(remote.Config{BaseURL: "http://127.0.0.1:1", Username: "alice", Token: "x"})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{Client: client})
	hour := 4
	checkPatchKeys(t, "webapps", c.webapps.fields, remote.Webapp{PythonVersion: "3.11", ForceHTTPS: true})
	checkPatchKeys(t, "schedule", c.schedule.fields, remote.ScheduledTask{Command: "x", Interval: "daily", Hour: &hour})
	checkPatchKeys(t, "always_on", c.alwaysOn.fields, remote.AlwaysOnTask{Command: "x"})
	checkPatchKeys(t, "static_files", c.staticFiles("d").fields, remote.StaticFile{URL: "/s/", Path: "/p"})
	checkPatchKeys(t, "static_headers", c.staticHeaders("d").fields, remote.StaticHeader{URL: "/s/", Name: "n", Value: "v"})

	checkTemplate(t, "schedule", c.schedule.fields, c.schedule.template, c.schedule.required)
	checkTemplate(t, "always_on", c.alwaysOn.fields, c.alwaysOn.template, c.alwaysOn.required)
	checkTemplate(t, "static_files", c.staticFiles("d").fields, c.staticFiles("d").template, c.staticFiles("d").required)
	checkTemplate(t, "static_headers", c.staticHeaders("d").fields, c.staticHeaders("d").template, c.staticHeaders("d").required)
	checkTemplate(t, "consoles", consoleFields, consoleTemplate, nil)
}

func checkPatchKeys[T, P any](t *testing.T, kind string, fields []field[T, P], v T) {
	t.Helper()
	withPatch := 0
	for _, f := range fields {
		if f.patch == nil {
			continue
		}
		withPatch++
		if !f.writable() {
			t.Errorf("%s: read-only field %s has a PATCH member", kind, f.name)
		}
		var p P
		f.patch(&p, &v)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if keys := slices.Sorted(maps.Keys(m)); !slices.Equal(keys, []string{f.name}) {
			t.Errorf("%s: field %s puts %v in the PATCH body, want just %q", kind, f.name, keys, f.name)
		}
	}
	if withPatch == 0 {
		t.Errorf("%s: no field has a PATCH member", kind)
	}
}

func checkTemplate[T, P any](t *testing.T, kind string, fields []field[T, P], template map[string]any, required []string) {
	t.Helper()
	names := writable(fields)
	for k := range template {
		if !slices.Contains(names, k) {
			t.Errorf("%s/new's template has %q, not a writable field (%v)", kind, k, names)
		}
	}
	for _, r := range required {
		if !slices.Contains(names, r) {
			t.Errorf("%s: required member %q is not a writable field", kind, r)
		}
	}
}
