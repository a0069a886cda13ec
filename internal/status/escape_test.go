package status

import "testing"

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain name.txt":      "plain name.txt",
		"café – 東京.txt":       "café – 東京.txt",
		"a\x1b[31mb":          `"a\x1b[31mb"`,
		"cr\rhide":            `"cr\rhide"`,
		"bidi\u202etxt.exe":   `"bidi\u202etxt.exe"`,
		"bad\xffutf8":         `"bad\xffutf8"`,
		"c1\u009bcontrol":     `"c1\u009bcontrol"`,
		`quote " backslash \`: `quote " backslash \`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %s, want %s", in, got, want)
		}
	}
}
