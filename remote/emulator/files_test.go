package emulator

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestFileGetBytes(t *testing.T) {
	v := newEnv(t, Config{})
	v.e.WriteFile("/home/demo/data.json", []byte(`{"a": 1}`))
	r := v.get(v.filesURL("/home/demo/data.json"))
	want(t, r, 200, nil)
	if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q: file bytes are never labelled JSON", ct)
	}
	if r.header.Get("Content-Length") != "8" || string(r.body) != `{"a": 1}` {
		t.Errorf("Content-Length %q body %q", r.header.Get("Content-Length"), r.body)
	}
	if r.header.Get("Last-Modified") != "" {
		t.Error("Last-Modified is not part of the API")
	}
	want(t, v.get(v.filesURL("/home/demo/nope")), 404, map[string]string{"detail": "No such file or directory: /home/demo/nope"})
}

func TestDirectoryListingShape(t *testing.T) {
	v := newEnv(t, Config{})
	v.e.WriteFile("/home/demo/.bashrc", []byte("x"))
	v.e.Mkdir("/home/demo/sub")
	r := v.get(v.filesURL("/home/demo"))
	want(t, r, 200, nil)
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	m := obj(t, r)
	if got := fmt.Sprint(keys(m)); got != "[.bashrc sub]" {
		t.Fatalf("entries %s", got)
	}
	base := v.srv.URL + "/api/v0/user/demo/files/path/home/demo/"
	wantEntries := map[string][2]string{".bashrc": {"file", base + ".bashrc"}, "sub": {"directory", base + "sub"}}
	for name, w := range wantEntries {
		e := m[name].(map[string]any)
		if len(e) != 2 || e["type"] != w[0] || e["url"] != w[1] {
			t.Errorf("%s: %v, want type %s url %s (and nothing else)", name, e, w[0], w[1])
		}
	}
	// Trailing and repeated slashes are normalised; empty dirs list as {}.
	want(t, v.get(v.api("files/path//home/demo//sub/")), 200, map[string]any{})
}

func TestListingUsesConfiguredBaseURL(t *testing.T) {
	v := newEnv(t, Config{BaseURL: "https://www.pythonanywhere.com/"})
	v.e.WriteFile("/home/demo/x", nil)
	m := obj(t, v.get(v.filesURL("/home/demo")))
	if u := m["x"].(map[string]any)["url"]; u != "https://www.pythonanywhere.com/api/v0/user/demo/files/path/home/demo/x" {
		t.Errorf("url %v", u)
	}
}

func TestUploadCreatesThenOverwrites(t *testing.T) {
	v := newEnv(t, Config{})
	want(t, v.upload("/home/demo/a/b/c.txt", []byte("one")), 201, nil)
	if !v.e.IsDir("/home/demo/a/b") {
		t.Fatal("parents not created")
	}
	want(t, v.upload("/home/demo/a/b/c.txt", []byte("two")), 200, nil)
	if got, _ := v.e.ReadFile("/home/demo/a/b/c.txt"); string(got) != "two" {
		t.Errorf("content %q", got)
	}
	if _, ok := v.e.ModTime("/home/demo/a/b/c.txt"); !ok {
		t.Error("no mtime tracked")
	}
	// Empty files are files too.
	want(t, v.upload("/tmp/empty", nil), 201, nil)
	if got, ok := v.e.ReadFile("/tmp/empty"); !ok || len(got) != 0 {
		t.Errorf("empty file: %q %v", got, ok)
	}
}

func TestUploadErrors(t *testing.T) {
	v := newEnv(t, Config{})
	v.e.WriteFile("/home/demo/file", []byte("x"))
	missing := map[string]string{"detail": "You must provide a file with the name 'content'."}
	want(t, v.sendForm("POST", v.filesURL("/home/demo/x"), url.Values{"content": {"not a file part"}}), 400, missing)
	want(t, v.do("POST", v.filesURL("/home/demo/x"), "", nil), 400, missing)
	want(t, v.upload("/home/demo", []byte("x")), 400, map[string]string{"detail": "/home/demo is a directory"})
	want(t, v.upload("/home/demo/file/below", []byte("x")), 400, map[string]string{"detail": "/home/demo/file is not a directory"})
	v.e.Mkdir("/home/demo/dir")
	want(t, v.upload("/home/demo/dir", []byte("x")), 400, map[string]string{"detail": "/home/demo/dir is a directory"})
	want(t, v.upload("/etc/passwd", []byte("x")), 403, map[string]string{"detail": "You do not have permission to write to this path."})
	want(t, v.upload("/home/other/x", []byte("x")), 403, nil)
	if v.e.Exists("/home/demo/x") || v.e.Exists("/etc/passwd") || v.e.Exists("/home/other") {
		t.Error("a refused upload changed the store")
	}
}

