package remote_test

// Tests of error parsing and of the retry policy against a tiny HTTP server
// answering canned bodies: shapes the emulator cannot produce on demand
// (HTML pages, 405, 413, the 200 {"status": "ERROR"} of webapp creation,
// exact failure sequences).

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/remote"
)

type reply struct {
	status int
	ct     string
	body   string
	header map[string]string
}

// cannedServer answers each request with the next reply queued for its
// method and path ("GET /api/v0/user/u/cpu/"); the last reply repeats.
type cannedServer struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	replies map[string][]reply
	seen    []*http.Request
	bodies  [][]byte
}

func newCanned(t *testing.T) *cannedServer {
	cs := &cannedServer{t: t, replies: map[string][]reply{}}
	cs.srv = httptest.NewServer(http.HandlerFunc(cs.serve))
	t.Cleanup(cs.srv.Close)
	return cs
}

func (cs *cannedServer) on(method, apiPath string, rs ...reply) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.replies[method+" /api/v0/user/u/"+apiPath] = rs
}

func (cs *cannedServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	cs.mu.Lock()
	cs.seen = append(cs.seen, r)
	cs.bodies = append(cs.bodies, body)
	key := r.Method + " " + r.URL.EscapedPath()
	rs := cs.replies[key]
	if len(rs) == 0 {
		cs.mu.Unlock()
		http.Error(w, "no canned reply for "+key, http.StatusTeapot)
		return
	}
	rep := rs[0]
	if len(rs) > 1 {
		cs.replies[key] = rs[1:]
	}
	cs.mu.Unlock()
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.ct != "" {
		w.Header().Set("Content-Type", rep.ct)
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (cs *cannedServer) requests() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.seen)
}

func (cs *cannedServer) client(mod ...func(*remote.Config)) *remote.Client {
	cfg := remote.Config{
		BaseURL: cs.srv.URL, Username: "u", Token: testToken,
		RateLimit: -1, RetryBase: time.Millisecond, MaxRetries: 3,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := remote.New(cfg)
	if err != nil {
		cs.t.Fatal(err)
	}
	return c
}

const testToken = "0123456789abcdef0123456789abcdef01234567"

const js = "application/json"

func apiErr(t *testing.T, err error) *remote.APIError {
	t.Helper()
	var e *remote.APIError
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *APIError", err, err)
	}
	return e
}

