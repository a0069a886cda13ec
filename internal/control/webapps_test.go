package control_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/control"
	"github.com/pafs/pafs/remote/emulator"
)

// webapps/D/: what the folder holds, the files' modes and the links.
func TestWebappFolder(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	e.addApp(appB, "b")
	if got := e.names("webapps"); !slices.Equal(got, []string{appA, appB}) {
		t.Errorf("ls webapps = %v", got)
	}
	d := "webapps/" + appA
	want := []string{"config.json", "enabled", "force_https", "logs", "password_protection_enabled",
		"password_protection_password", "password_protection_username", "python_version", "reload",
		"source_directory", "ssl", "static_files", "static_headers", "virtualenv_path", "working_directory", "wsgi.py"}
	if got := e.names(d); !slices.Equal(got, want) {
		t.Errorf("ls %s = %v\nwant %v", d, got, want)
	}
	for name, mode := range map[string]uint32{"config.json": 0o600, "password_protection_password": 0o600,
		"python_version": 0o644, "reload": 0o200, "ssl/info.json": 0o444, "ssl/install": 0o200} {
		if got := e.file(d + "/" + name).Mode(); got != mode {
			t.Errorf("%s mode %o, want %o", name, got, mode)
		}
	}
	for link, want := range map[string]string{
		"wsgi.py":         "../../files/var/www/alice_pythonanywhere_com_wsgi.py",
		"logs/error.log":  "../../../files/var/log/" + appA + ".error.log",
		"logs/access.log": "../../../files/var/log/" + appA + ".access.log",
	} {
		n, err := e.lookup(d + "/" + link)
		e.must("lookup "+link, err)
		if l, ok := n.(*control.Link); !ok || l.Target() != want {
			t.Errorf("%s: %T %v, want a link to %s", link, n, n, want)
		}
	}
	if got := e.cat(d + "/python_version"); got != "3.10\n" {
		t.Errorf("python_version = %q", got)
	}
	// Sizes come from the cache without a request.
	f := e.file(d + "/source_directory")
	before := e.counts()
	if f.Size(e.ctx, nil) != len("/home/alice/mysite\n") {
		t.Errorf("size %d", f.Size(e.ctx, nil))
	}
	if f.Mtime().IsZero() || e.dir(d).Mtime().IsZero() {
		t.Error("zero mtime")
	}
	if d := delta(before, e.counts()); len(d) != 0 {
		t.Errorf("a stat cost %v", d)
	}
	_, err := e.lookup(d + "/nothing")
	e.wantErrno("lookup of a missing name", err, syscall.ENOENT)
	_, err = e.lookup("webapps/nosuch.example.com")
	e.wantErrno("lookup of a missing app", err, syscall.ENOENT)
}

// Bad values are refused with EINVAL before any request that changes
// something; the file reads as before and the reason is in the status.
func TestWebappBadInput(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	d := "webapps/" + appA
	config := e.cat(d + "/config.json")
	before := e.changes()
	for file, value := range map[string]string{
		"enabled":                      "maybe\n",
		"force_https":                  "2\n",
		"python_version":               "3.99\n",
		"source_directory":             "relative/dir\n",
		"working_directory":            "\n",
		"virtualenv_path":              "venv\n",
		"password_protection_username": "two\nlines\n",
	} {
		e.wantErrno("write "+file, e.write(d+"/"+file, value), syscall.EINVAL)
	}
	for _, js := range []string{
		`{"python_version": "2.1", "force_https": true}`,
		`{"force_https": "perhaps"}`,
		`{"domain_name": "evil.example.com"}`,
		`{"pyhton_version": "3.11"}`,
		`{"force_https": [1]}`,
		`{"force_https": true`,
		`{not json`,
		`[1, 2]`,
		``,
	} {
		e.wantErrno("write config.json "+js, e.write(d+"/config.json", js+"\n"), syscall.EINVAL)
	}
	e.wantErrno("70000 bytes", e.write(d+"/config.json", strings.Repeat("x", 70000)), syscall.EFBIG)
	if got := delta(before, e.changes()); len(got) != 0 {
		t.Errorf("bad input sent %v", got)
	}
	if got := e.cat(d + "/config.json"); got != config {
		t.Errorf("config.json changed:\n%s", got)
	}
	for _, want := range []string{`"maybe" is not a boolean`, `"3.99" is not available`, "unknown member", "cannot change", "invalid JSON", "must be one line", "absolute path"} {
		if !strings.Contains(e.lastErrors(), want) {
			t.Errorf("status lacks %q:\n%s", want, e.lastErrors())
		}
	}
}

