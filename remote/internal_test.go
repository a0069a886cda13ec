package remote

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFilesEndpoint(t *testing.T) {
	cases := []struct{ in, esc, raw string }{
		{"/home/u/x.py", "files/path/home/u/x.py", "files/path/home/u/x.py"},
		{"/home/u/a b.txt", "files/path/home/u/a%20b.txt", "files/path/home/u/a b.txt"},
		{"/home/u/#tag?q=1", "files/path/home/u/%23tag%3Fq=1", "files/path/home/u/#tag?q=1"},
		{"/home/u/100%", "files/path/home/u/100%25", "files/path/home/u/100%"},
		{"/home/u/ü ✓", "files/path/home/u/%C3%BC%20%E2%9C%93", "files/path/home/u/ü ✓"},
		{"/home/u/.bashrc", "files/path/home/u/.bashrc", "files/path/home/u/.bashrc"},
		{"/home//u/dir/", "files/path/home/u/dir/", "files/path/home/u/dir/"},
		{"/", "files/path/", "files/path/"},
	}
	for _, c := range cases {
		e, err := filesEndpoint(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if e.esc != c.esc || e.raw != c.raw || e.family != "files/path" {
			t.Errorf("%q: got %+v, want esc %q raw %q", c.in, e, c.esc, c.raw)
		}
	}
	for _, bad := range []string{"home/u", "", "/home/../etc", "/home/./u", "/a\x00b"} {
		if _, err := filesEndpoint(bad); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("%q: err = %v, want ErrInvalidPath", bad, err)
		}
	}
}

func TestEndpointEscapesSegments(t *testing.T) {
	e := ep("webapps", "a/b.com", "static_files", "7")
	if e.esc != "webapps/a%2Fb.com/static_files/7/" {
		t.Fatalf("esc = %q", e.esc)
	}
	if e.raw != "webapps/a/b.com/static_files/7/" {
		t.Fatalf("raw = %q", e.raw)
	}
}

