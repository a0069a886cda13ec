package emulator

import (
	"net/http"
	"net/url"
	"strings"
)

// handlerFunc serves one method of one route.
type handlerFunc func(e *Emulator, c *call) response

// methods maps an HTTP method to its handler.
type methods map[string]handlerFunc

// route is one API view. Its pattern, joined with "/", is also its endpoint family:
// the rate-limit scope and the stats key. "{id}" matches a decimal integer (Django's
// <int:...>), any other "{...}" matches one non-empty segment.
type route struct {
	pattern []string
	methods methods
}

func (rt route) family() string { return strings.Join(rt.pattern, "/") }

// target is what a request URL resolved to.
type target struct {
	family   string // familyUnmatched when no route matched
	user     string // the {username} of the URL, decoded
	methods  methods
	args     []string
	redirect string // set when only the slashed URL matches
	rawFile  string // files/path only: the escaped file path
}

const filesFamily = "files/path"

var filesMethods = methods{
	http.MethodGet:    (*Emulator).filesGet,
	http.MethodPost:   (*Emulator).filesPost,
	http.MethodDelete: (*Emulator).filesDelete,
}

// routes lists every API view except files/path, which is matched by prefix.
var routes = []route{
	{p("files/tree"), methods{"GET": (*Emulator).treeGet}},
	{p("files/sharing"), methods{"GET": (*Emulator).shareGet, "POST": (*Emulator).sharePost, "DELETE": (*Emulator).shareDelete}},
	{p("consoles"), methods{"GET": (*Emulator).consoleList, "POST": (*Emulator).consoleCreate}},
	{p("consoles/shared_with_you"), methods{"GET": (*Emulator).consoleSharedList}},
	{p("consoles/{id}"), methods{"GET": (*Emulator).consoleGet, "DELETE": (*Emulator).consoleDelete}},
	{p("consoles/{id}/get_latest_output"), methods{"GET": (*Emulator).consoleOutput}},
	{p("consoles/{id}/send_input"), methods{"POST": (*Emulator).consoleInput}},
	{p("always_on"), methods{"GET": (*Emulator).alwaysOnList, "POST": (*Emulator).alwaysOnCreate}},
	{p("always_on/{id}"), methods{"GET": (*Emulator).alwaysOnGet, "PUT": (*Emulator).alwaysOnUpdate,
		"PATCH": (*Emulator).alwaysOnUpdate, "DELETE": (*Emulator).alwaysOnDelete}},
	{p("always_on/{id}/restart"), methods{"POST": (*Emulator).alwaysOnRestart}},
	{p("schedule"), methods{"GET": (*Emulator).scheduleList, "POST": (*Emulator).scheduleCreate}},
	{p("schedule/{id}"), methods{"GET": (*Emulator).scheduleGet, "PUT": (*Emulator).scheduleUpdate,
		"PATCH": (*Emulator).scheduleUpdate, "DELETE": (*Emulator).scheduleDelete}},
	{p("webapps"), methods{"GET": (*Emulator).webappList, "POST": (*Emulator).webappCreate}},
	{p("webapps/{domain}"), methods{"GET": (*Emulator).webappGet, "PUT": (*Emulator).webappUpdate,
		"PATCH": (*Emulator).webappUpdate, "DELETE": (*Emulator).webappDelete}},
	{p("webapps/{domain}/reload"), methods{"POST": (*Emulator).webappReload}},
	{p("webapps/{domain}/enable"), methods{"POST": (*Emulator).webappEnable}},
	{p("webapps/{domain}/disable"), methods{"POST": (*Emulator).webappDisable}},
	{p("webapps/{domain}/ssl"), methods{"GET": (*Emulator).sslGet, "POST": (*Emulator).sslPost, "DELETE": (*Emulator).sslDelete}},
	{p("webapps/{domain}/static_files"), methods{"GET": (*Emulator).staticFileList, "POST": (*Emulator).staticFileCreate}},
	{p("webapps/{domain}/static_files/{id}"), methods{"GET": (*Emulator).staticFileGet, "PUT": (*Emulator).staticFileUpdate,
		"PATCH": (*Emulator).staticFileUpdate, "DELETE": (*Emulator).staticFileDelete}},
	{p("webapps/{domain}/static_headers"), methods{"GET": (*Emulator).staticHeaderList, "POST": (*Emulator).staticHeaderCreate}},
	{p("webapps/{domain}/static_headers/{id}"), methods{"GET": (*Emulator).staticHeaderGet, "PUT": (*Emulator).staticHeaderUpdate,
		"PATCH": (*Emulator).staticHeaderUpdate, "DELETE": (*Emulator).staticHeaderDelete}},
	{p("cpu"), methods{"GET": (*Emulator).cpuGet}},
	{p("default_python3_version"), versionMethods(python3Setting)},
	{p("default_python_version"), versionMethods(pythonSetting)},
	{p("default_save_and_run_python_version"), versionMethods(saveAndRunSetting)},
	{p("system_image"), versionMethods(systemImageSetting)},
	{p("students"), methods{"GET": (*Emulator).studentList}},
	{p("students/{name}"), methods{"DELETE": (*Emulator).studentDelete}},
	{p("user_perms/schedule"), methods{"GET": (*Emulator).schedulePerms}},
}

