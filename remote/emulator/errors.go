package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// response is a complete answer, built by a handler and written by Emulator.write
// (which is where slow bodies and malformed JSON are injected).
type response struct {
	status int
	header http.Header // extra headers, may be nil
	ctype  string      // Content-Type; empty for none
	body   []byte
	isJSON bool // body is JSON, so it may be garbled by MalformedRate
}

// jsonResponse renders v compactly and without HTML escaping, like DRF's
// JSONRenderer (UNICODE_JSON=True, COMPACT_JSON=True).
func jsonResponse(status int, v any) response {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return serverError(http.StatusInternalServerError)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return response{status: status, ctype: "application/json", body: body, isJSON: true}
}

// detail is DRF's default error body: {"detail": msg}.
func detail(status int, msg string) response {
	return jsonResponse(status, map[string]string{"detail": msg})
}

func notFound() response { return detail(http.StatusNotFound, "Not found.") }

func permissionDenied() response {
	return detail(http.StatusForbidden, "You do not have permission to perform this action.")
}

func unauthorized(msg string) response {
	r := detail(http.StatusUnauthorized, msg)
	r.header = http.Header{"Www-Authenticate": {"Token"}}
	return r
}

// fieldErrors is a DRF serializer error: {"field": ["message", ...]}.
func fieldErrors(errs map[string][]string) response {
	return jsonResponse(http.StatusBadRequest, errs)
}

func fieldError(field, msg string) response {
	return fieldErrors(map[string][]string{field: {msg}})
}

func nonFieldError(msg string) response { return fieldError("non_field_errors", msg) }

func statusOK() response { return jsonResponse(http.StatusOK, map[string]string{"status": "OK"}) }

func noContent() response { return response{status: http.StatusNoContent} }

// DRF's field messages, reused by the validators in body.go.
const (
	msgRequired = "This field is required."
	msgBlank    = "This field may not be blank."
	msgNull     = "This field may not be null."
	msgString   = "Not a valid string."
	msgBool     = "Must be a valid boolean."
	msgInt      = "A valid integer is required."
)

func msgChoice(v string) string { return strconv.Quote(v) + " is not a valid choice." }

// throttled is DRF's Throttled exception: the wait is rounded up to whole seconds,
// at least 1, and DRF picks the singular for 1.
func throttled(wait time.Duration) response {
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	r := detail(http.StatusTooManyRequests,
		fmt.Sprintf("Request was throttled. Expected available in %d %s.", secs, unit))
	r.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
	return r
}

func methodNotAllowed(method string, m methods) response {
	r := detail(http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", method))
	r.header = http.Header{"Allow": {allowList(m)}}
	return r
}

// optionsResponse is a minimal version of DRF's OPTIONS metadata.
func optionsResponse(m methods) response {
	r := jsonResponse(http.StatusOK, map[string]any{
		"renders": []string{"application/json"},
		"parses":  []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"},
	})
	r.header = http.Header{"Allow": {allowList(m)}}
	return r
}

func allowList(m methods) string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	if m[http.MethodGet] != nil {
		names = append(names, http.MethodHead)
	}
	return strings.Join(append(names, http.MethodOptions), ", ")
}

// djangoNotFound is the production Django 404 page for a URL that matches no route.
func djangoNotFound() response {
	return htmlResponse(http.StatusNotFound,
		"<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n"+
			"<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n")
}

func redirectTo(loc string) response {
	return response{status: http.StatusMovedPermanently, header: http.Header{"Location": {loc}},
		ctype: "text/html; charset=utf-8"}
}

// serverError is an injected failure: Django's bare 500 page, or the 503 a load
// balancer sends. Neither is JSON, which exercises the client's liberal parsing.
func serverError(status int) response {
	if status == http.StatusServiceUnavailable {
		return htmlResponse(status, "<html><body><h1>503 Service Unavailable</h1>\n"+
			"No server is available to handle this request.\n</body></html>\n")
	}
	return htmlResponse(http.StatusInternalServerError, "\n<!doctype html>\n<html lang=\"en\">\n<head>\n"+
		"  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n")
}

func htmlResponse(status int, body string) response {
	return response{status: status, ctype: "text/html; charset=utf-8", body: []byte(body)}
}