func TestFamily(t *testing.T) {
	cases := map[string]string{
		"files/path/home/u/x.py":                     "files/path",
		"files/path/home/u/webapps/1/reload/":        "files/path",
		"files/path":                                 "files/path",
		"files/tree/?path=/home/u":                   "files/tree",
		"files/sharing/":                             "files/sharing",
		"consoles/":                                  "consoles",
		"consoles/shared_with_you/":                  "consoles/shared_with_you",
		"consoles/12/":                               "consoles/{id}",
		"consoles/12/get_latest_output/":             "consoles/{id}/get_latest_output",
		"consoles/12/send_input/":                    "consoles/{id}/send_input",
		"always_on/":                                 "always_on",
		"always_on/3/":                               "always_on/{id}",
		"always_on/3/restart/":                       "always_on/{id}/restart",
		"schedule/":                                  "schedule",
		"schedule/9/":                                "schedule/{id}",
		"webapps/":                                   "webapps",
		"webapps/u.pythonanywhere.com/":              "webapps/{domain}",
		"webapps/u.pythonanywhere.com/reload/":       "webapps/{domain}/reload",
		"webapps/x.com/enable/":                      "webapps/{domain}/enable",
		"webapps/x.com/disable/":                     "webapps/{domain}/disable",
		"webapps/x.com/ssl/":                         "webapps/{domain}/ssl",
		"webapps/x.com/static_files/":                "webapps/{domain}/static_files",
		"webapps/x.com/static_files/4/":              "webapps/{domain}/static_files/{id}",
		"webapps/x.com/static_headers/":              "webapps/{domain}/static_headers",
		"webapps/x.com/static_headers/4/":            "webapps/{domain}/static_headers/{id}",
		"cpu/":                                       "cpu",
		"default_python3_version/":                   "default_python3_version",
		"default_python_version/":                    "default_python_version",
		"default_save_and_run_python_version/":       "default_save_and_run_python_version",
		"system_image/":                              "system_image",
		"students/":                                  "students",
		"students/bob/":                              "students/{name}",
		"user_perms/schedule/":                       "user_perms/schedule",
		"/api/v0/user/alice/webapps/x.com/reload/":   "webapps/{domain}/reload",
		"/api/v0/user/alice/files/path/home/alice/x": "files/path",
		"databases/mysql/":                           "databases/mysql",
		"things/12/":                                 "things/{id}",
	}
	for in, want := range cases {
		if got := Family(in); got != want {
			t.Errorf("Family(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizePythonVersion(t *testing.T) {
	for in, want := range map[string]string{
		"python310": "3.10", "python3.10": "3.10", "3.10": "3.10", "python38": "3.8",
		"Python27": "2.7", " 3.9 ": "3.9", "3": "3", "": "", "python": "python",
	} {
		if got := NormalizePythonVersion(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
	if got := createPythonVersion("3.10"); got != "python310" {
		t.Errorf("create form %q", got)
	}
	if got := createPythonVersion("python310"); got != "python310" {
		t.Errorf("create form %q", got)
	}
}

func TestThrottleHint(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		header, msg string
		want        time.Duration
	}{
		{"37", "", 37 * time.Second},
		{"", "Request was throttled. Expected available in 12 seconds.", 12 * time.Second},
		{"", "Request was throttled. Expected available in 1.5 seconds.", 1500 * time.Millisecond},
		{"2", "Expected available in 3 seconds.", 3 * time.Second},
		{now.Add(20 * time.Second).Format(http.TimeFormat), "", 20 * time.Second},
		{"soon", "slow down", 0},
		{"", "", 0},
	}
	for _, c := range cases {
		if got := throttleHint(c.header, c.msg, now); got != c.want {
			t.Errorf("(%q, %q) = %v, want %v", c.header, c.msg, got, c.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	base := 100 * time.Millisecond
	for attempt := range 12 {
		want := min(base<<attempt, maxBackoff)
		for range 20 {
			d := backoff(base, attempt)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
	c := &Client{window: 2 * time.Second}
	if d := c.throttleDelay(attemptResult{}, 1); d != 500*time.Millisecond {
		t.Fatalf("throttle start %v", d)
	}
	if d := c.throttleDelay(attemptResult{}, 10); d != 2*time.Second {
		t.Fatalf("throttle cap %v", d)
	}
	c.window = time.Minute
	if d := c.throttleDelay(attemptResult{}, 1); d != 15*time.Second {
		t.Fatalf("throttle start %v", d)
	}
	if d := c.throttleDelay(attemptResult{}, 5); d != 60*time.Second {
		t.Fatalf("throttle cap %v", d)
	}
	if d := c.throttleDelay(attemptResult{wait: 3 * time.Second}, 5); d != 3*time.Second {
		t.Fatalf("server wait ignored: %v", d)
	}
}

func TestDecodeJSONLiberal(t *testing.T) {
	var task ScheduledTask
	err := decodeJSON([]byte(`{"id": "12", "enabled": "True", "hour": "16", "minute": 5.0,
		"command": 42, "can_enable": 0, "expiry": null, "extra": {"x": 1}}`), &task)
	if err != nil {
		t.Fatal(err)
	}
	if task.ID != 12 || !task.Enabled || task.Hour == nil || *task.Hour != 16 || task.Minute != 5 ||
		task.Command != "42" || task.CanEnable || task.Expiry != nil {
		t.Fatalf("decoded %+v", task)
	}
	var list []AlwaysOnTask
	if err := decodeJSON([]byte(`[{"id": 1, "enabled": "false"}, {"id": "2", "enabled": true}]`), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Enabled || list[1].ID != 2 || !list[1].Enabled {
		t.Fatalf("decoded %+v", list)
	}
	var c Console
	if err := decodeJSON([]byte(`{"id": 1, "arguments": null, "working_directory": null}`), &c); err != nil || c.ID != 1 {
		t.Fatalf("nulls: %v %+v", err, c)
	}
	if err := decodeJSON([]byte(`{"id": 1,`), &c); !isDecodeError(err) {
		t.Fatalf("truncated JSON: %v", err)
	}
}

func TestParseErrorBodies(t *testing.T) {
	cases := []struct {
		name, ct, body string
		status         int
		msg            string
		fields         map[string][]string
		code           string
	}{
		{"detail", "application/json", `{"detail": "Invalid token."}`, 401, "Invalid token.", nil, ""},
		{"message+code", "application/json", `{"message": "File does not exist", "code": "not_found"}`, 404, "File does not exist", nil, "not_found"},
		{"error", "application/json", `{"error": "Console not yet started."}`, 412, "Console not yet started.", nil, ""},
		{"error_message", "application/json", `{"error_message": "You cannot create any more webapps"}`, 400, "You cannot create any more webapps", nil, ""},
		{"non_field", "application/json", `{"non_field_errors": ["Hourly tasks must not have an hour."]}`, 400,
			"Hourly tasks must not have an hour.", map[string][]string{"non_field_errors": {"Hourly tasks must not have an hour."}}, ""},
		{"fields", "application/json", `{"interval": ["This field is required."], "command": ["Required.", "Too short."]}`, 400,
			"command: Required. Too short.; interval: This field is required.",
			map[string][]string{"interval": {"This field is required."}, "command": {"Required.", "Too short."}}, ""},
		{"choice", "application/json", `{"python_version": ["\"3.99\" is not a valid choice."]}`, 400,
			`python_version: "3.99" is not a valid choice.`, map[string][]string{"python_version": {`"3.99" is not a valid choice.`}}, ""},
		{"detail list", "application/json", `{"detail": ["a", "b"]}`, 400, "a b", nil, ""},
		{"bare list", "application/json", `["Something went wrong."]`, 400, "Something went wrong.", nil, ""},
		{"unknown object", "application/json", `{"status": "error"}`, 409, `{"status":"error"}`, nil, ""},
		{"html title", "text/html", "<!DOCTYPE html><html><head><title>Not Found</title></head><body>...</body></html>", 404, "Not Found", nil, ""},
		{"html no title", "text/html", "<html><body><h1>Server Error (500)</h1></body></html>", 500, "HTTP 500", nil, ""},
		{"text", "text/plain", "  upstream\n connect error  ", 502, "upstream connect error", nil, ""},
		{"empty", "", "", 503, "Service Unavailable", nil, ""},
		{"invalid utf8", "text/plain", "bad \xff\xfe bytes", 500, "bad \uFFFD bytes", nil, ""},
		{"truncated json", "application/json", `{"detail": "Not fo`, 404, `{"detail": "Not fo`, nil, ""},
	}
	for _, c := range cases {
		e := newAPIError("GET", "x/", c.status, c.ct, []byte(c.body))
		if e.Message != c.msg || e.Code != c.code {
			t.Errorf("%s: message %q code %q, want %q %q", c.name, e.Message, e.Code, c.msg, c.code)
		}
		if c.fields != nil && !reflect.DeepEqual(e.Fields, c.fields) {
			t.Errorf("%s: fields %v, want %v", c.name, e.Fields, c.fields)
		}
	}
	long := strings.Repeat("x", 5000)
	e := newAPIError("GET", "x/", 500, "text/plain", []byte(long))
	if n := len([]rune(e.Message)); n > maxMessage+1 {
		t.Errorf("message not truncated: %d runes", n)
	}
	if n := len([]rune(e.Body)); n > maxBody+1 {
		t.Errorf("body not truncated: %d runes", n)
	}
	e = newAPIError("PATCH", "webapps/x.com/", 400, "application/json", []byte(`{"python_version": ["\"3.99\" is not a valid choice."]}`))
	if got, want := e.Error(), `PATCH webapps/x.com/: 400 Bad Request: python_version: "3.99" is not a valid choice.`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = newAPIError("GET", "cpu/", 599, "", nil)
	if got := e.Error(); got != "GET cpu/: 599: HTTP 599" {
		t.Errorf("Error() = %q", got)
	}
}