func TestCannedErrorShapes(t *testing.T) {
	cs := newCanned(t)
	c := cs.client()
	ctx := context.Background()

	cs.on("GET", "consoles/", reply{status: 405, ct: js, body: `{"detail": "Method \"GET\" not allowed."}`})
	_, err := c.ListConsoles(ctx)
	if e := apiErr(t, err); e.Status != 405 || e.Message != `Method "GET" not allowed.` || remote.Errno(err) != syscall.EIO {
		t.Fatalf("405: %+v errno %v", e, remote.Errno(err))
	}

	cs.on("GET", "files/path/home/u/x", reply{status: 404, ct: "text/html",
		body: "<!DOCTYPE html>\n<html><head><title>Page not found at /api/v0/user/u/files/pathx</title></head><body><pre>lots of debug</pre></body></html>"})
	_, err = c.Download(ctx, "/home/u/x")
	e := apiErr(t, err)
	if e.Status != 404 || !strings.HasPrefix(e.Message, "Page not found") || !remote.IsNotFound(err) || remote.Errno(err) != syscall.ENOENT {
		t.Fatalf("html 404: %+v", e)
	}
	if want := "GET files/path/home/u/x: 404 Not Found: Page not found"; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Error() = %q", err)
	}

	cs.on("POST", "files/path/home/u/big", reply{status: 413, ct: "text/html", body: "<html><body>Request Entity Too Large</body></html>"})
	_, err = c.Upload(ctx, "/home/u/big", strings.NewReader("x"))
	if e := apiErr(t, err); e.Status != 413 || e.Message != "HTTP 413" || remote.Errno(err) != syscall.EFBIG {
		t.Fatalf("413: %+v", e)
	}

	cs.on("POST", "webapps/", reply{status: 200, ct: js,
		body: `{"status": "ERROR", "error_type": "validation", "error_message": "You cannot create any more webapps - your account only allows 2"}`})
	err = c.CreateWebapp(ctx, "new.example.com", "3.10")
	e = apiErr(t, err)
	if e.Status != 400 || e.Code != "validation" || !strings.HasPrefix(e.Message, "You cannot create") || remote.Errno(err) != syscall.EINVAL {
		t.Fatalf("create ERROR: %+v", e)
	}
	if got := string(cs.bodies[len(cs.bodies)-1]); got != "domain_name=new.example.com&python_version=python310" {
		t.Fatalf("create body %q", got)
	}
	if ct := cs.seen[len(cs.seen)-1].Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Fatalf("create content type %q", ct)
	}

	cs.on("POST", "webapps/x.com/reload/", reply{status: 409, ct: js, body: `{"status": "error", "error": "cname_error"}`})
	err = c.ReloadWebapp(ctx, "x.com")
	if !errors.Is(err, remote.ErrCNAME) || apiErr(t, err).Status != 409 {
		t.Fatalf("cname: %v", err)
	}
	if cs.requests() != 5 {
		t.Fatalf("reload retried: %d requests", cs.requests())
	}

	cs.on("GET", "consoles/3/get_latest_output/", reply{status: 412, ct: js,
		body: `{"error": "Console not yet started. Please load it (or its iframe) in a browser first"}`})
	_, err = c.ConsoleOutput(ctx, 3)
	if e := apiErr(t, err); e.Status != 412 || !strings.HasPrefix(e.Message, "Console not yet started") || remote.Errno(err) != syscall.EAGAIN {
		t.Fatalf("412: %+v", e)
	}

	cs.on("DELETE", "files/path/home/u", reply{status: 403, ct: js, body: `{"message": "You do not have permission to delete this", "code": "forbidden"}`})
	err = c.Delete(ctx, "/home/u")
	if e := apiErr(t, err); e.Code != "forbidden" || remote.Errno(err) != syscall.EACCES {
		t.Fatalf("403: %+v", e)
	}

	cs.on("GET", "cpu/", reply{status: 502, ct: "text/plain", body: "bad gateway\n"})
	_, err = c.CPU(ctx)
	if e := apiErr(t, err); e.Status != 502 || e.Message != "bad gateway" || remote.Errno(err) != syscall.EIO {
		t.Fatalf("502: %+v", e)
	}
}

