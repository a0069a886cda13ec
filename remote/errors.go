package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"unicode/utf8"
)

// APIError is an error answer of the API: any non-2xx status after retries,
// and the 200 {"status": "ERROR"} answer of webapp creation (reported with
// Status 400).
type APIError struct {
	Method string
	// Endpoint is the API path after /api/v0/user/{u}/, unescaped, with the
	// query if any: "webapps/x.com/", "files/path/home/u/a b.txt". Never the
	// token.
	Endpoint string
	Status   int
	// Message is the most specific human text found in the body (see
	// parseErrorBody), or the status text when the body has none.
	Message string
	// Fields holds DRF field errors, {"field": ["msg", ...]}, when the body
	// has them; non_field_errors is kept under its own name.
	Fields map[string][]string
	// Code is the "code" member of files-API errors ("not_found",
	// "forbidden"), or error_type of a webapp creation error.
	Code string
	// Body is the raw body, trimmed and cut to a few hundred bytes.
	Body string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Endpoint, e.Status)
	text := http.StatusText(e.Status)
	if text != "" {
		b.WriteString(" " + text)
	}
	if e.Message != "" && e.Message != text {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

var (
	// ErrCNAME is wrapped by ReloadWebapp's error when the server answered
	// 409 cname_error: the reload happened, but the custom domain has no
	// CNAME pointing at PythonAnywhere. Callers may treat it as a warning.
	ErrCNAME = errors.New("web app reloaded, but its domain has no CNAME record pointing to PythonAnywhere")
	// ErrNotDir is returned by ListDir when the path is a file (the server
	// answered with file bytes instead of a JSON listing).
	ErrNotDir = errors.New("not a directory")
	// ErrInvalidPath is returned for file paths the API cannot address:
	// relative paths, "." or ".." segments, NUL bytes.
	ErrInvalidPath = errors.New("invalid file path")
	// ErrSourceShrank is wrapped by Upload's error when a seekable source
	// ended before the length it had when the attempt began (a file
	// truncated while it was being uploaded). The request announced that
	// length, so the client does not send it again: the caller should take
	// a new snapshot of its data and upload that.
	ErrSourceShrank = errors.New("upload source shrank while it was being sent")
	// ErrIncomplete is wrapped by a download body's read error when the
	// answer could not prove it was whole: no Content-Length and no chunked
	// framing, so the body ended when the connection closed, and a second
	// download of the file did not agree with it. Download again.
	ErrIncomplete = errors.New("download not proven complete")
)

// Errno maps an error of this package to the errno a file system should
// return for it. nil maps to 0.
func Errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var apiErr *APIError
	switch {
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, context.DeadlineExceeded):
		return syscall.ETIMEDOUT
	case errors.Is(err, ErrNotDir):
		return syscall.ENOTDIR
	case errors.Is(err, ErrInvalidPath):
		return syscall.EINVAL
	case errors.As(err, &apiErr):
		return statusErrno(apiErr.Status)
	}
	// Transport failures (refused, reset, EOF, timeouts), undecodable
	// answers and anything else: the remote side failed.
	return syscall.EIO
}

func statusErrno(status int) syscall.Errno {
	switch status {
	case http.StatusNotFound:
		return syscall.ENOENT
	case http.StatusForbidden, http.StatusUnauthorized:
		return syscall.EACCES
	case http.StatusBadRequest:
		return syscall.EINVAL
	case http.StatusConflict:
		return syscall.EEXIST
	case http.StatusPreconditionFailed:
		return syscall.EAGAIN
	case http.StatusRequestEntityTooLarge:
		return syscall.EFBIG
	}
	return syscall.EIO
}

// IsNotFound reports whether err is an API 404.
func IsNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status
	}
	return 0
}

const (
	maxMessage = 200  // runes kept of a raw-text message
	maxBody    = 1024 // runes kept in APIError.Body
)

