package control

import (
	"context"
	"errors"
	"strconv"

	"github.com/pafs/pafs/remote"
)

// webapps/D/static_files/ and static_headers/: one folder per mapping.
// Each web app's lists are fetched only when its folder is used. The server
// serves changes only after a reload, which the log and the status file say.

// staticFiles is the static file mappings of a web app, made when first used.
func (c *Control) staticFiles(domain string) *collection[remote.StaticFile] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if col := c.static[domain]; col != nil {
		return col
	}
	type T = remote.StaticFile
	col := &collection[T]{
		kind: &kind[T]{
			c:    c,
			noun: "static file mapping",
			cache: newListCache(c, func(s T) string { return strconv.Itoa(s.ID) },
				func(ctx context.Context) ([]T, error) { return c.client.ListStaticFiles(ctx, domain) }),
			fields: []field[T]{
				{name: "url", mode: 0o644, show: func(s T) string { return s.URL },
					set: func(s *T, v string) error { s.URL = v; return nonEmpty(v, "url") }},
				{name: "path", mode: 0o644, show: func(s T) string { return s.Path },
					set: func(s *T, v string) error { s.Path = v; return absPath(v, "path", false) }},
			},
			identity: []string{"id"},
			update: func(ctx context.Context, key string, cur, d T, names []string) (T, error) {
				var url, path *string
				for _, n := range names {
					switch n {
					case "url":
						url = &d.URL
					case "path":
						path = &d.Path
					}
				}
				s, err := c.client.UpdateStaticFile(ctx, domain, cur.ID, url, path)
				if err == nil {
					c.remindReload(domain, "changed static file mapping "+key)
				}
				return s, err
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
func (c *Control) staticHeaders(domain string) *collection[remote.StaticHeader] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if col := c.headers[domain]; col != nil {
		return col
	}
	type T = remote.StaticHeader
	text := func(name string, get func(*T) *string) field[T] {
		return field[T]{name: name, mode: 0o644, show: func(h T) string { return *get(&h) },
			set: func(h *T, v string) error { *get(h) = v; return nonEmpty(v, name) }}
	}
	col := &collection[T]{
		kind: &kind[T]{
			c:    c,
			noun: "static header",
			cache: newListCache(c, func(h T) string { return strconv.Itoa(h.ID) },
				func(ctx context.Context) ([]T, error) { return c.client.ListStaticHeaders(ctx, domain) }),
			fields: []field[T]{
				text("url", func(h *T) *string { return &h.URL }),
				text("name", func(h *T) *string { return &h.Name }),
				text("value", func(h *T) *string { return &h.Value }),
			},
			identity: []string{"id"},
			update: func(ctx context.Context, key string, cur, d T, names []string) (T, error) {
				var url, name, value *string
				for _, n := range names {
					switch n {
					case "url":
						url = &d.URL
					case "name":
						name = &d.Name
					case "value":
						value = &d.Value
					}
				}
				h, err := c.client.UpdateStaticHeader(ctx, domain, cur.ID, url, name, value)
				if err == nil {
					c.remindReload(domain, "changed static header "+key)
				}
				return h, err
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

// remindReload tells the user, in the log and the status file, that a web
// app serves a change only after a reload.
func (c *Control) remindReload(domain, what string) {
	msg := what + ": touch webapps/" + domain + "/reload to apply it"
	c.log.Info("reload needed", "domain", domain, "why", msg)
	notices := c.cfg.Notices
	if notices == nil {
		notices = c.cfg.Errors
	}
	notices.Add("reload needed", "webapps/"+domain, errors.New(msg))
}