// config.json: the members a write changes go in one PATCH, members equal
// to the current value are not sent, read-only ones are ignored, enabled
// takes its own request.
func TestWebappConfigJSON(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	d := "webapps/" + appA
	config := e.cat(d + "/config.json")
	before := e.changes()
	e.must("rewrite unchanged", e.write(d+"/config.json", config))
	if got := delta(before, e.changes()); len(got) != 0 {
		t.Errorf("an unchanged config.json sent %v", got)
	}
	before = e.changes()
	w, _ := e.emu.Webapp(appA)
	e.must("write config.json", e.write(d+"/config.json",
		`{"id": `+strconv.Itoa(w.ID)+`, "domain_name": "`+appA+`", "user": "someone", "python_version": "3.11", "force_https": true, "enabled": false}`+"\n"))
	if got := delta(before, e.changes()); got["PATCH webapps/{domain}"] != 1 || got["POST webapps/{domain}/disable"] != 1 || len(got) != 2 {
		t.Errorf("config.json write sent %v", got)
	}
	w, _ = e.emu.Webapp(appA)
	if w.PythonVersion != "3.11" || !w.ForceHTTPS || w.Enabled {
		t.Errorf("server after config.json: %+v", w)
	}
	if got := e.cat(d + "/force_https"); got != "true\n" {
		t.Errorf("force_https reads %q", got)
	}
	// Enabling alone does not PATCH.
	before = e.changes()
	e.must("enable", e.write(d+"/config.json", `{"enabled": true}`))
	if got := delta(before, e.changes()); got["POST webapps/{domain}/enable"] != 1 || len(got) != 1 {
		t.Errorf("enabling sent %v", got)
	}
}

// mkdir creates a web app with the account's default Python 3; rmdir
// deletes it; other folders refuse.
func TestWebappMkdirRmdir(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	ent, err := e.dir("webapps").Mkdir(e.ctx, appB)
	e.must("mkdir", err)
	if ent.Name != appB || ent.Mode != syscall.S_IFDIR {
		t.Errorf("mkdir returned %+v", ent)
	}
	if w, ok := e.emu.Webapp(appB); !ok || w.PythonVersion != "3.10" {
		t.Errorf("created %+v %v", w, ok)
	}
	if got := e.cat("webapps/" + appB + "/python_version"); got != "3.10\n" {
		t.Errorf("new app's python_version %q", got)
	}
	_, err = e.dir("webapps").Mkdir(e.ctx, appB)
	if fe := e.lastErrors(); err == nil || !strings.Contains(fe, "mkdir webapps/"+appB) {
		t.Errorf("mkdir of an existing app: %v; status %s", err, fe)
	}
	_, err = e.dir("webapps/"+appA).Mkdir(e.ctx, "x")
	e.wantErrno("mkdir in an app", err, syscall.EPERM)
	e.must("rmdir", e.dir("webapps").Rmdir(e.ctx, appB))
	if _, ok := e.emu.Webapp(appB); ok {
		t.Error("rmdir left the app")
	}
	e.wantErrno("rmdir again", e.dir("webapps").Rmdir(e.ctx, appB), syscall.ENOENT)
	e.wantErrno("rmdir in an app", e.dir("webapps/"+appA).Rmdir(e.ctx, "logs"), syscall.EPERM)
	e.wantErrno("rm in an app", e.dir("webapps/"+appA).Unlink(e.ctx, "python_version"), syscall.EPERM)
}

