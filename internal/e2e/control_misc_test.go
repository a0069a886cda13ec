package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
)

// Consoles: a console that no browser opened answers 412, which is EAGAIN
// and a non-zero exit, with a message saying where to open it; once
// started, input arrives exactly as written and the output reads.
func TestControlConsoles(t *testing.T) {
	e := start(t)
	id := e.Emu.AddConsole("bash", "")
	d := "consoles/" + strconv.Itoa(id)
	if out := sh(t, e, "ls consoles"); out != strconv.Itoa(id)+"\nnew\nshared_with_you\n" {
		t.Errorf("ls consoles = %q", out)
	}
	if out := cat(t, e, d+"/info.json"); !strings.Contains(out, `"executable": "bash"`) {
		t.Errorf("info.json:\n%s", out)
	}
	// EAGAIN, as bash reports it. (Not through Go's os package: it takes
	// EAGAIN from a pollable descriptor as "would block" and retries.)
	out, code := e.Run(e.Dir, "bash", "-c", "echo ls > "+d+"/input")
	if code == 0 || !strings.Contains(out, "Resource temporarily unavailable") {
		t.Errorf("input to a console not started: exit %d %q, want EAGAIN", code, out)
	}
	if out := fails(t, e, "cat "+d+"/output"); !strings.Contains(out, "Resource temporarily unavailable") {
		t.Errorf("cat output of a console not started: %q", out)
	}
	if errs := lastErrors(e); !strings.Contains(errs, "browser") || !strings.Contains(errs, "/user/alice/consoles/"+strconv.Itoa(id)+"/") {
		t.Errorf("the status does not say to open the console in a browser:\n%s", errs)
	}
	e.Emu.StartConsole(id)
	before := e.Counts()
	sh(t, e, "echo 'ls' > "+d+"/input && printf 'echo  two  spaces' > "+d+"/input")
	equalCounts(t, "two inputs", only(mounttest.Delta(before, e.Counts()), "consoles"),
		map[string]int{"POST consoles/{id}/send_input": 2})
	if got := e.Emu.ConsoleInput(id); got != "ls\necho  two  spaces" {
		t.Errorf("the console got %q", got)
	}
	e.Emu.AppendConsoleOutput(id, "\r\nREADY\r\n")
	if out := cat(t, e, d+"/output"); !strings.Contains(out, "ls") || !strings.Contains(out, "READY") {
		t.Errorf("output reads %q", out)
	}
	// Create, learn the id, kill.
	sh(t, e, `echo '{"executable": "python3.10"}' > consoles/new`)
	nid := strings.TrimSpace(sh(t, e, "readlink consoles/latest"))
	if out := cat(t, e, "consoles/latest/info.json"); !strings.Contains(out, `"executable": "python3.10"`) {
		t.Errorf("the new console: %s", out)
	}
	fails(t, e, `echo '{"shell": "zsh"}' > consoles/new`)
	sh(t, e, "rmdir consoles/"+nid+" "+d)
	if n := len(e.Emu.Consoles()); n != 0 {
		t.Errorf("%d consoles after rmdir", n)
	}
	// Shared consoles are listed, not ours to kill.
	sid := strconv.Itoa(e.Emu.AddSharedConsole("bob", "bash"))
	if out := sh(t, e, "ls consoles/shared_with_you && cat consoles/shared_with_you/"+sid+"/info.json"); !strings.Contains(out, `"user": "bob"`) {
		t.Errorf("shared console: %q", out)
	}
	fails(t, e, "rmdir consoles/shared_with_you/"+sid)
	if n := len(e.Emu.Consoles()); n != 1 {
		t.Errorf("the shared console is gone")
	}
}

// account/: cpu.json, the default Python versions and the system image,
// with .available lists; bad choices fail. students/: ls and rm.
func TestControlAccountAndStudents(t *testing.T) {
	e := start(t)
	var cpu map[string]any
	if err := json.Unmarshal([]byte(cat(t, e, "account/cpu.json")), &cpu); err != nil || cpu["daily_cpu_limit_seconds"] != 4000.0 {
		t.Errorf("cpu.json: %v %v", cpu, err)
	}
	if out := sh(t, e, "cd account && cat python3_version python_version save_and_run_python_version system_image"); out != "3.10\n3.10\n3.10\ninnit\n" {
		t.Errorf("settings read %q", out)
	}
	if out := cat(t, e, "account/python3_version.available"); out != "3.8\n3.9\n3.10\n3.11\n3.12\n3.13\n" {
		t.Errorf("python3_version.available = %q", out)
	}
	if out := cat(t, e, "account/system_image.available"); out != "glastonbury\nhaggis\ninnit\n" {
		t.Errorf("system_image.available = %q", out)
	}
	sh(t, e, "echo 3.11 > account/python3_version && echo python3.12 > account/save_and_run_python_version && echo haggis > account/system_image")
	a := e.Emu.Account()
	if a.DefaultPython3Version != "3.11" || a.DefaultSaveAndRunPythonVersion != "3.12" || a.SystemImage != "haggis" {
		t.Errorf("account after writes: %+v", a)
	}
	before := e.Counts()
	fails(t, e, "echo 2.1 > account/python_version")
	fails(t, e, "echo bogus > account/system_image")
	equalCounts(t, "refused settings", only(mounttest.Delta(before, e.Counts()), "default", "system"), map[string]int{})
	if out := sh(t, e, "cat account/python_version account/system_image"); out != "3.10\nhaggis\n" {
		t.Errorf("after refused writes: %q", out)
	}
	// A web app made now gets the new default.
	sh(t, e, "mkdir webapps/"+appB)
	if w := webapp(t, e, appB); w.PythonVersion != "3.11" {
		t.Errorf("new web app got Python %s, want the new default 3.11", w.PythonVersion)
	}

	e.Emu.AddStudent("bob")
	e.Emu.AddStudent("carol")
	if out := sh(t, e, "ls students"); out != "bob\ncarol\n" {
		t.Errorf("ls students = %q", out)
	}
	sh(t, e, "rm students/bob")
	if got := e.Emu.Students(); !slices.Equal(got, []string{"carol"}) {
		t.Errorf("students after rm: %v", got)
	}
	fails(t, e, "rm students/nobody")
	fails(t, e, "touch students/dave")
	if out := sh(t, e, "ls students"); out != "carol\n" {
		t.Errorf("ls students after rm = %q", out)
	}
}

