package cli

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// helpFlag is a flag as `pafs COMMAND --help` shows it.
type helpFlag struct {
	name, short, def string
	isBool           bool
}

var (
	helpLine   = regexp.MustCompile(`^\s+(?:-(\w), )?--([a-z0-9-]+)(\[=true\|false\])?(?: \w+)?\s{2,}(.*)$`)
	helpDefRE  = regexp.MustCompile(`\(default:? "?([^"()]*(?:\([^)]*\))?[^"()]*)"?\)\s*$`)
	docFlagRow = regexp.MustCompile("^\\| (?:`-(\\w)`, )?`--([a-z0-9-]+)[^`]*` \\|\\s*([^|]*?)\\s*\\|")
)

// parseHelp reads the flags of a command's --help output.
func parseHelp(t *testing.T, cmd string) []helpFlag {
	t.Helper()
	var out bytes.Buffer
	if code := Main([]string{cmd, "--help"}, &out, &out); code != 0 {
		t.Fatalf("pafs %s --help: exit %d\n%s", cmd, code, out.String())
	}
	var flags []helpFlag
	for _, line := range strings.Split(out.String(), "\n") {
		m := helpLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := helpFlag{short: m[1], name: m[2], isBool: m[3] != ""}
		if d := helpDefRE.FindStringSubmatch(m[4]); d != nil {
			f.def = d[1]
		}
		flags = append(flags, f)
	}
	if len(flags) == 0 {
		t.Fatalf("pafs %s --help shows no flags:\n%s", cmd, out.String())
	}
	return flags
}

// docSections splits configuration.md by its "## pafs COMMAND" headings.
func docSections(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, sec := range strings.Split(string(b), "\n## ")[1:] {
		head, _, _ := strings.Cut(sec, "\n")
		if f := strings.Fields(head); len(f) >= 2 && f[0] == "pafs" {
			out[f[1]] += sec
		}
	}
	return out
}

// sameDefault reports whether the Default cell of the docs says what --help
// says: the same text, or the same duration (1m and 1m0s).
func sameDefault(help, cell string) bool {
	cell = strings.ReplaceAll(cell, "`", "")
	if strings.Contains(cell, help) {
		return true
	}
	first := strings.FieldsFunc(cell, func(r rune) bool { return r == ' ' || r == ',' })
	if len(first) == 0 {
		return false
	}
	h, err1 := time.ParseDuration(help)
	d, err2 := time.ParseDuration(first[0])
	return err1 == nil && err2 == nil && h == d
}

// docs/configuration.md lists every flag that --help shows, under its
// command, with the same default; and lists no flag that does not exist
// (issue 14).
func TestConfigurationDocMatchesHelp(t *testing.T) {
	sections := docSections(t)
	for _, cmd := range []string{"mount", "status", "unmount", "emulator", "bench"} {
		sec, ok := sections[cmd]
		if !ok {
			t.Errorf("configuration.md has no section ## pafs %s", cmd)
			continue
		}
		rows := map[string][]string{} // flag name → short, default cell
		for _, line := range strings.Split(sec, "\n") {
			if m := docFlagRow.FindStringSubmatch(line); m != nil {
				rows[m[2]] = []string{m[1], strings.TrimSpace(m[3])}
			}
		}
		known := map[string]bool{}
		for _, f := range parseHelp(t, cmd) {
			known[f.name] = true
			row, ok := rows[f.name]
			switch {
			case !ok:
				t.Errorf("pafs %s --%s: not in configuration.md's table for pafs %s", cmd, f.name, cmd)
			case row[0] != f.short:
				t.Errorf("pafs %s --%s: short form -%s in --help, -%s in the docs", cmd, f.name, f.short, row[0])
			case f.isBool && row[1] != "off" && row[1] != "":
				t.Errorf("pafs %s --%s: a switch, off unless given; the docs' default is %q", cmd, f.name, row[1])
			case f.def != "" && !sameDefault(f.def, row[1]):
				t.Errorf("pafs %s --%s: default %q in --help, %q in the docs", cmd, f.name, f.def, row[1])
			}
		}
		for name := range rows {
			if !known[name] {
				t.Errorf("configuration.md lists --%s under pafs %s, which has no such flag", name, cmd)
			}
		}
	}
}

// pafs -v prints the version; pafs -v COMMAND and pafs --verbose COMMAND
// are COMMAND --verbose; pafs help COMMAND is COMMAND --help (issue 14).
func TestVerboseAndVersionFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main([]string{"-v"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "pafs ") {
		t.Errorf("pafs -v: exit %d, %q %q", code, out.String(), errOut.String())
	}
	for _, flag := range []string{"-v", "--verbose"} {
		c, err := parseMountArgs([]string{"--verbose", "m"}, &errOut)
		if err != nil || !c.verbose {
			t.Fatalf("parseMountArgs: %v", err)
		}
		// Through Main: a usage error after the flag shows it was taken
		// for mount's (no MOUNTPOINT given).
		out.Reset()
		errOut.Reset()
		code := Main([]string{flag, "mount"}, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), "MOUNTPOINT") {
			t.Errorf("pafs %s mount: exit %d, %q", flag, code, errOut.String())
		}
		errOut.Reset()
		if code := Main([]string{flag, "status", "x"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "only pafs mount") {
			t.Errorf("pafs %s status: exit %d, %q", flag, code, errOut.String())
		}
	}
	out.Reset()
	if code := Main([]string{"help", "unmount"}, &out, &out); code != 0 || !strings.Contains(out.String(), "--force") {
		t.Errorf("pafs help unmount: exit %d\n%s", code, out.String())
	}
}
