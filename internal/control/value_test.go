package control

import (
	"encoding/json"
	"testing"
)

func TestControlParseBool(t *testing.T) {
	for in, want := range map[string]bool{
		"true": true, "TRUE": true, " yes\n": true, "1": true, "on": true,
		"false": false, "No": false, "0\n": false, "off": false,
	} {
		got, err := parseBool(in)
		if err != nil || got != want {
			t.Errorf("parseBool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "maybe", "2", "truefalse", "yes please"} {
		if _, err := parseBool(in); err == nil || !isInputError(err) {
			t.Errorf("parseBool(%q) accepted (err %v)", in, err)
		}
	}
}

func TestControlParseInt(t *testing.T) {
	if n, err := parseInt(" 05\n", 0, 23); err != nil || n != 5 {
		t.Errorf("parseInt 05 = %d, %v", n, err)
	}
	for _, in := range []string{"24", "-1", "", "5.5", "five", "0x10"} {
		if _, err := parseInt(in, 0, 23); err == nil {
			t.Errorf("parseInt(%q) accepted", in)
		}
	}
}

func TestControlParseVersion(t *testing.T) {
	for in, want := range map[string]string{"3.11": "3.11", " 3.9\n": "3.9", "python3.10": "3.10", "python310": "3.10"} {
		if got, err := parseVersion(in); err != nil || got != want {
			t.Errorf("parseVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "3", "three", "3.x", "3.11.1", "latest"} {
		if v, err := parseVersion(in); err == nil {
			t.Errorf("parseVersion(%q) accepted as %q", in, v)
		}
	}
	if err := checkChoice("2.1", []string{"3.10", "3.11"}, "Python version"); err == nil {
		t.Error("2.1 passed the choices 3.10, 3.11")
	}
	if err := checkChoice("3.11", []string{"3.10", "3.11"}, "Python version"); err != nil {
		t.Error(err)
	}
	if err := checkChoice("3.99", nil, "Python version"); err != nil {
		t.Errorf("no known choices must let the API decide: %v", err)
	}
}

func TestControlTextChecks(t *testing.T) {
	if err := oneLine("a\nb", "x"); err == nil {
		t.Error("two lines accepted")
	}
	if err := nonEmpty("  ", "command"); err == nil {
		t.Error("blank command accepted")
	}
	if err := absPath("relative/dir", "source_directory", false); err == nil {
		t.Error("relative path accepted")
	}
	if err := absPath("", "virtualenv_path", true); err != nil {
		t.Errorf("empty virtualenv refused: %v", err)
	}
	if err := absPath("", "source_directory", false); err == nil {
		t.Error("empty source directory accepted")
	}
	if trimValue([]byte("  3.11 \n")) != "3.11" || string(formatValue("x")) != "x\n" {
		t.Error("trim/format")
	}
}

func TestControlJSONStatus(t *testing.T) {
	for in, want := range map[string]jsonState{
		``:                      jsonIncomplete,
		"  \n":                  jsonIncomplete,
		`{"a": 1`:               jsonIncomplete,
		`{"a": `:                jsonIncomplete,
		`{`:                     jsonIncomplete,
		"{\"a\": \"x":           jsonIncomplete,
		`{"a": 1}`:              jsonComplete,
		"{\"a\": [1, 2]}\n":     jsonComplete,
		`{bad`:                  jsonInvalid,
		`{"a": 1} {"b": 2}`:     jsonInvalid,
		`{"a": 1} trailing`:     jsonInvalid,
		`{"a": 1,}`:             jsonInvalid,
		"{\"a\": tru\n":         jsonInvalid,
		`not json at all`:       jsonInvalid,
		"{\"command\": \"x\"\n": jsonIncomplete,
	} {
		if got := jsonStatus([]byte(in)); got != want {
			t.Errorf("jsonStatus(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestControlJSONText(t *testing.T) {
	for in, want := range map[string]string{`"x y"`: "x y", `true`: "true", `false`: "false",
		`5`: "5", `null`: "", `" padded "`: " padded "} {
		got, err := jsonText(json.RawMessage(in))
		if err != nil || got != want {
			t.Errorf("jsonText(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`[1]`, `{"a": 1}`} {
		if _, err := jsonText(json.RawMessage(in)); err == nil {
			t.Errorf("jsonText(%s) accepted", in)
		}
	}
	if _, err := parseObject([]byte(`[1, 2]`)); err == nil {
		t.Error("a JSON array passed for an object")
	}
	if _, err := parseObject([]byte(`null`)); err == nil {
		t.Error("null passed for an object")
	}
}

func TestControlScratchNames(t *testing.T) {
	for _, n := range []string{".config.json.swp", "config.json~", "4913", "#task.json#", ".#task.json", "sedAb12Cd", ".task.json.swx"} {
		if !isScratchName(n) {
			t.Errorf("%s is not kept local", n)
		}
	}
	for _, n := range []string{"config.json", "python_version", "new", "latest", "sed", "sedimentary", "x.json"} {
		if isScratchName(n) {
			t.Errorf("%s would be kept local", n)
		}
	}
}

func TestControlTaskLogLink(t *testing.T) {
	got := taskLogLink("/user/alice/files/var/log/tasklog-1-daily-at-0400-x.log", "alice")
	if got != "../../files/var/log/tasklog-1-daily-at-0400-x.log" {
		t.Errorf("log link %q", got)
	}
	if got := taskLogLink("", "alice"); got != "" {
		t.Errorf("no logfile gives %q", got)
	}
	if got := wsgiPath("www.Example.com"); got != "/var/www/www_example_com_wsgi.py" {
		t.Errorf("wsgi path %q", got)
	}
}
