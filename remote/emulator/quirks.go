package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Quirks are behaviours the real server has, or may have, that the emulator
// does not show by default: either pafs does not cope with them yet, or the real
// server's choice is unknown and tests must cover both. The zero value is the
// default behaviour. docs/emulator.md describes each.
type Quirks struct {
	// ReloadTime, CreateTime and SSLTime are how long POST webapps/{d}/reload/,
	// POST webapps/ and POST webapps/{d}/ssl/ take (a real reload pings the app
	// with its own 20 s timeout). The action is carried out at the end of the
	// wait even if the client has hung up meanwhile, as the real server finishes
	// what it started; Stats.Abandoned counts such requests.
	ReloadTime time.Duration
	CreateTime time.Duration
	SSLTime    time.Duration

	// AcceptNullHourOnHourly takes an "hour" of null (or empty) sent for
	// an hourly task, which is otherwise refused with 400
	// {"non_field_errors": ["Hourly tasks must not have an hour."]}, as any
	// hour is. The official clients never send one; whether the real
	// server accepts "hour": null is unverified, so the default refuses it.
	AcceptNullHourOnHourly bool

	// OmitFields leaves fields out of the objects the API returns, named
	// "kind.field" with kind one of webapp, schedule, always_on, static_file,
	// static_header, console ("webapp.enabled": no source shows that field in a
	// real body). Unknown names do nothing.
	OmitFields []string

	// WriteAnswer replaces the 2xx JSON answer of POST, PUT and PATCH (the
	// action still happens) in WriteAnswerFamilies, or, when that is empty, in
	// every family except files/*.
	WriteAnswer         WriteAnswer
	WriteAnswerFamilies []string

	// RateScope is how coarsely the rate limit counts; see RateScope.
	RateScope RateScope

	// MaxUpload is the largest request body accepted, in bytes; 0 means the
	// package's MaxUpload. Bigger requests get the front proxy's 413 HTML page
	// before they reach the API: no authentication, no rate-limit budget used.
	MaxUpload int64
}

// WriteAnswer is what a POST/PUT/PATCH answers in place of the object.
type WriteAnswer string

const (
	AnswerObject   WriteAnswer = ""       // the full object (default)
	AnswerStatusOK WriteAnswer = "status" // {"status": "OK"}, same status code
	AnswerEmpty    WriteAnswer = "empty"  // 200 with an empty body, as Django's bare HttpResponse()
)

// RateScope is what one rate-limit budget covers.
type RateScope string

const (
	ScopeFamily RateScope = ""     // one budget per endpoint family (default; the client's assumption)
	ScopeKind   RateScope = "kind" // one per first path segment: all files/*, all webapps/*, ...
	ScopeAPI    RateScope = "api"  // one for the whole API
)

func (q Quirks) clone() Quirks {
	q.OmitFields = slices.Clone(q.OmitFields)
	q.WriteAnswerFamilies = slices.Clone(q.WriteAnswerFamilies)
	return q
}

// check refuses values New would silently treat as the default.
func (q Quirks) check() error {
	switch {
	case q.WriteAnswer != AnswerObject && q.WriteAnswer != AnswerStatusOK && q.WriteAnswer != AnswerEmpty:
		return fmt.Errorf("write answer %q: want \"\", %q or %q", q.WriteAnswer, AnswerStatusOK, AnswerEmpty)
	case q.RateScope != ScopeFamily && q.RateScope != ScopeKind && q.RateScope != ScopeAPI:
		return fmt.Errorf("rate scope %q: want \"\", %q or %q", q.RateScope, ScopeKind, ScopeAPI)
	case q.MaxUpload < 0 || q.ReloadTime < 0 || q.CreateTime < 0 || q.SSLTime < 0:
		return fmt.Errorf("sizes and durations must not be negative")
	}
	return nil
}

// Quirks returns the quirks in force.
func (e *Emulator) Quirks() Quirks {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	return e.quirks.clone()
}

// quirk returns the quirks in force without copying their slices: SetQuirks
// stores copies that nothing modifies, so readers may share them.
func (e *Emulator) quirk() Quirks {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	return e.quirks
}

// SetQuirks replaces the quirks. A change of RateScope empties every
// rate-limit window.
func (e *Emulator) SetQuirks(q Quirks) {
	e.qmu.Lock()
	e.quirks = q.clone()
	e.qmu.Unlock()
	e.limiter.setScope(q.RateScope)
}

