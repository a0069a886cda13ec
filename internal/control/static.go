package control

import (
	"context"
	"strconv"

	"github.com/pafs/pafs/remote"
)

// webapps/D/static_files/ and static_headers/: one folder per mapping.
// Each web app's lists are fetched only when its folder is used. The server
// serves changes only after a reload, which the log and the status file say.

// staticFiles is the static file mappings of a web app, made when first used.
func (c *Control) staticFiles(domain string) *collection[remote.StaticFile, staticFilePatch] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if col := c.static[domain]; col != nil {
		return col
	}
	type (
		T = remote.StaticFile
		P = staticFilePatch
	)
	col := &collection[T, P]{
		kind: &kind[T, P]{
			c:    c,
			noun: "static file mapping",
			cache: newListCache(c, func(s T) string { return strconv.Itoa(s.ID) },
				func(ctx context.Context) ([]T, error) { return c.client.ListStaticFiles(ctx, domain) }),
			fields: []field[T, P]{
				{name: "url", mode: 0o644, show: func(s T) string { return s.URL },
					set:   func(s *T, v string) error { s.URL = v; return nonEmpty(v, "url") },
					patch: func(p *P, s *T) { p.URL = &s.URL }},
				{name: "path", mode: 0o644, show: func(s T) string { return s.Path },
					set:   func(s *T, v string) error { s.Path = v; return absPath(v, "path", false) },
					patch: func(p *P, s *T) { p.Path = &s.Path }},
			},
			identity: []string{"id"},
			update: func(ctx context.Context, key string, cur, d T, p P, names []string) (T, error) {
				s, err := c.client.UpdateStaticFile(ctx, domain, cur.ID, p.URL, p.Path)
				if err == nil {
					c.remindReload(domain, "changed static file mapping "+key)
				}
				return s, err
			},
			get: func(ctx context.Context, key string) (T, error) {
				id, _ := strconv.Atoi(key)
				return c.client.GetStaticFile(ctx, domain, id)
			},
		},
		folder:   "webapps/" + domain + "/static_files",
		required: []string{"url", "path"},
		template: map[string]any{"url": "/static/", "path": ""},
		create: func(ctx context.Context, d T) (T, error) {
			return c.client.CreateStaticFile(ctx, domain, d.URL, d.Path)
		},
		del: func(ctx context.Context, key string) error {
			id, _ := strconv.Atoi(key)
			return c.client.DeleteStaticFile(ctx, domain, id)
		},
		changed: func(what string) { c.remindReload(domain, what) },
	}
	c.static[domain] = col
	return col
}

// staticHeaders is the static headers of a web app, made when first used.
func (c *Control) staticHeaders(domain string) *collection[remote.StaticHeader, staticHeaderPatch] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if col := c.headers[domain]; col != nil {
		return col
	}
	type (
		T = remote.StaticHeader
		P = staticHeaderPatch
	)
	text := func(name string, get func(*T) *string, in func(*P) **string) field[T, P] {
		return field[T, P]{name: name, mode: 0o644, show: func(h T) string { return *get(&h) },
			set:   func(h *T, v string) error { *get(h) = v; return nonEmpty(v, name) },
			patch: func(p *P, h *T) { *in(p) = get(h) }}
	}
	col := &collection[T, P]{
		kind: &kind[T, P]{
			c:    c,
			noun: "static header",
			cache: newListCache(c, func(h T) string { return strconv.Itoa(h.ID) },
				func(ctx context.Context) ([]T, error) { return c.client.ListStaticHeaders(ctx, domain) }),
			fields: []field[T, P]{
				text("url", func(h *T) *string { return &h.URL }, func(p *P) **string { return &p.URL }),
				text("name", func(h *T) *string { return &h.Name }, func(p *P) **string { return &p.Name }),
				text("value", func(h *T) *string { return &h.Value }, func(p *P) **string { return &p.Value }),
			},
			identity: []string{"id"},
			update: func(ctx context.Context, key string, cur, d T, p P, names []string) (T, error) {
				h, err := c.client.UpdateStaticHeader(ctx, domain, cur.ID, p.URL, p.Name, p.Value)
				if err == nil {
					c.remindReload(domain, "changed static header "+key)
				}
				return h, err
			},
			get: func(ctx context.Context, key string) (T, error) {
				id, _ := strconv.Atoi(key)
				return c.client.GetStaticHeader(ctx, domain, id)
			},
		},
		folder:   "webapps/" + domain + "/static_headers",
		required: []string{"url", "name", "value"},
		template: map[string]any{"url": "/static/", "name": "Cache-Control", "value": "max-age=3600"},
		create: func(ctx context.Context, d T) (T, error) {
			return c.client.CreateStaticHeader(ctx, domain, d.URL, d.Name, d.Value)
		},
		del: func(ctx context.Context, key string) error {
			id, _ := strconv.Atoi(key)
			return c.client.DeleteStaticHeader(ctx, domain, id)
		},
		changed: func(what string) { c.remindReload(domain, what) },
	}
	c.headers[domain] = col
	return col
}

// staticFilePatch and staticHeaderPatch are the PATCH bodies of a mapping
// and of a header (the client takes their members one by one); the tags
// are the API's keys, checked against the field names by the tests.
type staticFilePatch struct {
	URL  *string `json:"url,omitempty"`
	Path *string `json:"path,omitempty"`
}

type staticHeaderPatch struct {
	URL   *string `json:"url,omitempty"`
	Name  *string `json:"name,omitempty"`
	Value *string `json:"value,omitempty"`
}

// remindReload tells the user, in the log and the status file, that a web
// app serves a change only after a reload.
func (c *Control) remindReload(domain, what string) {
	c.notice("reload needed", "webapps/"+domain, what+": touch webapps/"+domain+"/reload to apply it")
}
