package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/pafs/pafs/remote"
)

// One-value files (layout.md, "Values and errors"): a value reads as the
// value and a newline; a write may surround it with white space. Everything
// here is pure, so the rules are unit-tested without a mount.

const (
	// maxWrite bounds what a control file accepts: nothing the API takes is
	// anywhere near it, so a bigger write is a mistake (cat of the wrong file).
	maxWrite = 64 << 10
	// stdioBuf is the block size control files report, so stdio writes whole
	// blocks of it: a shorter write is the last one of its content.
	stdioBuf = 4096
)

// inputError is a value refused by a local check: EINVAL, with a message for
// the log and the status file.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

// Errno is what a caller sees of it (fs maps errors with such a method
// through errors.As).
func (e *inputError) Errno() syscall.Errno { return syscall.EINVAL }

func invalidf(format string, a ...any) error { return &inputError{fmt.Sprintf(format, a...)} }

// isInputError reports whether err is a local refusal.
func isInputError(err error) bool {
	var ie *inputError
	return errors.As(err, &ie)
}

// trimValue is what a one-value file was given: the bytes without the
// surrounding white space.
func trimValue(b []byte) string { return strings.TrimSpace(string(b)) }

// formatValue renders a value as a file: the value and a newline.
func formatValue(s string) []byte { return []byte(s + "\n") }

// parseBool reads true/false and the usual synonyms.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on", "y", "t":
		return true, nil
	case "false", "0", "no", "off", "n", "f":
		return false, nil
	}
	return false, invalidf("%q is not a boolean (true or false, 1 or 0, yes or no, on or off)", s)
}

func formatBool(b bool) string { return strconv.FormatBool(b) }

// parseInt reads a whole number between lo and hi.
func parseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < lo || n > hi {
		return 0, invalidf("%q is not a whole number from %d to %d", s, lo, hi)
	}
	return n, nil
}

var reVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

// parseVersion reads a Python version in any form the API uses ("3.11",
// "python3.11", "python311") and returns the "3.11" form.
func parseVersion(s string) (string, error) {
	v := remote.NormalizePythonVersion(s)
	if !reVersion.MatchString(v) {
		return "", invalidf("%q is not a Python version like 3.11", s)
	}
	return v, nil
}

// checkChoice refuses a value that is not among the known choices. No
// choices known (the list could not be fetched) lets the API decide.
func checkChoice(v string, choices []string, what string) error {
	if len(choices) == 0 || slices.Contains(choices, v) {
		return nil
	}
	return invalidf("%s %q is not available; choose one of %s", what, v, strings.Join(choices, ", "))
}

// oneLine refuses values that span lines: every text field of the API is
// one line, and a second line is almost always two values written by mistake.
func oneLine(s, what string) error {
	if strings.ContainsAny(s, "\r\n") {
		return invalidf("%s must be one line", what)
	}
	return nil
}

// nonEmpty refuses a blank value for a field the API requires.
func nonEmpty(s, what string) error {
	if strings.TrimSpace(s) == "" {
		return invalidf("%s must not be empty", what)
	}
	return oneLine(s, what)
}

// absPath accepts an absolute path (or "" when empty is allowed).
func absPath(s, what string, emptyOK bool) error {
	if s == "" && emptyOK {
		return nil
	}
	if err := oneLine(s, what); err != nil {
		return err
	}
	if !strings.HasPrefix(s, "/") {
		return invalidf("%s must be an absolute path, not %q", what, s)
	}
	return nil
}

// jsonText turns a JSON member's value into the text its one-value file
// would hold, so that a JSON file and the one-value files share one set of
// checks: strings as they are, booleans and numbers as written, null as "".
func jsonText(raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", invalidf("bad JSON value %s", raw)
	}
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return formatBool(x), nil
	case float64:
		return strings.TrimSpace(string(raw)), nil
	}
	return "", invalidf("%s is not a string, number, boolean or null", raw)
}

// jsonState says how far a buffer is from a JSON value.
type jsonState int

const (
	jsonIncomplete jsonState = iota // empty, or cut short: more may come
	jsonComplete                    // exactly one valid value
	jsonInvalid                     // a syntax error no more bytes can fix
)

// jsonStatus classifies buf.
func jsonStatus(buf []byte) jsonState {
	if strings.TrimSpace(string(buf)) == "" {
		return jsonIncomplete
	}
	if json.Valid(buf) {
		return jsonComplete
	}
	var v any
	err := json.Unmarshal(buf, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset >= int64(len(buf)) && strings.Contains(se.Error(), "unexpected end") {
		return jsonIncomplete
	}
	return jsonInvalid
}

// parseObject reads a complete JSON object.
func parseObject(buf []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(buf, &m); err != nil || m == nil {
		if err == nil || jsonStatus(buf) == jsonComplete {
			return nil, invalidf("not a JSON object")
		}
		return nil, invalidf("invalid JSON: %v", err)
	}
	return m, nil
}

// renderJSON is how JSON files read: indented, with a final newline.
func renderJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return []byte("{}\n")
	}
	return append(b, '\n')
}