// reload: a write, a touch (times without a handle) or an open for writing
// reloads once per open.
func TestWebappReload(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	d := "webapps/" + appA
	reloads := func() int { w, _ := e.emu.Webapp(appA); return w.Reloads }
	e.must("echo > reload", e.write(d+"/reload", "1\n"))
	if reloads() != 1 {
		t.Fatalf("%d reloads after one write", reloads())
	}
	// touch: open for writing, then a SETATTR of times without the handle.
	f := e.file(d + "/reload")
	h, err := f.Open(e.ctx, true, pid)
	e.must("open", err)
	now := time.Now()
	e.must("touch", f.Setattr(e.ctx, nil, pid, control.SetAttr{Atime: &now, Mtime: &now}))
	e.must("flush", h.Flush(e.ctx))
	h.Release()
	if reloads() != 2 {
		t.Errorf("%d reloads after a touch, want 2", reloads())
	}
	// An open for writing that nothing fires reloads at release.
	h, err = f.Open(e.ctx, true, pid)
	e.must("open", err)
	e.must("flush", h.Flush(e.ctx))
	h.Release()
	e.waitFor("a reload at release", func() bool { return reloads() == 3 })
	// Without any handle, a touch reloads on its own.
	e.must("touch", f.Setattr(e.ctx, nil, pid, control.SetAttr{Mtime: &now}))
	if reloads() != 4 {
		t.Errorf("%d reloads, want 4", reloads())
	}
	// Reading a trigger reads nothing.
	if got := e.cat(d + "/reload"); got != "" {
		t.Errorf("reload reads %q", got)
	}
	// A custom domain without a CNAME: reloaded, with a warning only.
	e.emu.AddWebapp(emulator.Webapp{DomainName: "www.custom.org", PythonVersion: "3.10", SourceDirectory: "/home/alice/c",
		Enabled: true, CNAMEError: true}, "")
	e.ctl = newControl(e)
	e.must("reload without CNAME", e.write("webapps/www.custom.org/reload", "x"))
	// An app deleted behind the mount's back.
	e.emu.Reset(false)
	f = e.file(d + "/reload")
	e.wantErrno("reload of a deleted app", f.Replace(e.ctx, nil), syscall.ENOENT)
}