// newAPIError builds the error for a non-2xx answer. body may be anything:
// JSON of any shape, HTML, plain text, empty, or invalid UTF-8.
func newAPIError(method, endpoint string, status int, contentType string, body []byte) *APIError {
	e := &APIError{Method: method, Endpoint: endpoint, Status: status}
	e.Body = truncate(strings.TrimSpace(strings.ToValidUTF8(string(body), "\uFFFD")), maxBody)
	parseErrorBody(e, contentType, body)
	// Raw JSON values are kept verbatim: a server's invalid UTF-8 must not
	// reach logs and status files.
	e.Message = strings.ToValidUTF8(e.Message, "\uFFFD")
	if e.Message == "" {
		e.Message = http.StatusText(status)
		if e.Message == "" {
			e.Message = fmt.Sprintf("HTTP %d", status)
		}
	}
	return e
}

// messageKeys are the members that carry the message, most specific first
// (the official client reads detail, message, error in that order).
var messageKeys = []string{"detail", "message", "error", "error_message"}

// parseErrorBody fills Message, Fields and Code from the body, trying in
// order: detail, message, error, error_message, non_field_errors[0], field
// lists, then the raw text.
func parseErrorBody(e *APIError, contentType string, body []byte) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil && obj != nil {
		parseErrorObject(e, obj)
		return
	}
	var list []string
	if json.Unmarshal(body, &list) == nil && len(list) > 0 {
		// DRF answers a bare list for ValidationError("...") raised in a view.
		e.Message = list[0]
		return
	}
	e.Message = rawMessage(contentType, body, e.Status)
}

func parseErrorObject(e *APIError, obj map[string]json.RawMessage) {
	e.Code = jsonText(obj["code"])
	if t := jsonText(obj["error_type"]); t != "" && e.Code == "" {
		e.Code = t
	}
	fields := map[string][]string{}
	for k, v := range obj {
		if slices.Contains(messageKeys, k) {
			continue
		}
		var msgs []string
		if json.Unmarshal(v, &msgs) == nil && len(msgs) > 0 {
			fields[k] = msgs
		}
	}
	if len(fields) > 0 {
		e.Fields = fields
	}
	for _, k := range messageKeys {
		if m := jsonText(obj[k]); m != "" {
			e.Message = m
			return
		}
	}
	if nfe := fields["non_field_errors"]; len(nfe) > 0 {
		e.Message = nfe[0]
		return
	}
	if len(fields) > 0 {
		e.Message = joinFields(fields)
		return
	}
	// A JSON object with no known member: show it compactly.
	if raw, err := json.Marshal(obj); err == nil {
		e.Message = truncate(string(raw), maxMessage)
	}
}

// joinFields renders field errors as "a: msg; b: msg1 msg2", sorted by field.
func joinFields(fields map[string][]string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+strings.Join(fields[k], " "))
	}
	return strings.Join(parts, "; ")
}

// jsonText returns a JSON string's value, or a compact rendering of any other
// non-null value ({"detail": ["x"]} gives "x"; numbers stay numbers).
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		return strings.Join(list, " ")
	}
	if string(raw) == "null" {
		return ""
	}
	return truncate(string(raw), maxMessage)
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// rawMessage reduces a non-JSON body to one short line: the <title> of an
// HTML page (or "HTTP 404" when it has none), or the trimmed text.
func rawMessage(contentType string, body []byte, status int) string {
	text := strings.TrimSpace(strings.ToValidUTF8(string(body), "\uFFFD"))
	if text == "" {
		return ""
	}
	lower := strings.ToLower(text[:min(len(text), 512)])
	if strings.Contains(contentType, "html") || strings.HasPrefix(lower, "<!doctype") ||
		strings.HasPrefix(lower, "<html") || strings.Contains(lower, "<head") {
		if m := titleRE.FindStringSubmatch(text); m != nil {
			if t := strings.Join(strings.Fields(html.UnescapeString(m[1])), " "); t != "" {
				return truncate(t, maxMessage)
			}
		}
		return fmt.Sprintf("HTTP %d", status)
	}
	return truncate(strings.Join(strings.Fields(text), " "), maxMessage)
}

// truncate cuts s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
