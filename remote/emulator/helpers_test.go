package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

const testToken = "0123456789abcdef0123456789abcdef01234567"

// env is one emulator behind a real HTTP server, with a client that speaks to it
// using nothing but net/http.
type env struct {
	t   *testing.T
	e   *Emulator
	srv *httptest.Server
	// token sent in Authorization; "" sends none.
	token string
}

// newEnv starts an emulator for user "demo". Rate limiting is off unless cfg sets it.
func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = -1
	}
	e := New(cfg)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &env{t: t, e: e, srv: srv, token: cfg.Token}
}

// res is a finished HTTP exchange.
type res struct {
	status int
	header http.Header
	body   []byte
}

func (r res) json(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body is not JSON (%v): %q", err, r.body)
	}
	return v
}

// api builds the URL of an API path relative to /api/v0/user/demo/.
func (v *env) api(p string) string { return v.srv.URL + "/api/v0/user/demo/" + p }

// filesURL builds files/path URL for an absolute path, escaping each segment.
func (v *env) filesURL(p string) string {
	var b strings.Builder
	for _, s := range strings.Split(strings.Trim(p, "/"), "/") {
		if s != "" {
			b.WriteString("/" + url.PathEscape(s))
		}
	}
	return v.api("files/path") + b.String()
}

// do sends a request with an optional body (content type ct).
func (v *env) do(method, rawURL, ct string, body []byte) res {
	v.t.Helper()
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		v.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if v.token != "" {
		req.Header.Set("Authorization", "Token "+v.token)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatalf("%s %s: reading body: %v", method, rawURL, err)
	}
	return res{resp.StatusCode, resp.Header, b}
}

func (v *env) get(rawURL string) res { return v.do(http.MethodGet, rawURL, "", nil) }

func (v *env) del(rawURL string) res { return v.do(http.MethodDelete, rawURL, "", nil) }

// sendJSON sends body (any value) as JSON.
func (v *env) sendJSON(method, rawURL string, body any) res {
	v.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		v.t.Fatal(err)
	}
	return v.do(method, rawURL, "application/json", b)
}

// sendForm sends a form-urlencoded body.
func (v *env) sendForm(method, rawURL string, vals url.Values) res {
	return v.do(method, rawURL, "application/x-www-form-urlencoded", []byte(vals.Encode()))
}

// upload posts data as the multipart file part "content".
func (v *env) upload(p string, data []byte) res {
	v.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("content", "ignored.bin")
	if err != nil {
		v.t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	return v.do(http.MethodPost, v.filesURL(p), mw.FormDataContentType(), buf.Bytes())
}

// want checks the status and, if body is non-nil, that the JSON body equals it.
func want(t *testing.T, r res, status int, body any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %q", r.status, status, r.body)
	}
	if body == nil {
		return
	}
	var wantV any
	b, _ := json.Marshal(body)
	_ = json.Unmarshal(b, &wantV)
	if got := r.json(t); !reflect.DeepEqual(got, wantV) {
		t.Fatalf("body %s, want %s", r.body, b)
	}
}

// obj decodes a JSON object body.
func obj(t *testing.T, r res) map[string]any {
	t.Helper()
	m, ok := r.json(t).(map[string]any)
	if !ok {
		t.Fatalf("body is not a JSON object: %s", r.body)
	}
	return m
}

// list decodes a JSON array body.
func list(t *testing.T, r res) []any {
	t.Helper()
	l, ok := r.json(t).([]any)
	if !ok {
		t.Fatalf("body is not a JSON array: %s", r.body)
	}
	return l
}

// keys returns the sorted keys of a JSON object.
func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before the deadline")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
