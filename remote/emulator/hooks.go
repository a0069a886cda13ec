package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The HTTP test hooks live under /__emulator/, outside the API URL space. They
// need no token, are never throttled or faulted, and are not counted in Stats.
// docs/emulator.md lists them; hookIndex is the same list for curl users.
const hookIndex = `pafs emulator test hooks (no auth; not counted in stats)
GET        /__emulator/stats                     counters (JSON)
POST       /__emulator/stats/reset               zero the counters
GET        /__emulator/state                     every object of the account (JSON)
POST       /__emulator/reset[?demo=1]            empty the account (reload the demo data)
POST       /__emulator/consoles/{id}/start       start a console (412 until then)
POST       /__emulator/consoles/{id}/output      append the request body to its output
GET        /__emulator/consoles/{id}/output      its current output (text)
GET        /__emulator/consoles/{id}/input       everything sent to it (text)
GET|PUT|PATCH /__emulator/faults                 fault injection settings (JSON)
GET|PUT    /__emulator/latency                   {"latency": "50ms"}
GET|PUT    /__emulator/ratelimit                 {"limit": 40, "window": "1m"} (limit < 0: off)
GET|PUT|PATCH /__emulator/quirks                 real-server quirks (JSON; see docs/emulator.md)
GET|PUT|DELETE /__emulator/files/{path}          a file behind the client's back (GET of a directory lists it)
`

func (e *Emulator) serveHook(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), hookPrefix)
	name, sub, _ := strings.Cut(rest, "/")
	switch name {
	case "":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, hookIndex)
	case "stats":
		e.hookStats(w, r, sub)
	case "state":
		hookOnly(w, r, http.MethodGet, func() { writeHookJSON(w, http.StatusOK, e.Snapshot()) })
	case "reset":
		hookOnly(w, r, http.MethodPost, func() {
			e.Reset(r.URL.Query().Get("demo") == "1" || r.URL.Query().Get("demo") == "true")
			w.WriteHeader(http.StatusNoContent)
		})
	case "consoles":
		e.hookConsole(w, r, sub)
	case "faults":
		e.hookFaults(w, r)
	case "latency":
		e.hookLatency(w, r)
	case "ratelimit":
		e.hookRateLimit(w, r)
	case "quirks":
		e.hookQuirks(w, r)
	case "files":
		e.hookFiles(w, r, "/"+sub)
	default:
		hookError(w, http.StatusNotFound, "no such hook; GET /__emulator/ lists them")
	}
}

func writeHookJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error": "encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func hookError(w http.ResponseWriter, status int, msg string) {
	writeHookJSON(w, status, map[string]string{"error": msg})
}

// hookOnly runs fn if the request uses method, else answers 405.
func hookOnly(w http.ResponseWriter, r *http.Request, method string, fn func()) {
	if r.Method != method {
		hookError(w, http.StatusMethodNotAllowed, "use "+method)
		return
	}
	fn()
}

func (e *Emulator) hookStats(w http.ResponseWriter, r *http.Request, sub string) {
	switch {
	case sub == "" && r.Method == http.MethodGet:
		writeHookJSON(w, http.StatusOK, e.Stats())
	case sub == "reset" && (r.Method == http.MethodPost || r.Method == http.MethodDelete):
		e.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	default:
		hookError(w, http.StatusMethodNotAllowed, "use GET /__emulator/stats or POST /__emulator/stats/reset")
	}
}

func (e *Emulator) hookConsole(w http.ResponseWriter, r *http.Request, sub string) {
	idStr, action, _ := strings.Cut(sub, "/")
	id, err := strconv.Atoi(idStr)
	if err != nil || !e.consoleExists(id) {
		hookError(w, http.StatusNotFound, "no such console")
		return
	}
	switch {
	case action == "start" && r.Method == http.MethodPost:
		e.StartConsole(id)
		w.WriteHeader(http.StatusNoContent)
	case action == "output" && r.Method == http.MethodPost:
		b, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody))
		if err != nil {
			hookError(w, http.StatusBadRequest, err.Error())
			return
		}
		e.AppendConsoleOutput(id, string(b))
		w.WriteHeader(http.StatusNoContent)
	case (action == "output" || action == "input") && r.Method == http.MethodGet:
		text := e.ConsoleInput(id)
		if action == "output" {
			text = e.ConsoleOutput(id)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, text)
	default:
		hookError(w, http.StatusNotFound, "console hooks: POST start, POST output, GET output, GET input")
	}
}

func (e *Emulator) consoleExists(id int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.consoles[id] != nil
}

// jsonDuration is a duration in hook bodies: a Go duration string ("150ms") or a
// number of seconds.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		*d = jsonDuration(v)
		return err
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil || secs < 0 || secs > 1e9 {
		return fmt.Errorf("duration must be a string like \"150ms\" or a number of seconds")
	}
	*d = jsonDuration(secs * float64(time.Second))
	return nil
}

// faultsJSON is Faults in hook bodies.
type faultsJSON struct {
	Seed          int64        `json:"seed"`
	ErrorRate     float64      `json:"error_rate"`
	DropRate      float64      `json:"drop_rate"`
	SlowBodyRate  float64      `json:"slow_body_rate"`
	SlowBodyDelay jsonDuration `json:"slow_body_delay"`
	MalformedRate float64      `json:"malformed_rate"`
	SpikeRate     float64      `json:"spike_rate"`
	Spike         jsonDuration `json:"spike"`
	ThrottleStorm bool         `json:"throttle_storm"`
}

