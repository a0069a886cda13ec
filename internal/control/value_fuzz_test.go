package control

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// FuzzControlValues: whatever is written to a control file, the value
// parsers never panic, refuse with a local input error (EINVAL) rather than
// anything else, and what they accept is canonical: formatting it and
// parsing again gives the same value, within the allowed range. A JSON
// buffer is judged complete exactly when it is valid JSON, and an object
// parseObject accepts is one.
func FuzzControlValues(f *testing.F) {
	for _, s := range []string{
		"true\n", " yes ", "0", "maybe", "", "\n", "\x00", "3.11", "python310", "python3.10", "3", "3.x", "03.011",
		"23", "-1", "+5", "5.5", "0x10", "99999999999999999999", " 7\n", "{}", `{"a": 1}`, `{"a": 1`, `[1, 2]`,
		`{"hour": null, "enabled": "yes", "x": {"y": [1]}}`, `"str"`, "{\"a\":\"\xff\"}", strings.Repeat("{", 1000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := trimValue(b)
		if got := trimValue(formatValue(s)); got != s {
			t.Fatalf("format/trim of %q gives %q", s, got)
		}
		if v, err := parseBool(s); err == nil {
			if again, err := parseBool(formatBool(v)); err != nil || again != v {
				t.Fatalf("parseBool(%q) = %v, but %q reads %v, %v", s, v, formatBool(v), again, err)
			}
		} else if !isInputError(err) {
			t.Fatalf("parseBool(%q): %v is not an input error", s, err)
		}
		if n, err := parseInt(s, 0, 59); err == nil {
			if n < 0 || n > 59 {
				t.Fatalf("parseInt(%q) = %d, out of range", s, n)
			}
			if again, err := parseInt(strconv.Itoa(n), 0, 59); err != nil || again != n {
				t.Fatalf("parseInt round trip of %d: %d, %v", n, again, err)
			}
		} else if !isInputError(err) {
			t.Fatalf("parseInt(%q): %v is not an input error", s, err)
		}
		if v, err := parseVersion(s); err == nil {
			if !reVersion.MatchString(v) {
				t.Fatalf("parseVersion(%q) = %q", s, v)
			}
			if again, err := parseVersion(v); err != nil || again != v {
				t.Fatalf("parseVersion is not idempotent on %q: %q, %v", v, again, err)
			}
		} else if !isInputError(err) {
			t.Fatalf("parseVersion(%q): %v is not an input error", s, err)
		}
		for _, check := range []error{oneLine(s, "x"), nonEmpty(s, "x"), absPath(s, "x", true)} {
			if check != nil && !isInputError(check) {
				t.Fatalf("check of %q: %v is not an input error", s, check)
			}
		}
		switch st := jsonStatus(b); {
		case st == jsonComplete && !json.Valid(b), st != jsonComplete && json.Valid(b):
			t.Fatalf("jsonStatus(%q) = %v, json.Valid %v", b, st, json.Valid(b))
		}
		if m, err := parseObject(b); err == nil {
			if jsonStatus(b) != jsonComplete {
				t.Fatalf("parseObject accepted %q, which is not complete JSON", b)
			}
			for k, raw := range m {
				if _, err := jsonText(raw); err != nil && !isInputError(err) {
					t.Fatalf("jsonText of %q: %v", k, err)
				}
			}
		} else if !isInputError(err) {
			t.Fatalf("parseObject(%q): %v is not an input error", b, err)
		}
	})
}