// Static files and headers: one folder per mapping, create through new,
// edit fields, rmdir; each change reminds the user to reload.
func TestControlStaticMappings(t *testing.T) {
	e := start(t)
	addApp(e, appA, "mysite")
	sid := strconv.Itoa(e.Emu.AddStaticFile(appA, "/static/", "/home/alice/mysite/static"))
	d := "webapps/" + appA
	before := e.Counts()
	sh(t, e, "ls "+d) // listing the app lists no mappings
	equalCounts(t, "ls of the app", only(mounttest.Delta(before, e.Counts()), "webapps/{domain}/static"), map[string]int{})
	if out := sh(t, e, "ls "+d+"/static_files && cat "+d+"/static_files/"+sid+"/url "+d+"/static_files/"+sid+"/path"); out != sid+"\nnew\n/static/\n/home/alice/mysite/static\n" {
		t.Errorf("static files read %q", out)
	}
	sh(t, e, "echo /assets/ > "+d+"/static_files/"+sid+"/url")
	if got := e.Emu.StaticFiles(appA); len(got) != 1 || got[0].URL != "/assets/" {
		t.Errorf("static files on the server: %+v", got)
	}
	if st := e.Status(); len(st.Notices) == 0 || !strings.Contains(st.Notices[len(st.Notices)-1].Message, "touch webapps/"+appA+"/reload") {
		t.Errorf("no reminder to reload among the status's notices: %+v", st.Notices)
	}
	sh(t, e, `echo '{"url": "/media/", "path": "/home/alice/media"}' > `+d+"/static_files/new")
	nid := strings.TrimSpace(sh(t, e, "readlink "+d+"/static_files/latest"))
	if out := cat(t, e, d+"/static_files/"+nid+"/path"); out != "/home/alice/media\n" {
		t.Errorf("new mapping path %q", out)
	}
	fails(t, e, `echo '{"url": "/x/"}' > `+d+"/static_files/new")
	fails(t, e, "echo relative > "+d+"/static_files/"+nid+"/path")
	sh(t, e, "rmdir "+d+"/static_files/"+sid)
	if got := e.Emu.StaticFiles(appA); len(got) != 1 || strconv.Itoa(got[0].ID) != nid {
		t.Errorf("after rmdir: %+v", got)
	}
	// Headers.
	sh(t, e, `echo '{"url": "/static/", "name": "Cache-Control", "value": "max-age=60"}' > `+d+"/static_headers/new")
	hid := strings.TrimSpace(sh(t, e, "readlink "+d+"/static_headers/latest"))
	sh(t, e, "echo max-age=3600 > "+d+"/static_headers/"+hid+"/value")
	if got := e.Emu.StaticHeaders(appA); len(got) != 1 || got[0].Value != "max-age=3600" || got[0].Name != "Cache-Control" {
		t.Errorf("headers on the server: %+v", got)
	}
	sh(t, e, "touch "+d+"/reload")
	if webapp(t, e, appA).Reloads != 1 {
		t.Error("touch reload did not reload")
	}
}

// ssl/: info.json shows the certificate; install takes a PEM chain and key
// (cat cert key > install: applied at close) or letsencrypt-auto-renew.
func TestControlSSL(t *testing.T) {
	e := start(t)
	addApp(e, appA, "mysite")
	addApp(e, appB, "b")
	if out := cat(t, e, "webapps/"+appA+"/ssl/info.json"); !strings.Contains(out, "not_after") {
		t.Errorf("info.json of a pythonanywhere.com app: %s", out)
	}
	if out := cat(t, e, "webapps/"+appB+"/ssl/info.json"); out != "{}\n" {
		t.Errorf("info.json without a certificate: %q", out)
	}
	sh(t, e, "echo letsencrypt-auto-renew > webapps/"+appB+"/ssl/install")
	if s, ok := e.Emu.SSL(appB); !ok || s.CertType != "letsencrypt-auto-renew" {
		t.Errorf("after letsencrypt: %+v %v", s, ok)
	}
	certFile, keyFile := selfSigned(t, appB)
	sh(t, e, "cat "+certFile+" "+keyFile+" > webapps/"+appB+"/ssl/install")
	if s, ok := e.Emu.SSL(appB); !ok || !strings.Contains(s.SubjectName, appB) {
		t.Errorf("after installing a certificate: %+v %v", s, ok)
	}
	if out := cat(t, e, "webapps/"+appB+"/ssl/info.json"); !strings.Contains(out, appB) {
		t.Errorf("info.json after install: %s", out)
	}
	fails(t, e, "cat "+certFile+" > webapps/"+appB+"/ssl/install") // no key
	fails(t, e, "echo garbage > webapps/"+appB+"/ssl/install")
}

// selfSigned writes a certificate for domain and its key to two PEM files.
func selfSigned(t *testing.T, domain string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: domain},
		DNSNames: []string{domain}, NotBefore: time.Now(), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c, k := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeLocal(t, c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeLocal(t, k, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))
	return c, k
}