// maxUpload is the request-body limit in force.
func (e *Emulator) maxUpload() int64 {
	if n := e.quirk().MaxUpload; n > 0 {
		return n
	}
	return MaxUpload
}

// entityTooLarge is nginx's answer to a body over client_max_body_size: an HTML
// page, and the connection is closed.
func entityTooLarge() response {
	r := htmlResponse(http.StatusRequestEntityTooLarge, "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n"+
		"<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
	r.ctype = "text/html"
	r.header = http.Header{"Connection": {"close"}}
	return r
}

// render returns v (an object or a list of objects of kind) without the fields
// OmitFields names for kind.
func (e *Emulator) render(kind string, v any) any {
	var omit []string
	for _, f := range e.quirk().OmitFields {
		if k, field, ok := strings.Cut(f, "."); ok && k == kind {
			omit = append(omit, field)
		}
	}
	if len(omit) == 0 {
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // ids stay integers
	var out any
	if dec.Decode(&out) != nil {
		return v
	}
	strip := func(x any) {
		if m, ok := x.(map[string]any); ok {
			for _, f := range omit {
				delete(m, f)
			}
		}
	}
	if l, ok := out.([]any); ok {
		for _, x := range l {
			strip(x)
		}
	} else {
		strip(out)
	}
	return out
}

// writeAnswer applies WriteAnswer to a view's answer.
func (e *Emulator) writeAnswer(c *call, family string, resp response) response {
	switch c.r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return resp
	}
	if resp.status/100 != 2 || !resp.isJSON {
		return resp
	}
	q := e.quirk()
	if len(q.WriteAnswerFamilies) == 0 && strings.HasPrefix(family, "files/") ||
		len(q.WriteAnswerFamilies) > 0 && !slices.Contains(q.WriteAnswerFamilies, family) {
		return resp
	}
	switch q.WriteAnswer {
	case AnswerEmpty:
		return response{status: http.StatusOK, ctype: "text/html; charset=utf-8"}
	case AnswerStatusOK:
		r := statusOK()
		r.status = resp.status
		return r
	}
	return resp // AnswerObject, or a value check refuses
}

// isPut reports a full update: DRF's serializer runs with partial=False, so the
// fields a create requires are required (the others keep their values).
func isPut(c *call) bool { return c.r.Method == http.MethodPut }

// finishAnyway waits d without watching the client: the real server completes a
// slow action after its caller has hung up, and so must the emulator, so tests
// can see the action happen although the client gave up.
func finishAnyway(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}

// quirksJSON is Quirks in hook bodies.
type quirksJSON struct {
	ReloadTime          jsonDuration `json:"reload_time"`
	CreateTime          jsonDuration `json:"create_time"`
	SSLTime             jsonDuration `json:"ssl_time"`
	AcceptNullHour      bool         `json:"accept_null_hour_on_hourly"`
	OmitFields          []string     `json:"omit_fields"`
	WriteAnswer         WriteAnswer  `json:"write_answer"`
	WriteAnswerFamilies []string     `json:"write_answer_families"`
	RateScope           RateScope    `json:"rate_scope"`
	MaxUpload           int64        `json:"max_upload"`
}

func toQuirksJSON(q Quirks) quirksJSON {
	return quirksJSON{jsonDuration(q.ReloadTime), jsonDuration(q.CreateTime), jsonDuration(q.SSLTime),
		q.AcceptNullHourOnHourly, q.OmitFields, q.WriteAnswer, q.WriteAnswerFamilies, q.RateScope, q.MaxUpload}
}

func (j quirksJSON) quirks() Quirks {
	return Quirks{time.Duration(j.ReloadTime), time.Duration(j.CreateTime), time.Duration(j.SSLTime),
		j.AcceptNullHour, j.OmitFields, j.WriteAnswer, j.WriteAnswerFamilies, j.RateScope, j.MaxUpload}
}

// hookQuirks sets the quirks (GET, PUT, PATCH as for the faults).
func (e *Emulator) hookQuirks(w http.ResponseWriter, r *http.Request) {
	hookSettings(w, r, func() quirksJSON { return toQuirksJSON(e.Quirks()) },
		func(j quirksJSON) (quirksJSON, error) {
			q := j.quirks()
			if err := q.check(); err != nil {
				return j, err
			}
			e.SetQuirks(q)
			return toQuirksJSON(e.Quirks()), nil
		})
}
