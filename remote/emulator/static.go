package emulator

import (
	"net/http"
	"sort"
	"strconv"
)

// StaticFile is a static files mapping of a web app. url is not validated by the
// server (a live test stored a random hex string), and neither is it here.
type StaticFile struct {
	ID   int    `json:"id"`
	URL  string `json:"url"`
	Path string `json:"path"`
}

// StaticHeader is a static header mapping of a web app.
type StaticHeader struct {
	ID    int    `json:"id"`
	URL   string `json:"url"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// staticSpec describes one of the two mapping resources, so both share one set of
// CRUD handlers.
type staticSpec[T any] struct {
	kind  string // id sequence, and the kind in Quirks.OmitFields
	table func(st *webappState) map[int]*T
	// ptrs exposes the id and the string fields (all required on create).
	ptrs func(t *T) (id *int, fields map[string]*string)
}

var fileSpec = staticSpec[StaticFile]{
	kind:  "static_file",
	table: func(st *webappState) map[int]*StaticFile { return st.files },
	ptrs: func(t *StaticFile) (*int, map[string]*string) {
		return &t.ID, map[string]*string{"url": &t.URL, "path": &t.Path}
	},
}

var headerSpec = staticSpec[StaticHeader]{
	kind:  "static_header",
	table: func(st *webappState) map[int]*StaticHeader { return st.headers },
	ptrs: func(t *StaticHeader) (*int, map[string]*string) {
		return &t.ID, map[string]*string{"url": &t.URL, "name": &t.Name, "value": &t.Value}
	},
}

func (s staticSpec[T]) sorted(st *webappState) []T {
	out := []T{}
	for _, t := range s.table(st) {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := s.ptrs(&out[i])
		b, _ := s.ptrs(&out[j])
		return *a < *b
	})
	return out
}

// apply validates the body onto t; on create every field is required. Strings are
// stored exactly as sent (blank is allowed for none of them).
func (s staticSpec[T]) apply(f fields, t *T, create bool) *response {
	v := newValidator(f)
	_, ptrs := s.ptrs(t)
	for key, dst := range ptrs {
		if val, ok := v.str(key, create, false); ok {
			*dst = val
		}
	}
	return v.result()
}

func (s staticSpec[T]) add(e *Emulator, st *webappState, t T) *T {
	id, _ := s.ptrs(&t)
	*id = e.newIDLocked(s.kind)
	s.table(st)[*id] = &t
	return &t
}

// find returns the web app and the mapping named by the URL (either may be nil).
func (s staticSpec[T]) find(e *Emulator, c *call) (*webappState, *T) {
	st := e.webappLocked(c)
	if st == nil || len(c.args) < 2 {
		return st, nil
	}
	id, _ := strconv.Atoi(c.args[1])
	return st, s.table(st)[id]
}

func staticList[T any](e *Emulator, c *call, s staticSpec[T]) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.webappLocked(c)
	if st == nil {
		return notFound()
	}
	return jsonResponse(http.StatusOK, e.render(s.kind, s.sorted(st)))
}

func staticCreate[T any](e *Emulator, c *call, s staticSpec[T]) response {
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
	var t T
	if bad := s.apply(f, &t, true); bad != nil {
		return *bad
	}
	return jsonResponse(http.StatusCreated, e.render(s.kind, *s.add(e, st, t)))
}

func staticGet[T any](e *Emulator, c *call, s staticSpec[T]) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, t := s.find(e, c); t != nil {
		return jsonResponse(http.StatusOK, e.render(s.kind, *t))
	}
	return notFound()
}

// staticUpdate serves PATCH (partial) and PUT (every field required, as on
// create); nothing changes on error.
func staticUpdate[T any](e *Emulator, c *call, s staticSpec[T]) response {
	f, bad := parseBody(c.r)
	e.mu.Lock()
	defer e.mu.Unlock()
	_, t := s.find(e, c)
	switch {
	case t == nil:
		return notFound()
	case bad != nil:
		return *bad
	}
	updated := *t
	if bad := s.apply(f, &updated, isPut(c)); bad != nil {
		return *bad
	}
	*t = updated
	return jsonResponse(http.StatusOK, e.render(s.kind, *t))
}

func staticDelete[T any](e *Emulator, c *call, s staticSpec[T]) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, t := s.find(e, c)
	if t == nil {
		return notFound()
	}
	id, _ := s.ptrs(t)
	delete(s.table(st), *id)
	return noContent()
}

func (e *Emulator) staticFileList(c *call) response     { return staticList(e, c, fileSpec) }
func (e *Emulator) staticFileCreate(c *call) response   { return staticCreate(e, c, fileSpec) }
func (e *Emulator) staticFileGet(c *call) response      { return staticGet(e, c, fileSpec) }
func (e *Emulator) staticFileUpdate(c *call) response   { return staticUpdate(e, c, fileSpec) }
func (e *Emulator) staticFileDelete(c *call) response   { return staticDelete(e, c, fileSpec) }
func (e *Emulator) staticHeaderList(c *call) response   { return staticList(e, c, headerSpec) }
func (e *Emulator) staticHeaderCreate(c *call) response { return staticCreate(e, c, headerSpec) }
func (e *Emulator) staticHeaderGet(c *call) response    { return staticGet(e, c, headerSpec) }
func (e *Emulator) staticHeaderUpdate(c *call) response { return staticUpdate(e, c, headerSpec) }
func (e *Emulator) staticHeaderDelete(c *call) response { return staticDelete(e, c, headerSpec) }

// staticHook runs fn on a web app's state under the lock; false if there is no app.
func (e *Emulator) staticHook(domain string, fn func(st *webappState)) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.webapps[domain]
	if st == nil {
		return false
	}
	fn(st)
	return true
}

// AddStaticFile adds a static files mapping to a web app; it returns the new id,
// or 0 if there is no such app.
func (e *Emulator) AddStaticFile(domain, url, path string) int {
	id := 0
	e.staticHook(domain, func(st *webappState) { id = fileSpec.add(e, st, StaticFile{URL: url, Path: path}).ID })
	return id
}

// AddStaticHeader adds a static header mapping to a web app; it returns the new
// id, or 0 if there is no such app.
func (e *Emulator) AddStaticHeader(domain, url, name, value string) int {
	id := 0
	e.staticHook(domain, func(st *webappState) {
		id = headerSpec.add(e, st, StaticHeader{URL: url, Name: name, Value: value}).ID
	})
	return id
}

// StaticFiles returns a web app's static files mappings by id.
func (e *Emulator) StaticFiles(domain string) []StaticFile {
	var out []StaticFile
	e.staticHook(domain, func(st *webappState) { out = fileSpec.sorted(st) })
	return out
}

// StaticHeaders returns a web app's static header mappings by id.
func (e *Emulator) StaticHeaders(domain string) []StaticHeader {
	var out []StaticHeader
	e.staticHook(domain, func(st *webappState) { out = headerSpec.sorted(st) })
	return out
}