// TestRetryPolicy walks the retry decisions: idempotent calls retry 5xx and
// malformed answers; non-idempotent POSTs don't, but do retry 429s.
func TestRetryPolicy(t *testing.T) {
	ctx := context.Background()
	t.Run("GET retries 5xx and malformed JSON", func(t *testing.T) {
		cs := newCanned(t)
		cs.on("GET", "cpu/",
			reply{status: 503, ct: js, body: `{"detail": "down"}`},
			reply{status: 200, ct: js, body: `{"daily_cpu_limit_seconds": 100, "daily_cpu_tot`},
			reply{status: 200, ct: js, body: `{"daily_cpu_limit_seconds": 100, "daily_cpu_total_usage_seconds": 1.5, "next_reset_time": "2025-08-09T03:26:37"}`})
		c := cs.client()
		cpu, err := c.CPU(ctx)
		if err != nil || cpu.DailyCPULimitSeconds != 100 || cpu.DailyCPUTotalUsageSeconds != 1.5 {
			t.Fatalf("%+v %v", cpu, err)
		}
		st := statsFor(c, "cpu")
		if st.Retries != 2 || st.Sent["GET"] != 3 || st.Errors != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("gives up after MaxRetries", func(t *testing.T) {
		cs := newCanned(t)
		cs.on("GET", "cpu/", reply{status: 500, ct: js, body: `{"detail": "boom"}`})
		c := cs.client()
		_, err := c.CPU(ctx)
		if e := apiErr(t, err); e.Status != 500 {
			t.Fatal(err)
		}
		if cs.requests() != 4 {
			t.Fatalf("%d requests, want 1 + 3 retries", cs.requests())
		}
		if st := statsFor(c, "cpu"); st.Errors != 1 || st.LastError == "" || st.LastErrorAt.IsZero() {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("POST create not retried on 5xx", func(t *testing.T) {
		cs := newCanned(t)
		cs.on("POST", "consoles/", reply{status: 503, ct: js, body: `{"detail": "down"}`},
			reply{status: 201, ct: js, body: `{"id": 1}`})
		_, err := cs.client().CreateConsole(ctx, remote.ConsoleCreate{Executable: "bash"})
		if e := apiErr(t, err); e.Status != 503 || cs.requests() != 1 {
			t.Fatalf("err %v after %d requests", err, cs.requests())
		}
	})
	t.Run("POST create retried on 429", func(t *testing.T) {
		cs := newCanned(t)
		cs.on("POST", "consoles/",
			reply{status: 429, ct: js, body: `{"detail": "Request was throttled. Expected available in 0.05 seconds."}`},
			reply{status: 201, ct: js, body: `{"id": 7, "executable": "bash", "arguments": null}`})
		c := cs.client()
		con, err := c.CreateConsole(ctx, remote.ConsoleCreate{Executable: "bash"})
		if err != nil || con.ID != 7 || cs.requests() != 2 {
			t.Fatalf("%+v %v after %d requests", con, err, cs.requests())
		}
		if st := statsFor(c, "consoles"); st.Throttled != 1 || st.Retries != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("POST retried when the connection is refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c, err := remote.New(remote.Config{BaseURL: "http://" + addr, Username: "u", Token: testToken,
			RateLimit: -1, RetryBase: time.Millisecond, MaxRetries: 2})
		if err != nil {
			t.Fatal(err)
		}
		err = c.SendInput(ctx, 1, "ls\n")
		if err == nil || remote.Errno(err) != syscall.EIO {
			t.Fatalf("err %v", err)
		}
		if st := statsFor(c, "consoles/{id}/send_input"); st.Retries != 2 || st.Sent["POST"] != 3 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("DELETE 404 after a lost answer is success", func(t *testing.T) {
		cs := newCanned(t)
		cs.on("DELETE", "schedule/5/", reply{status: 502, body: "bad gateway"},
			reply{status: 404, ct: js, body: `{"detail": "Not found."}`})
		if err := cs.client().DeleteSchedule(ctx, 5); err != nil {
			t.Fatal(err)
		}
		cs.on("DELETE", "schedule/6/", reply{status: 404, ct: js, body: `{"detail": "Not found."}`})
		if err := cs.client().DeleteSchedule(ctx, 6); !remote.IsNotFound(err) {
			t.Fatalf("plain 404: %v", err)
		}
	})
	t.Run("429 Retry-After as HTTP date", func(t *testing.T) {
		cs := newCanned(t)
		cs.on("GET", "students/",
			reply{status: 429, ct: js, body: `{"detail": "slow down"}`,
				header: map[string]string{"Retry-After": time.Now().Add(time.Second).UTC().Format(http.TimeFormat)}},
			reply{status: 200, ct: js, body: `{"students": [{"username": "bob"}]}`})
		start := time.Now()
		s, err := cs.client().ListStudents(ctx)
		if err != nil || len(s) != 1 || s[0].Username != "bob" {
			t.Fatalf("%v %v", s, err)
		}
		// HTTP dates have whole seconds: the wait is anything up to 1 s.
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("waited %v", d)
		}
	})
	t.Run("redirected POST is not followed", func(t *testing.T) {
		cs := newCanned(t)
		cs.on("POST", "always_on/1/restart/", reply{status: 301, header: map[string]string{"Location": "/elsewhere/"}})
		err := cs.client().RestartAlwaysOn(ctx, 1)
		if e := apiErr(t, err); e.Status != 301 || cs.requests() != 1 {
			t.Fatalf("%v", err)
		}
	})
}

func statsFor(c *remote.Client, family string) remote.FamilyStats {
	for _, s := range c.Stats() {
		if s.Family == family {
			return s
		}
	}
	return remote.FamilyStats{Family: family}
}

// errReader fails after giving some bytes: a source that cannot be replayed.
type onceReader struct {
	r io.Reader
}

func (o *onceReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestUploadReplay(t *testing.T) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 1000)

	cs := newCanned(t)
	cs.on("POST", "files/path/home/u/f.txt", reply{status: 500, body: "oops"}, reply{status: 201})
	// A seekable reader is rewound to where it was when Upload was called.
	src := bytes.NewReader(append([]byte("skip"), data...))
	src.Seek(4, io.SeekStart)
	created, err := cs.client().Upload(ctx, "/home/u/f.txt", src)
	if err != nil || !created {
		t.Fatalf("created %v err %v", created, err)
	}
	if cs.requests() != 2 {
		t.Fatalf("%d requests", cs.requests())
	}
	for i := range 2 {
		got := multipartContent(t, cs.seen[i], cs.bodies[i])
		if !bytes.Equal(got, data) {
			t.Fatalf("attempt %d sent %d bytes, want %d", i, len(got), len(data))
		}
		if cs.seen[i].ContentLength <= int64(len(data)) {
			t.Fatalf("seekable upload without Content-Length: %d", cs.seen[i].ContentLength)
		}
	}

	// A plain reader is not replayed once the body has gone out.
	cs = newCanned(t)
	cs.on("POST", "files/path/home/u/g.txt", reply{status: 500, body: "oops"}, reply{status: 201})
	_, err = cs.client().Upload(ctx, "/home/u/g.txt", &onceReader{bytes.NewReader(data)})
	if e := apiErr(t, err); e.Status != 500 || cs.requests() != 1 {
		t.Fatalf("err %v after %d requests", err, cs.requests())
	}
	if cs.seen[0].ContentLength != -1 || len(cs.seen[0].TransferEncoding) == 0 {
		t.Fatalf("unseekable upload should be chunked: %d %v", cs.seen[0].ContentLength, cs.seen[0].TransferEncoding)
	}
	if got := multipartContent(t, cs.seen[0], cs.bodies[0]); !bytes.Equal(got, data) {
		t.Fatalf("sent %d bytes", len(got))
	}

	// 200 means overwritten.
	cs.on("POST", "files/path/home/u/g.txt", reply{status: 200})
	created, err = cs.client().Upload(ctx, "/home/u/g.txt", strings.NewReader("x"))
	if err != nil || created {
		t.Fatalf("overwrite: created %v err %v", created, err)
	}
}

// multipartContent extracts the "content" part of a recorded upload.
func multipartContent(t *testing.T, r *http.Request, body []byte) []byte {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("content type %q: %v", r.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no content part: %v", err)
		}
		if p.FormName() == "content" {
			b, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func TestNewValidation(t *testing.T) {
	ok := []string{"https://www.pythonanywhere.com", "http://127.0.0.1:8080", "http://localhost:1/", "http://[::1]:9", "http://127.3.4.5"}
	for _, u := range ok {
		if _, err := remote.New(remote.Config{BaseURL: u, Username: "u", Token: testToken}); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	bad := map[string]string{
		"http://example.com":      "unencrypted",
		"http://192.168.1.2:8080": "loopback",
		"ftp://x":                 "scheme",
		"":                        "BaseURL",
		"://nope":                 "BaseURL",
		"https://x.com/?q=1":      "BaseURL",
		"https://user:pw@x.com":   "BaseURL",
	}
	for u, want := range bad {
		_, err := remote.New(remote.Config{BaseURL: u, Username: "u", Token: testToken})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want mention of %q", u, err, want)
		}
	}
	if _, err := remote.New(remote.Config{BaseURL: "https://x.com", Token: testToken}); err == nil {
		t.Error("empty username accepted")
	}
	if _, err := remote.New(remote.Config{BaseURL: "https://x.com", Username: "u"}); err == nil {
		t.Error("empty token accepted")
	}
	for region, want := range map[string]string{"us": "https://www.pythonanywhere.com", "eu": "https://eu.pythonanywhere.com"} {
		if got, err := remote.RegionURL(region); err != nil || got != want {
			t.Errorf("RegionURL(%q) = %q, %v", region, got, err)
		}
	}
	if _, err := remote.RegionURL("mars"); err == nil {
		t.Error("RegionURL(mars) accepted")
	}
	c, _ := remote.New(remote.Config{BaseURL: "https://x.com", Username: "u", Token: testToken})
	if n, w := c.Limits(); n != 40 || w != time.Minute {
		t.Errorf("default limits %d/%v", n, w)
	}
}

func TestHeaders(t *testing.T) {
	cs := newCanned(t)
	cs.on("GET", "cpu/", reply{status: 200, ct: js, body: `{}`})
	remote.Version = "9.9.9"
	c := cs.client(func(cfg *remote.Config) { cfg.UserAgent = "tests/1" })
	if _, err := c.CPU(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := cs.seen[0].Header
	if h.Get("Authorization") != "Token "+testToken {
		t.Errorf("Authorization %q", h.Get("Authorization"))
	}
	if h.Get("Accept") != "application/json" {
		t.Errorf("Accept %q", h.Get("Accept"))
	}
	if ua := h.Get("User-Agent"); ua != "pafs/9.9.9 (+https://github.com/pafs/pafs) tests/1" {
		t.Errorf("User-Agent %q", ua)
	}
}

// TestCannedLiberalAnswers feeds the variants the API doc says to accept.
func TestCannedLiberalAnswers(t *testing.T) {
	ctx := context.Background()
	cs := newCanned(t)
	c := cs.client()

	cs.on("GET", "students/", reply{status: 200, ct: js, body: `["bob", "carol"]`})
	if s, err := c.ListStudents(ctx); err != nil || len(s) != 2 || s[1].Username != "carol" {
		t.Fatalf("bare names: %v %v", s, err)
	}
	cs.on("GET", "students/", reply{status: 200, ct: js, body: `[{"username": "dave"}]`})
	if s, err := c.ListStudents(ctx); err != nil || len(s) != 1 || s[0].Username != "dave" {
		t.Fatalf("bare objects: %v %v", s, err)
	}

	cs.on("GET", "default_python_version/", reply{status: 200, ct: js,
		body: `{"default_python_version": "python310", "available_python_versions": ["python39", 3.10, "3.11"]}`})
	ch, err := c.PythonVersion(ctx, remote.PythonDefault)
	if err != nil || ch.Current != "3.10" || len(ch.Available) != 3 || ch.Available[0] != "3.9" || ch.Available[2] != "3.11" {
		t.Fatalf("python version %+v %v", ch, err)
	}
	cs.on("PATCH", "default_save_and_run_python_version/", reply{status: 200})
	ch, err = c.SetPythonVersion(ctx, remote.SaveAndRun, "python311")
	if err != nil || ch.Current != "3.11" {
		t.Fatalf("empty PATCH answer: %+v %v", ch, err)
	}
	if got := string(cs.bodies[len(cs.bodies)-1]); got != `{"default_save_and_run_python_version":"3.11"}` {
		t.Fatalf("PATCH body %s", got)
	}
	cs.on("PATCH", "system_image/", reply{status: 200, ct: js, body: `{"status": "OK"}`})
	if ch, err := c.SetSystemImage(ctx, "innit"); err != nil || ch.Current != "innit" {
		t.Fatalf("system image %+v %v", ch, err)
	}

	cs.on("GET", "webapps/", reply{status: 200, ct: js,
		body: `[{"id": "5", "domain_name": "a.com", "python_version": "python38", "force_https": "True", "enabled": "False"}]`})
	apps, err := c.ListWebapps(ctx)
	if err != nil || len(apps) != 1 || apps[0].ID != 5 || apps[0].PythonVersion != "3.8" || !apps[0].ForceHTTPS ||
		apps[0].Enabled == nil || *apps[0].Enabled {
		t.Fatalf("webapps %+v %v", apps, err)
	}

	// A file served as JSON is not a listing.
	cs.on("GET", "files/path/home/u/data.json", reply{status: 200, ct: js, body: `{"a": 1}`})
	if _, err := c.ListDir(ctx, "/home/u/data.json"); !errors.Is(err, remote.ErrNotDir) {
		t.Fatalf("JSON file listed: %v", err)
	}
	cs.on("GET", "files/path/home/u/list.json", reply{status: 200, ct: js, body: `[1, 2]`})
	if _, err := c.ListDir(ctx, "/home/u/list.json"); !errors.Is(err, remote.ErrNotDir) {
		t.Fatalf("JSON array listed: %v", err)
	}
	cs.on("GET", "files/path/home/u/d", reply{status: 200, ct: js, body: `{"x": {"type": "symlink", "url": "/x"}}`})
	if l, err := c.ListDir(ctx, "/home/u/d"); err != nil || l["x"].IsDir() {
		t.Fatalf("unknown type: %v %v", l, err)
	}

	cs.on("POST", "files/sharing/", reply{status: 201, ct: js, body: `{"url": "https://elsewhere.example/s/1/"}`})
	if link, created, err := c.Share(ctx, "/home/u/x"); err != nil || !created || link != "https://elsewhere.example/s/1/" {
		t.Fatalf("absolute share url: %q %v %v", link, created, err)
	}
}

// TestDownloadHeaders: no Content-Length gives Size -1, Last-Modified gives
// ModTime, and a body cut short fails the read with method and endpoint.
func TestDownloadHeaders(t *testing.T) {
	mod := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", mod.Format(http.TimeFormat))
		if strings.HasSuffix(r.URL.Path, "/cut") {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "only part")
			return
		}
		w.(http.Flusher).Flush() // no Content-Length: chunked
		io.WriteString(w, "streamed")
	}))
	defer srv.Close()
	c, err := remote.New(remote.Config{BaseURL: srv.URL, Username: "u", Token: testToken, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Download(context.Background(), "/home/u/s")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(d.Body)
	d.Body.Close()
	if d.Size != -1 || !d.ModTime.Equal(mod) || string(b) != "streamed" {
		t.Fatalf("download %+v %q", d, b)
	}
	d, err = c.Download(context.Background(), "/home/u/cut")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(d.Body)
	d.Body.Close()
	if err == nil || !strings.Contains(err.Error(), "GET files/path/home/u/cut: reading body") || remote.Errno(err) != syscall.EIO {
		t.Fatalf("cut body: %v", err)
	}
}

// failingReader breaks after some bytes, like a disk error under the upload.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

func (f *failingReader) Seek(int64, int) (int64, error) { return 0, nil }

// TestUploadSourceError: a failing source is the caller's problem, not the
// network's: no retry, and the error says so.
func TestUploadSourceError(t *testing.T) {
	cs := newCanned(t)
	cs.on("POST", "files/path/home/u/f", reply{status: 201})
	c := cs.client()
	_, err := c.Upload(context.Background(), "/home/u/f", &failingReader{n: 1000})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") || !strings.Contains(err.Error(), "reading upload source") {
		t.Fatalf("err %v", err)
	}
	if st := statsFor(c, "files/path"); st.Retries != 0 {
		t.Fatalf("retried a failing source: %+v", st)
	}
}
