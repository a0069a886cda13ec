package emulator

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Webapp is a classic WSGI web app as the API sends it. Enabled is read
// defensively by clients (no source shows it in a real body); the emulator sends
// it unless Quirks.OmitFields names "webapp.enabled".
type Webapp struct {
	ID                         int    `json:"id"`
	User                       string `json:"user"`
	DomainName                 string `json:"domain_name"`
	PythonVersion              string `json:"python_version"` // "3.10" form
	SourceDirectory            string `json:"source_directory"`
	WorkingDirectory           string `json:"working_directory"`
	VirtualenvPath             string `json:"virtualenv_path"` // "" when unset, never null
	Expiry                     string `json:"expiry"`          // "YYYY-MM-DD"
	ForceHTTPS                 bool   `json:"force_https"`
	PasswordProtectionEnabled  bool   `json:"password_protection_enabled"`
	PasswordProtectionUsername string `json:"password_protection_username"`
	PasswordProtectionPassword string `json:"password_protection_password"`
	Enabled                    bool   `json:"enabled"`

	// Reloads counts POSTs to reload/.
	Reloads int `json:"-"`
	// CNAMEError makes reload answer 409 {"status": "error", "error":
	// "cname_error"} after reloading, as for a custom domain without a CNAME.
	CNAMEError bool `json:"-"`
}

type webappState struct {
	app     Webapp
	files   map[int]*StaticFile
	headers map[int]*StaticHeader
	ssl     *SSLInfo // an installed certificate; nil: none
}

// WSGIPath is where the web app's WSGI file lives: dots become underscores and
// the name is lowercased.
func WSGIPath(domain string) string {
	return "/var/www/" + strings.ToLower(strings.ReplaceAll(domain, ".", "_")) + "_wsgi.py"
}

// LogPaths are the access, error and server logs of a web app.
func LogPaths(domain string) []string {
	return []string{"/var/log/" + domain + ".access.log", "/var/log/" + domain + ".error.log",
		"/var/log/" + domain + ".server.log"}
}

var reDomain = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)

const defaultWSGI = `# This file contains the WSGI configuration required to serve up your
# web application at http://%s/
# It works by setting the variable 'application' to a WSGI handler of some
# description.

HELLO_WORLD = b"""<html><head><title>PythonAnywhere hosted web application</title></head>
<body><h1>Hello, World!</h1><p>This is the default welcome page for a
PythonAnywhere hosted web application.</p></body></html>"""


def application(environ, start_response):
    status = '200 OK'
    content = HELLO_WORLD
    response_headers = [('Content-Type', 'text/html'), ('Content-Length', str(len(content)))]
    start_response(status, response_headers)
    yield content
`

// addWebappLocked stores w under a fresh id and creates its WSGI file (wsgi, or a
// hello-world one when empty) and its three log files, leaving existing files alone.
func (e *Emulator) addWebappLocked(w Webapp, wsgi string) *webappState {
	w.ID = e.newIDLocked("webapp")
	w.User = e.user
	st := &webappState{app: w, files: map[int]*StaticFile{}, headers: map[int]*StaticHeader{}}
	e.webapps[w.DomainName] = st
	if wsgi == "" {
		wsgi = fmt.Sprintf(defaultWSGI, w.DomainName)
	}
	now := time.Now()
	for i, p := range append([]string{WSGIPath(w.DomainName)}, LogPaths(w.DomainName)...) {
		if e.lookupLocked(splitPath(p)) != nil {
			continue
		}
		data := []byte{}
		if i == 0 {
			data = []byte(wsgi)
		}
		_, _ = e.putFileLocked(splitPath(p), data, now, true)
	}
	return st
}