func TestUploadLarge(t *testing.T) {
	v := newEnv(t, Config{})
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	want(t, v.upload("/home/demo/big.bin", data), 201, nil)
	r := v.get(v.filesURL("/home/demo/big.bin"))
	if r.status != 200 || !bytes.Equal(r.body, data) {
		t.Fatalf("status %d, %d bytes back", r.status, len(r.body))
	}
}

func TestDeleteRecursiveAndErrors(t *testing.T) {
	v := newEnv(t, Config{})
	v.e.WriteFile("/home/demo/d/e/f.txt", []byte("x"))
	v.e.WriteFile("/home/demo/d/g.txt", []byte("x"))
	v.e.WriteFile("/home/demo/keep/k.txt", []byte("x"))
	want(t, v.del(v.filesURL("/home/demo/keep/k.txt")+"/"), 204, nil) // trailing slash tolerated
	if !v.e.IsDir("/home/demo/keep") {
		t.Error("deleting a file removed its parent")
	}
	r := v.del(v.filesURL("/home/demo/d"))
	want(t, r, 204, nil)
	if len(r.body) != 0 || v.e.Exists("/home/demo/d") {
		t.Error("recursive delete failed or 204 had a body")
	}
	forbidden := map[string]string{"message": "You do not have permission to delete this", "code": "forbidden"}
	want(t, v.del(v.filesURL("/home/demo")), 403, forbidden)
	want(t, v.del(v.api("files/path/")), 403, forbidden)
	notThere := map[string]string{"message": "File does not exist", "code": "not_found"}
	want(t, v.del(v.filesURL("/home/demo/nothing")), 404, notThere)
	v.e.WriteFile("/home/other/secret", []byte("x"))
	want(t, v.del(v.filesURL("/home/other")), 404, notThere)
	want(t, v.get(v.filesURL("/home/other/secret")), 404, nil)
	if _, ok := obj(t, v.get(v.filesURL("/home")))["other"]; ok {
		t.Error("another user's home is listed")
	}
}

func TestPathRoundTrip(t *testing.T) {
	v := newEnv(t, Config{})
	names := []string{"with space.txt", "hash#tag", "what?.txt", "100%", "%41", "ünïcødé 日本.txt", ".hidden",
		"..dots", "a+b=c&d", "semi;colon,", "quote'\"", "tab\tname", "~tilde", "dir with space"}
	for _, n := range names {
		p := "/home/demo/" + n + "/" + n
		want(t, v.upload(p, []byte(n)), 201, nil)
		if got, ok := v.e.ReadFile(p); !ok || string(got) != n {
			t.Fatalf("%q stored as %q (%v); files: %v", n, got, ok, v.e.Dirs("/home/demo"))
		}
		r := v.get(v.filesURL(p))
		if r.status != 200 || string(r.body) != n {
			t.Errorf("GET %q: %d %q", n, r.status, r.body)
		}
	}
	m := obj(t, v.get(v.filesURL("/home/demo")))
	for _, n := range names {
		e, ok := m[n].(map[string]any)
		if !ok || e["type"] != "directory" {
			t.Errorf("%q missing from listing %v", n, keys(m))
			continue
		}
		// The url must lead back to the same directory.
		u, _ := e["url"].(string)
		if r := v.get(u + "/" + url.PathEscape(n)); string(r.body) != n {
			t.Errorf("url %q of %q does not round-trip: %d %q", u, n, r.status, r.body)
		}
	}
}

func TestEncodedSlashRejected(t *testing.T) {
	v := newEnv(t, Config{})
	r := v.upload("/home/demo/x", []byte("x")) // sanity
	want(t, r, 201, nil)
	r = v.do("POST", v.api("files/path/home/demo/a%2Fb"), "", nil)
	want(t, r, 400, nil)
	if !strings.Contains(obj(t, r)["detail"].(string), `encoded "/"`) {
		t.Errorf("detail %s", r.body)
	}
	if v.e.Exists("/home/demo/a") {
		t.Error("%2F became a separator")
	}
	want(t, v.get(v.api("files/path/home/demo/bad%00name")), 400, nil)
	want(t, v.get(v.api("files/path/home/demo/%FF")), 400, nil)
}

func TestFilesRouteNeedsLeadingSlash(t *testing.T) {
	v := newEnv(t, Config{})
	for _, p := range []string{"files/pathhome/demo", "files/path"} {
		r := v.get(v.api(p))
		if r.status != 404 || !strings.Contains(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s, want an HTML 404", p, r.status, r.header.Get("Content-Type"))
		}
	}
}

