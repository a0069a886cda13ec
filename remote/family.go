package remote

import (
	"strings"
)

// Family maps an API path (the part after /api/v0/user/{u}/, e.g.
// "files/path/home/u/x.py" or "webapps/u.pythonanywhere.com/reload/") to the
// endpoint family the server throttles it under. The server's limit is per
// view, so all methods on a family and all file paths share one budget:
// "files/path" for every file, "webapps/{domain}" for every domain, and
// "consoles/{id}" for every id. The emulator uses the same names as its
// rate-limit scopes and stats keys.
//
// A leading "/api/v0/user/{u}/" and a query string are tolerated. Paths that
// match no known endpoint keep their own shape with numeric segments
// replaced by {id}, so that they still get a stable family of their own.
func Family(apiPath string) string {
	p, _, _ := strings.Cut(apiPath, "?")
	p = strings.TrimPrefix(p, "/")
	if rest, ok := strings.CutPrefix(p, "api/v0/user/"); ok {
		if _, after, ok := strings.Cut(rest, "/"); ok {
			p = after
		}
	}
	if rest, ok := strings.CutPrefix(p, "files/"); ok {
		// Everything under files/path is one view, whatever the file path
		// (which may itself contain any segment names).
		for _, f := range []string{"path", "tree", "sharing"} {
			if rest == f || strings.HasPrefix(rest, f+"/") {
				return "files/" + f
			}
		}
	}
	segs := splitSegments(p)
	if len(segs) == 0 {
		return ""
	}
	if f, ok := knownFamily(segs); ok {
		return f
	}
	for i, s := range segs {
		if isNumeric(s) {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// knownFamily matches the documented endpoints (docs/api.md).
func knownFamily(segs []string) (string, bool) {
	head, n := segs[0], len(segs)
	switch head {
	case "consoles":
		switch {
		case n == 1:
			return "consoles", true
		case n == 2 && segs[1] == "shared_with_you":
			return "consoles/shared_with_you", true
		case n == 2:
			return "consoles/{id}", true
		case n == 3 && (segs[2] == "get_latest_output" || segs[2] == "send_input"):
			return "consoles/{id}/" + segs[2], true
		}
	case "always_on":
		switch {
		case n == 1:
			return "always_on", true
		case n == 2:
			return "always_on/{id}", true
		case n == 3 && segs[2] == "restart":
			return "always_on/{id}/restart", true
		}
	case "schedule":
		switch n {
		case 1:
			return "schedule", true
		case 2:
			return "schedule/{id}", true
		}
	case "webapps":
		return webappFamily(segs)
	case "students":
		switch n {
		case 1:
			return "students", true
		case 2:
			return "students/{name}", true
		}
	case "cpu", "default_python3_version", "default_python_version",
		"default_save_and_run_python_version", "system_image":
		if n == 1 {
			return head, true
		}
	case "user_perms":
		if n == 2 && segs[1] == "schedule" {
			return "user_perms/schedule", true
		}
	}
	return "", false
}

func webappFamily(segs []string) (string, bool) {
	switch n := len(segs); {
	case n == 1:
		return "webapps", true
	case n == 2:
		return "webapps/{domain}", true
	case n == 3:
		switch segs[2] {
		case "reload", "enable", "disable", "ssl", "static_files", "static_headers":
			return "webapps/{domain}/" + segs[2], true
		}
	case n == 4 && (segs[2] == "static_files" || segs[2] == "static_headers"):
		return "webapps/{domain}/" + segs[2] + "/{id}", true
	}
	return "", false
}

// splitSegments splits a slash-separated path, dropping empty segments.
func splitSegments(p string) []string {
	var segs []string
	for s := range strings.SplitSeq(p, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