func (e *Emulator) webappsLocked() []Webapp {
	out := []Webapp{}
	for _, st := range e.webapps {
		out = append(out, st.app)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (e *Emulator) webappList(*call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	return jsonResponse(http.StatusOK, e.render("webapp", e.webappsLocked()))
}

// createError is the non-DRF error body of webapp creation.
func createError(errType, msg string) response {
	return jsonResponse(http.StatusBadRequest, map[string]string{
		"status": "ERROR", "error_type": errType, "error_message": msg})
}

// webappCreate takes the python version as "python310"; "3.10" is refused. With
// Quirks.CreateTime, a request that passes the checks takes that long, and the
// app is created at the end even if the client has gone.
func (e *Emulator) webappCreate(c *call) response {
	f, bad := parseBody(c.r)
	if bad != nil {
		return *bad
	}
	v := newValidator(f)
	domain, _ := v.str("domain_name", true, false)
	pv, _ := v.str("python_version", true, false)
	if bad := v.result(); bad != nil {
		return *bad
	}
	if d := e.quirk().CreateTime; d > 0 {
		if resp := e.createWebapp(domain, pv, false); resp.status != http.StatusCreated {
			return resp
		}
		finishAnyway(d)
	}
	return e.createWebapp(domain, pv, true)
}

// createWebapp checks a create request against the account and, with commit,
// creates the app.
func (e *Emulator) createWebapp(domain, pv string, commit bool) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	version, ok := strings.CutPrefix(pv, "python3")
	version = "3." + version
	switch {
	case !ok || !isDecimal(version[2:]) || !slices.Contains(e.account.AvailablePython3Versions, version):
		return fieldError("python_version", msgChoice(pv))
	case !reDomain.MatchString(domain):
		return createError("invalid_domain", fmt.Sprintf("%q is not a valid domain name", domain))
	case e.webapps[domain] != nil:
		return createError("domain_taken", "You already have a web app with the domain name "+domain)
	case e.webappLimit > 0 && len(e.webapps) >= e.webappLimit:
		return jsonResponse(http.StatusBadRequest, map[string]string{"error_message": fmt.Sprintf(
			"You cannot create any more webapps - your account only allows %d", e.webappLimit)})
	}
	if commit {
		home := "/home/" + e.user + "/"
		e.addWebappLocked(Webapp{DomainName: domain, PythonVersion: version, SourceDirectory: home,
			WorkingDirectory: home, Expiry: time.Now().AddDate(0, 3, 0).Format(time.DateOnly), Enabled: true}, "")
	}
	r := statusOK()
	r.status = http.StatusCreated
	return r
}

// webappLocked finds the web app named by the URL; the caller holds e.mu.
func (e *Emulator) webappLocked(c *call) *webappState { return e.webapps[c.args[0]] }

func (e *Emulator) webappGet(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st := e.webappLocked(c); st != nil {
		return jsonResponse(http.StatusOK, e.render("webapp", st.app))
	}
	return notFound()
}

// webappFields validates the writable fields onto w. Unknown fields (domain_name,
// enabled, id, ...) are ignored, as DRF ignores read-only ones.
func webappFields(f fields, w *Webapp, versions []string) *response {
	if raw, ok := f["virtualenv_path"]; ok && raw == nil {
		f["virtualenv_path"] = "" // clearing the virtualenv
	}
	v := newValidator(f)
	if s, ok := v.choice("python_version", versions, false); ok {
		w.PythonVersion = s
	}
	for key, dst := range map[string]*string{"source_directory": &w.SourceDirectory,
		"working_directory": &w.WorkingDirectory, "virtualenv_path": &w.VirtualenvPath,
		"password_protection_username": &w.PasswordProtectionUsername,
		"password_protection_password": &w.PasswordProtectionPassword} {
		if s, ok := v.str(key, false, true); ok {
			*dst = s
		}
	}
	if b, ok := v.boolean("force_https"); ok {
		w.ForceHTTPS = b
	}
	if b, ok := v.boolean("password_protection_enabled"); ok {
		w.PasswordProtectionEnabled = b
	}
	return v.result()
}

// webappUpdate serves PUT and PATCH alike; nothing changes on error.
func (e *Emulator) webappUpdate(c *call) response {
	f, bad := parseBody(c.r)
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.webappLocked(c)
	switch {
	case st == nil:
		return notFound()
	case bad != nil:
		return *bad
	}
	updated := st.app
	if bad := webappFields(f, &updated, e.account.AvailablePython3Versions); bad != nil {
		return *bad
	}
	st.app = updated
	return jsonResponse(http.StatusOK, e.render("webapp", st.app))
}

// webappDelete removes the app and its mappings; its code, WSGI file and logs stay.
func (e *Emulator) webappDelete(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.webappLocked(c)
	if st == nil {
		return notFound()
	}
	delete(e.webapps, st.app.DomainName)
	return noContent()
}

// webappAction runs fn on the app named by the URL and answers {"status": "OK"}.
func (e *Emulator) webappAction(c *call, fn func(w *Webapp)) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.webappLocked(c)
	if st == nil {
		return notFound()
	}
	fn(&st.app)
	return statusOK()
}

// webappExists reports whether the app named by the URL exists.
func (e *Emulator) webappExists(c *call) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.webappLocked(c) != nil
}

// webappReload counts a reload. With Quirks.ReloadTime it takes that long and
// the reload is counted at the end even if the client has gone.
func (e *Emulator) webappReload(c *call) response {
	if d := e.quirk().ReloadTime; d > 0 {
		if !e.webappExists(c) {
			return notFound()
		}
		finishAnyway(d)
	}
	cname := false
	resp := e.webappAction(c, func(w *Webapp) { w.Reloads++; cname = w.CNAMEError })
	if cname && resp.status == http.StatusOK {
		return jsonResponse(http.StatusConflict, map[string]string{"status": "error", "error": "cname_error"})
	}
	return resp
}

func (e *Emulator) webappEnable(c *call) response {
	return e.webappAction(c, func(w *Webapp) { w.Enabled = true })
}

func (e *Emulator) webappDisable(c *call) response {
	return e.webappAction(c, func(w *Webapp) { w.Enabled = false })
}

// AddWebapp stores a web app as if created (ID and User are filled in) and creates
// its WSGI file with wsgi as content (a hello-world app when empty) and its logs.
// An app with the same domain is replaced.
func (e *Emulator) AddWebapp(w Webapp, wsgi string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addWebappLocked(w, wsgi)
}

// Webapps returns every web app by id, with Enabled and Reloads.
func (e *Emulator) Webapps() []Webapp {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.webappsLocked()
}

// Webapp returns one web app.
func (e *Emulator) Webapp(domain string) (Webapp, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st := e.webapps[domain]; st != nil {
		return st.app, true
	}
	return Webapp{}, false
}

// SetWebappLimit sets how many web apps POST webapps/ allows (0: unlimited).
func (e *Emulator) SetWebappLimit(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.webappLimit = n
}
