package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// maxFormBody bounds non-file request bodies (Django refuses big ones too).
const maxFormBody = 10 << 20

// fields is a parsed request body. Values are string (form, multipart), or what
// encoding/json produces with UseNumber (string, json.Number, bool, nil, ...).
type fields map[string]any

// parseBody reads the body the way DRF's JSON, form and multipart parsers do.
// Without a Content-Type, or with an empty body, the data is empty (as in DRF).
func parseBody(r *http.Request) (fields, *response) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody+1))
	if err != nil {
		resp := detail(http.StatusBadRequest, "Could not read the request body.")
		return nil, &resp
	}
	if len(raw) > maxFormBody {
		resp := detail(http.StatusBadRequest, "Request body too large.")
		return nil, &resp
	}
	ct := r.Header.Get("Content-Type")
	if len(raw) == 0 || ct == "" {
		return fields{}, nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		return nil, unsupported(ct)
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return parseJSON(raw)
	case mt == "application/x-www-form-urlencoded":
		vals, _ := url.ParseQuery(string(raw)) // lenient, like Django's QueryDict
		return fromValues(vals), nil
	case mt == "multipart/form-data":
		return parseMultipartFields(raw, params["boundary"])
	}
	return nil, unsupported(mt)
}

func unsupported(mt string) *response {
	resp := detail(http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request.", mt))
	return &resp
}

func parseJSON(raw []byte) (fields, *response) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, tokErr := dec.Token(); tokErr != io.EOF {
			err = errors.New("extra data after the JSON value")
		}
	}
	if err != nil {
		resp := detail(http.StatusBadRequest, "JSON parse error - "+err.Error())
		return nil, &resp
	}
	obj, ok := v.(map[string]any)
	if !ok {
		resp := nonFieldError("Invalid data. Expected a dictionary, but got " + pyType(v) + ".")
		return nil, &resp
	}
	return fields(obj), nil
}

// pyType names a JSON value's type the way DRF's message does.
func pyType(v any) string {
	switch v := v.(type) {
	case []any:
		return "list"
	case string:
		return "str"
	case bool:
		return "bool"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "int"
		}
		return "float"
	}
	return "NoneType"
}

func parseMultipartFields(raw []byte, boundary string) (fields, *response) {
	if boundary == "" {
		resp := detail(http.StatusBadRequest, "Multipart form parse error - Invalid boundary in multipart: None")
		return nil, &resp
	}
	req := &http.Request{Method: http.MethodPost, Header: http.Header{
		"Content-Type": {"multipart/form-data; boundary=" + boundary}}, Body: io.NopCloser(bytes.NewReader(raw))}
	if err := req.ParseMultipartForm(maxFormBody); err != nil {
		resp := detail(http.StatusBadRequest, "Multipart form parse error - "+err.Error())
		return nil, &resp
	}
	return fromValues(req.MultipartForm.Value), nil
}

// fromValues keeps the last value of repeated keys, as QueryDict.get does.
func fromValues(vals map[string][]string) fields {
	f := fields{}
	for k, v := range vals {
		if len(v) > 0 {
			f[k] = v[len(v)-1]
		}
	}
	return f
}

// validator applies DRF field rules to a body and collects the errors.
type validator struct {
	f    fields
	errs map[string][]string
}

func newValidator(f fields) *validator { return &validator{f: f, errs: map[string][]string{}} }

func (v *validator) fail(key, msg string) { v.errs[key] = append(v.errs[key], msg) }

// result is nil when every field was valid, else the 400 with all field errors.
func (v *validator) result() *response {
	if len(v.errs) == 0 {
		return nil
	}
	r := fieldErrors(v.errs)
	return &r
}

// get returns the raw value; missing reports "This field is required." if required.
func (v *validator) get(key string, required bool) (any, bool) {
	val, ok := v.f[key]
	if !ok && required {
		v.fail(key, msgRequired)
	}
	return val, ok
}

// str is a CharField: strings and numbers are accepted, nothing else.
func (v *validator) str(key string, required, allowBlank bool) (string, bool) {
	raw, ok := v.get(key, required)
	if !ok {
		return "", false
	}
	var s string
	switch x := raw.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	case nil:
		v.fail(key, msgNull)
		return "", false
	default:
		v.fail(key, msgString)
		return "", false
	}
	if !allowBlank && strings.TrimSpace(s) == "" {
		v.fail(key, msgBlank)
		return "", false
	}
	return s, true
}

// boolean is a BooleanField: true/false, "True"/"False", "1"/"0", "yes"/"no", "on"/"off".
func (v *validator) boolean(key string) (bool, bool) {
	raw, ok := v.get(key, false)
	if !ok {
		return false, false
	}
	b, valid := parseBool(raw)
	if !valid {
		v.fail(key, msgBool)
		return false, false
	}
	return b, true
}

func parseBool(raw any) (b, ok bool) {
	switch x := raw.(type) {
	case bool:
		return x, true
	case json.Number:
		raw = x.String()
	}
	s, isStr := raw.(string)
	if !isStr {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "t", "1", "yes", "y", "on":
		return true, true
	case "false", "f", "0", "no", "n", "off":
		return false, true
	}
	return false, false
}

// reDecimal strips a ".0" tail, as DRF's IntegerField does before int().
var reDecimal = regexp.MustCompile(`\.0*\s*$`)

// integer is an IntegerField with bounds. A nullable field takes null and "" as nil.
func (v *validator) integer(key string, lo, hi int, required, nullable bool) (val *int, present bool) {
	raw, ok := v.get(key, required)
	if !ok {
		return nil, false
	}
	if raw == nil || (nullable && raw == "") {
		if !nullable {
			v.fail(key, msgNull)
			return nil, false
		}
		return nil, true
	}
	var s string
	switch x := raw.(type) {
	case string:
		s = strings.TrimSpace(x)
	case json.Number:
		s = x.String()
	default:
		v.fail(key, msgInt)
		return nil, false
	}
	n, err := strconv.Atoi(reDecimal.ReplaceAllString(s, ""))
	switch {
	case err != nil:
		v.fail(key, msgInt)
	case n < lo:
		v.fail(key, fmt.Sprintf("Ensure this value is greater than or equal to %d.", lo))
	case n > hi:
		v.fail(key, fmt.Sprintf("Ensure this value is less than or equal to %d.", hi))
	default:
		return &n, true
	}
	return nil, false
}

// choice is a ChoiceField over choices.
func (v *validator) choice(key string, choices []string, required bool) (string, bool) {
	s, ok := v.str(key, required, true)
	if !ok {
		return "", false
	}
	for _, c := range choices {
		if s == c {
			return s, true
		}
	}
	v.fail(key, msgChoice(s))
	return "", false
}