// ssl/: info.json shows the certificate; install takes a PEM chain and key
// at close, or letsencrypt-auto-renew at once; anything else is EINVAL at
// the write.
func TestWebappSSL(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	e.addApp(appB, "b")
	if out := e.cat("webapps/" + appA + "/ssl/info.json"); !strings.Contains(out, "not_after") {
		t.Errorf("info.json of a pythonanywhere.com app: %s", out)
	}
	if out := e.cat("webapps/" + appB + "/ssl/info.json"); out != "{}\n" {
		t.Errorf("info.json without a certificate: %q", out)
	}
	install := "webapps/" + appB + "/ssl/install"
	e.must("letsencrypt", e.write(install, "letsencrypt-auto-renew\n"))
	if s, ok := e.emu.SSL(appB); !ok || s.CertType != "letsencrypt-auto-renew" {
		t.Errorf("after letsencrypt: %+v %v", s, ok)
	}
	cert, key := selfSigned(t, appB)
	// cat cert key > install: two writes, applied at close.
	f := e.file(install)
	h, err := f.Open(e.ctx, true, pid)
	e.must("open install", err)
	_, err = h.Write(e.ctx, cert, 0)
	e.must("write cert", err)
	_, err = h.Write(e.ctx, key, int64(len(cert)))
	e.must("write key", err)
	if s, _ := e.emu.SSL(appB); s.CertType != "letsencrypt-auto-renew" {
		t.Error("installed before close")
	}
	e.must("close", h.Flush(e.ctx))
	h.Release()
	if s, ok := e.emu.SSL(appB); !ok || s.CertType == "letsencrypt-auto-renew" || !strings.Contains(s.SubjectName, appB) {
		t.Errorf("after installing a certificate: %+v %v", s, ok)
	}
	if out := e.cat("webapps/" + appB + "/ssl/info.json"); !strings.Contains(out, appB) {
		t.Errorf("info.json after install: %s", out)
	}
	before := e.changes()
	e.wantErrno("a certificate without its key", e.write(install, string(cert)), syscall.EINVAL)
	e.wantErrno("garbage", e.write(install, "garbage\n"), syscall.EINVAL)
	e.wantErrno("two keys", e.write(install, string(cert)+string(key)+string(key)), syscall.EINVAL)
	e.wantErrno("a broken certificate", e.write(install, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"+string(key)), syscall.EINVAL)
	if got := delta(before, e.changes()); len(got) != 0 {
		t.Errorf("bad certificates sent %v", got)
	}
}

// selfSigned makes a certificate for domain and its key, as PEM.
func selfSigned(t *testing.T, domain string) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: domain},
		DNSNames: []string{domain}, NotBefore: time.Now(), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// static_files/ and static_headers/: create through new, latest, rmdir;
// each change reminds the user to reload.
func TestWebappStaticCreateDelete(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	d := "webapps/" + appA + "/static_files"
	if got := e.names(d); !slices.Equal(got, []string{"new"}) {
		t.Errorf("ls %s = %v", d, got)
	}
	if got := e.cat(d + "/new"); !strings.Contains(got, `"url": "/static/"`) {
		t.Errorf("new reads %q", got)
	}
	e.must("create", e.write(d+"/new", `{"url": "/media/", "path": "/home/alice/media"}`+"\n"))
	files := e.emu.StaticFiles(appA)
	if len(files) != 1 || files[0].URL != "/media/" {
		t.Fatalf("static files %+v", files)
	}
	id := strconv.Itoa(files[0].ID)
	n, err := e.lookup(d + "/latest")
	e.must("latest", err)
	if l, ok := n.(*control.Link); !ok || l.Target() != id {
		t.Errorf("latest: %v", n)
	}
	if got := e.cat(d + "/" + id + "/path"); got != "/home/alice/media\n" {
		t.Errorf("path reads %q", got)
	}
	if !strings.Contains(e.lastErrors(), "touch webapps/"+appA+"/reload") {
		t.Errorf("no reminder to reload: %s", e.lastErrors())
	}
	before := e.changes()
	e.wantErrno("missing path", e.write(d+"/new", `{"url": "/x/"}`), syscall.EINVAL)
	e.wantErrno("relative path", e.write(d+"/new", `{"url": "/x/", "path": "x"}`), syscall.EINVAL)
	e.wantErrno("unknown member", e.write(d+"/new", `{"url": "/x/", "path": "/x", "id": 3}`), syscall.EINVAL)
	if got := delta(before, e.changes()); len(got) != 0 {
		t.Errorf("bad input sent %v", got)
	}
	e.must("rmdir", e.dir(d).Rmdir(e.ctx, id))
	if got := e.emu.StaticFiles(appA); len(got) != 0 {
		t.Errorf("after rmdir: %+v", got)
	}
	h := "webapps/" + appA + "/static_headers"
	e.must("create header", e.write(h+"/new", `{"url": "/static/", "name": "X-A", "value": "1"}`))
	hs := e.emu.StaticHeaders(appA)
	if len(hs) != 1 || hs[0].Name != "X-A" {
		t.Fatalf("headers %+v", hs)
	}
	e.must("rmdir header", e.dir(h).Rmdir(e.ctx, strconv.Itoa(hs[0].ID)))
	if got := e.emu.StaticHeaders(appA); len(got) != 0 {
		t.Errorf("after rmdir: %+v", got)
	}
}