func p(s string) []string { return strings.Split(s, "/") }

// Families returns every endpoint family the emulator serves, files/path first.
func Families() []string {
	out := []string{filesFamily}
	for _, rt := range routes {
		out = append(out, rt.family())
	}
	return out
}

// resolve maps the request URL to a route. It works on the escaped path so that
// an encoded "/" (%2F) inside a segment is never mistaken for a separator.
func (e *Emulator) resolve(r *http.Request) target {
	none := target{family: familyUnmatched}
	esc := r.URL.EscapedPath()
	if !strings.HasPrefix(esc, apiPrefix) {
		return none
	}
	rest := esc[len(apiPrefix):]
	i := strings.IndexByte(rest, '/')
	if i <= 0 {
		return none
	}
	user, err := url.PathUnescape(rest[:i])
	if err != nil {
		return none
	}
	api := rest[i+1:]
	// files/path is a prefix route: everything after it is the file path. A path
	// not starting with "/" ("files/pathfoo") matches nothing, as on the server.
	if strings.HasPrefix(api, filesFamily+"/") {
		return target{family: filesFamily, user: user, methods: filesMethods, rawFile: api[len(filesFamily):]}
	}
	if strings.HasSuffix(api, "/") {
		if rt, args, ok := match(strings.TrimSuffix(api, "/")); ok {
			return target{family: rt.family(), user: user, methods: rt.methods, args: args}
		}
		return none
	}
	// Django's APPEND_SLASH: redirect when only the slashed URL exists.
	if rt, _, ok := match(api); ok {
		loc := esc + "/"
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		return target{family: rt.family(), user: user, redirect: loc}
	}
	return none
}

// match finds the route for an escaped API path without its trailing slash.
func match(api string) (route, []string, bool) {
	raw := strings.Split(api, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		d, err := url.PathUnescape(s)
		if err != nil || d == "" || strings.ContainsAny(d, "/\x00") {
			return route{}, nil, false
		}
		segs[i] = d
	}
	for _, rt := range routes {
		if args, ok := matchPattern(rt.pattern, segs); ok {
			return rt, args, true
		}
	}
	return route{}, nil, false
}

func matchPattern(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var args []string
	for i, ps := range pattern {
		s := segs[i]
		switch {
		case ps == "{id}":
			if !isDecimal(s) {
				return nil, false
			}
			args = append(args, s)
		case strings.HasPrefix(ps, "{"):
			args = append(args, s)
		case ps != s:
			return nil, false
		}
	}
	return args, true
}

// isDecimal reports whether s is a run of ASCII digits short enough for an int.
func isDecimal(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