func toFaultsJSON(f Faults) faultsJSON {
	return faultsJSON{f.Seed, f.ErrorRate, f.DropRate, f.SlowBodyRate, jsonDuration(f.SlowBodyDelay),
		f.MalformedRate, f.SpikeRate, jsonDuration(f.Spike), f.ThrottleStorm}
}

func (j faultsJSON) faults() (Faults, error) {
	for _, r := range []float64{j.ErrorRate, j.DropRate, j.SlowBodyRate, j.MalformedRate, j.SpikeRate} {
		if math.IsNaN(r) || r < 0 || r > 1 {
			return Faults{}, errors.New("rates must be between 0 and 1")
		}
	}
	return Faults{j.Seed, j.ErrorRate, j.DropRate, j.SlowBodyRate, time.Duration(j.SlowBodyDelay),
		j.MalformedRate, j.SpikeRate, time.Duration(j.Spike), j.ThrottleStorm}, nil
}

// hookSettings serves a settings hook: GET shows cur(), PUT replaces the
// settings (missing fields are zero), PATCH changes only the fields sent. apply
// checks and installs them, and returns what is now in force.
func hookSettings[J any](w http.ResponseWriter, r *http.Request, cur func() J, apply func(J) (J, error)) {
	var j J
	switch r.Method {
	case http.MethodGet:
		writeHookJSON(w, http.StatusOK, cur())
		return
	case http.MethodPatch:
		j = cur()
	case http.MethodPut:
	default:
		hookError(w, http.StatusMethodNotAllowed, "use GET, PUT or PATCH")
		return
	}
	if !decodeHookBody(w, r, &j) {
		return
	}
	got, err := apply(j)
	if err != nil {
		hookError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeHookJSON(w, http.StatusOK, got)
}

// hookFaults sets the faults; any change reseeds the RNG.
func (e *Emulator) hookFaults(w http.ResponseWriter, r *http.Request) {
	hookSettings(w, r, func() faultsJSON { return toFaultsJSON(e.CurrentFaults()) },
		func(j faultsJSON) (faultsJSON, error) {
			f, err := j.faults()
			if err != nil {
				return j, err
			}
			e.SetFaults(f)
			return toFaultsJSON(f), nil
		})
}

func decodeHookBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, maxFormBody)).Decode(v); err != nil {
		hookError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return false
	}
	return true
}

func (e *Emulator) hookLatency(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Latency jsonDuration `json:"latency"`
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut, http.MethodPost:
		if !decodeHookBody(w, r, &body) {
			return
		}
		e.SetLatency(time.Duration(body.Latency))
	default:
		hookError(w, http.StatusMethodNotAllowed, "use GET or PUT")
		return
	}
	_, lat := e.faults.get()
	body.Latency = jsonDuration(lat)
	writeHookJSON(w, http.StatusOK, body)
}

func (e *Emulator) hookRateLimit(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Limit  int          `json:"limit"`
		Window jsonDuration `json:"window"`
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut, http.MethodPost:
		if !decodeHookBody(w, r, &body) {
			return
		}
		e.SetRateLimit(body.Limit, time.Duration(body.Window))
	default:
		hookError(w, http.StatusMethodNotAllowed, "use GET or PUT")
		return
	}
	limit, window := e.RateLimit()
	body.Limit, body.Window = limit, jsonDuration(window)
	writeHookJSON(w, http.StatusOK, body)
}

// hookFiles reads, writes and deletes files with no permission checks. rawPath is
// escaped, like a files/path URL.
func (e *Emulator) hookFiles(w http.ResponseWriter, r *http.Request, rawPath string) {
	parts, bad := decodeFilePath(rawPath)
	if bad != nil {
		hookError(w, http.StatusBadRequest, string(bad.body))
		return
	}
	p := joinPath(parts)
	switch r.Method {
	case http.MethodGet:
		e.hookReadFile(w, p)
	case http.MethodPut, http.MethodPost:
		data, err := io.ReadAll(io.LimitReader(r.Body, MaxUpload))
		if err != nil {
			hookError(w, http.StatusBadRequest, err.Error())
			return
		}
		e.WriteFile(p, data)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		e.Remove(p)
		w.WriteHeader(http.StatusNoContent)
	default:
		hookError(w, http.StatusMethodNotAllowed, "use GET, PUT or DELETE")
	}
}

// hookReadFile sends a file's bytes, or a directory's entry names (directories
// with a trailing "/").
func (e *Emulator) hookReadFile(w http.ResponseWriter, p string) {
	e.mu.Lock()
	n := e.lookupLocked(splitPath(p))
	if n == nil {
		e.mu.Unlock()
		hookError(w, http.StatusNotFound, "no such file or directory: "+p)
		return
	}
	if !n.isDir() {
		data := n.data
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		_, _ = w.Write(data)
		return
	}
	names := sortedNames(n)
	for i, name := range names {
		if n.children[name].isDir() {
			names[i] += "/"
		}
	}
	e.mu.Unlock()
	writeHookJSON(w, http.StatusOK, names)
}
