package remote

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const fuzzToken = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"

// FuzzErrorBody: any answer a server, a proxy or a captive portal may send
// with an error status becomes an APIError without panicking: a short,
// valid UTF-8 message (never empty), the status's errno, and no trace of
// the token even when the body echoes it.
func FuzzErrorBody(f *testing.F) {
	for _, s := range []struct {
		status int
		ct     string
		body   string
	}{
		{400, "application/json", `{"detail": "x"}`},
		{403, "application/json", `{"message": "You do not have permission to delete this", "code": "forbidden"}`},
		{400, "application/json", `{"python_version": ["\"3.99\" is not a valid choice."], "non_field_errors": ["a", "b"]}`},
		{400, "application/json", `["bare list"]`},
		{400, "application/json", `{"status": "ERROR", "error_type": "domain_taken", "error_message": 7}`},
		{500, "text/html", "<!DOCTYPE html><html><head><title>Server Error (500)</title></head></html>"},
		{502, "text/html", "<html><title>\n\t  </title></html>"},
		{429, "application/json", `{"detail": "Request was throttled. Expected available in 37 seconds."}`},
		{404, "", "\xff\xfe\x00garbage"},
		{401, "application/json", `{"detail": "bad token Token ` + fuzzToken + `"}`},
		{418, "text/plain", strings.Repeat("é", 500)},
		{503, "", ""},
		{999, "application/json", `{"detail": null, "message": {"nested": [1, 2]}}`},
	} {
		f.Add(s.status, s.ct, []byte(s.body))
	}
	c, err := New(Config{BaseURL: "https://example.com", Username: "u", Token: fuzzToken})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, ct string, body []byte) {
		if status < 100 || status > 999 {
			status = 400 + (status%100+100)%100
		}
		e := newAPIError("GET", "files/path/home/u/x", status, ct, c.redact(body))
		msg := e.Error()
		if e.Message == "" || !utf8.ValidString(e.Message) || utf8.RuneCountInString(e.Message) > maxMessage+1 {
			t.Fatalf("message %q (%d runes)", e.Message, utf8.RuneCountInString(e.Message))
		}
		if !utf8.ValidString(e.Body) || utf8.RuneCountInString(e.Body) > maxBody+1 {
			t.Fatalf("body kept: %d runes", utf8.RuneCountInString(e.Body))
		}
		if !strings.Contains(msg, strconv.Itoa(status)) {
			t.Fatalf("Error() %q lacks the status", msg)
		}
		if strings.Contains(msg, fuzzToken) || strings.Contains(e.Body, fuzzToken) {
			t.Fatalf("the token survived: %q", msg)
		}
		for _, fl := range e.Fields {
			_ = strings.Join(fl, " ")
		}
		if got, want := Errno(e), statusErrno(status); got != want || got == 0 {
			t.Fatalf("errno %v, want %v", got, want)
		}
	})
}

// FuzzServerAnswers: whatever a 2xx answer holds — a listing, an object, a
// list, truncated or malformed JSON, JSON of the wrong types — decoding
// never panics; a listing is either refused or has a type for every entry;
// a Retry-After or throttle message never yields a negative wait.
func FuzzServerAnswers(f *testing.F) {
	for _, s := range []string{
		`{"a.txt": {"type": "file", "url": "https://x/api/v0/user/u/files/path/home/u/a.txt"}, "d": {"type": "directory", "url": ""}}`,
		`{"..": {"type": "directory"}, "": {"type": "file"}, "a/b": {"type": "file"}, "x\u0000": {"type": "file"}}`,
		`{"a": {"type": "file"`, `{"a": "file"}`, `[1,2]`, `null`, `{}`, `{"a": {"type": 7}}`, `{"a": {"type": null}}`,
		`{"id": "12", "name": true, "executable": 3.5, "arguments": null}`,
		`{"domain_name": 5, "enabled": "True", "force_https": "no", "expiry": "2024-01-01", "python_version": "python310"}`,
		`[{"id": 1.0}, {"id": "two"}, null, 7]`,
		`{"minute": "1e400", "hour": -0, "enabled": "maybe", "interval": []}`,
		"\xef\xbb\xbf{}", `{"a": 1e999}`, `{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	} {
		f.Add([]byte(s), "37", "Expected available in 12.5 seconds.")
	}
	f.Fuzz(func(t *testing.T, body []byte, retryAfter, message string) {
		if ents, err := decodeListing(body); err == nil {
			for name, e := range ents {
				if e.Type == "" {
					t.Fatalf("entry %q without a type", name)
				}
			}
		}
		var (
			w   Webapp
			ws  []Webapp
			con []Console
			tk  ScheduledTask
			ao  []AlwaysOnTask
			cpu CPUUsage
			ssl SSLInfo
			st  []StaticFile
			m   map[string]DirEntry
			tr  []string
		)
		for _, out := range []any{&w, &ws, &con, &tk, &ao, &cpu, &ssl, &st, &m, &tr} {
			_ = decodeJSON(body, out)
		}
		resp := &http.Response{Request: &http.Request{Method: http.MethodGet}}
		_ = decoder(&w)(resp, body)
		_ = NormalizePythonVersion(string(body))
		if d := throttleHint(retryAfter, message, time.Unix(1700000000, 0)); d < 0 {
			t.Fatalf("throttle wait %v", d)
		}
	})
}