func TestDotDotCannotEscape(t *testing.T) {
	v := newEnv(t, Config{})
	v.e.WriteFile("/home/demo/x", []byte("x"))
	want(t, v.get(v.api("files/path/home/demo/sub/../x")), 200, nil)
	want(t, v.get(v.api("files/path/../../home/demo/x")), 200, nil)
}

func TestTree(t *testing.T) {
	v := newEnv(t, Config{})
	for _, p := range []string{"README.txt", "foo/bar.txt", ".hidden", ".git/config", "foo/.env", "foo/sub/.cache/x"} {
		v.e.WriteFile("/home/demo/"+p, []byte("x"))
	}
	r := v.get(v.api("files/tree/?path=/home/demo/"))
	want(t, r, 200, []string{"/home/demo/README.txt", "/home/demo/foo/", "/home/demo/foo/bar.txt", "/home/demo/foo/sub/"})
	want(t, v.get(v.api("files/tree/?path=/home/demo/README.txt")), 400, map[string]string{"detail": "/home/demo/README.txt is not a directory"})
	want(t, v.get(v.api("files/tree/?path=/nope")), 400, map[string]string{"detail": "/nope does not exist"})
	want(t, v.get(v.api("files/tree/?path=/home/other")), 400, map[string]string{"detail": "/home/other does not exist"})
	want(t, v.get(v.api("files/tree/")), 400, map[string][]string{"path": {"This field is required."}})
}

func TestTreeCappedAt1000(t *testing.T) {
	v := newEnv(t, Config{})
	for i := range 1200 {
		v.e.WriteFile(fmt.Sprintf("/home/demo/many/f%04d", i), nil)
	}
	l := list(t, v.get(v.api("files/tree/?path="+url.QueryEscape("/home/demo"))))
	if len(l) != 1000 || l[0] != "/home/demo/many/" {
		t.Fatalf("%d entries, first %v", len(l), l[0])
	}
}

func TestSharing(t *testing.T) {
	v := newEnv(t, Config{})
	v.e.WriteFile("/home/demo/s.txt", []byte("x"))
	r := v.sendJSON("POST", v.api("files/sharing/"), map[string]string{"path": "/home/demo/s.txt"})
	want(t, r, 201, nil)
	u := obj(t, r)["url"].(string)
	if !strings.HasPrefix(u, "/user/demo/shares/") || !strings.HasSuffix(u, "/") {
		t.Errorf("share url %q", u)
	}
	want(t, v.sendForm("POST", v.api("files/sharing/"), url.Values{"path": {"/home/demo/s.txt"}}), 200, map[string]string{"url": u})
	want(t, v.get(v.api("files/sharing/?path=/home/demo/s.txt")), 200, map[string]string{"url": u})
	if v.e.Shares()["/home/demo/s.txt"] != u {
		t.Error("Shares hook")
	}
	want(t, v.del(v.api("files/sharing/?path=/home/demo/s.txt")), 204, nil)
	want(t, v.get(v.api("files/sharing/?path=/home/demo/s.txt")), 404, map[string]string{"detail": "Not found."})
	want(t, v.sendJSON("POST", v.api("files/sharing/"), map[string]string{}), 400, map[string][]string{"path": {"This field is required."}})
	want(t, v.sendJSON("POST", v.api("files/sharing/"), map[string]string{"path": "/home/demo/none"}), 404, nil)
}

func TestFileHooks(t *testing.T) {
	v := newEnv(t, Config{})
	v.e.WriteFile("/home/demo/a/b.txt", []byte("b"))
	v.e.WriteFile("/home/demo/a/c/d.txt", []byte("d"))
	if got := v.e.Files("/home/demo/a"); len(got) != 2 || string(got["/home/demo/a/c/d.txt"]) != "d" {
		t.Errorf("Files: %v", got)
	}
	if got := fmt.Sprint(v.e.Dirs("/home/demo")); got != "[/home/demo/a /home/demo/a/c]" {
		t.Errorf("Dirs: %s", got)
	}
	v.e.Remove("/home/demo/a")
	if v.e.Exists("/home/demo/a") {
		t.Error("Remove")
	}
	// Over HTTP.
	base := v.srv.URL + "/__emulator/files"
	req, _ := http.NewRequest("PUT", base+"/home/demo/h%20t.txt", strings.NewReader("hook"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("PUT hook: %v %v", err, resp)
	}
	resp.Body.Close()
	if got, _ := v.e.ReadFile("/home/demo/h t.txt"); string(got) != "hook" {
		t.Errorf("hook wrote %q", got)
	}
	v.token = ""
	want(t, v.get(base+"/home/demo"), 200, []string{"h t.txt"})
}
