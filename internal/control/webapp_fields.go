package control

import (
	"context"
	"fmt"

	"github.com/pafs/pafs/remote"
)

// The web app kind: its fields (one file each, and config.json) and how a
// change reaches the API.

func (c *Control) webappKind() *kind[remote.Webapp, remote.WebappPatch] {
	return &kind[remote.Webapp, remote.WebappPatch]{
		c:    c,
		noun: "web app",
		cache: newListCache(c, func(w remote.Webapp) string { return w.DomainName },
			c.client.ListWebapps),
		fields:   webappFields(),
		identity: []string{"id", "domain_name"},
		readonly: []string{"user", "expiry"},
		check:    c.checkWebapp,
		update:   c.updateWebapp,
		get:      c.client.GetWebapp,
	}
}

type webappField = field[remote.Webapp, remote.WebappPatch]

func webappFields() []webappField {
	type (
		W = remote.Webapp
		P = remote.WebappPatch
	)
	// str and boolean make a field from the member of the object (get) and
	// of the PATCH body (in) that hold it.
	str := func(name string, get func(*W) *string, in func(*P) **string, valid func(string) error) webappField {
		return webappField{name: name, mode: 0o644,
			show: func(w W) string { return *get(&w) },
			set: func(w *W, v string) error {
				if err := valid(v); err != nil {
					return err
				}
				*get(w) = v
				return nil
			},
			patch: func(p *P, w *W) { *in(p) = get(w) }}
	}
	boolean := func(name string, get func(*W) *bool, in func(*P) **bool) webappField {
		return webappField{name: name, mode: 0o644,
			show: func(w W) string { return formatBool(*get(&w)) },
			set: func(w *W, v string) error {
				b, err := parseBool(v)
				*get(w) = b
				return err
			},
			patch: func(p *P, w *W) { *in(p) = get(w) }}
	}
	dir := func(what string, emptyOK bool) func(string) error {
		return func(v string) error { return absPath(v, what, emptyOK) }
	}
	line := func(what string) func(string) error { return func(v string) error { return oneLine(v, what) } }
	password := str("password_protection_password", func(w *W) *string { return &w.PasswordProtectionPassword },
		func(p *P) **string { return &p.PasswordProtectionPassword }, line("the password"))
	password.mode = 0o600
	return []webappField{
		{name: "python_version", mode: 0o644,
			show: func(w W) string { return w.PythonVersion },
			set: func(w *W, v string) error {
				pv, err := parseVersion(v)
				w.PythonVersion = pv
				return err
			},
			patch: func(p *P, w *W) { p.PythonVersion = &w.PythonVersion }},
		str("source_directory", func(w *W) *string { return &w.SourceDirectory },
			func(p *P) **string { return &p.SourceDirectory }, dir("source_directory", false)),
		str("working_directory", func(w *W) *string { return &w.WorkingDirectory },
			func(p *P) **string { return &p.WorkingDirectory }, dir("working_directory", false)),
		str("virtualenv_path", func(w *W) *string { return &w.VirtualenvPath },
			func(p *P) **string { return &p.VirtualenvPath }, dir("virtualenv_path", true)),
		boolean("force_https", func(w *W) *bool { return &w.ForceHTTPS },
			func(p *P) **bool { return &p.ForceHTTPS }),
		boolean("password_protection_enabled", func(w *W) *bool { return &w.PasswordProtectionEnabled },
			func(p *P) **bool { return &p.PasswordProtectionEnabled }),
		str("password_protection_username", func(w *W) *string { return &w.PasswordProtectionUsername },
			func(p *P) **string { return &p.PasswordProtectionUsername }, line("the user name")),
		password,
		// enabled has no PATCH member: updateWebapp enables or disables
		// the site through its own endpoint.
		{name: "enabled", mode: 0o644,
			show: func(w W) string {
				if w.Enabled == nil {
					return "unknown" // the API may not say
				}
				return formatBool(*w.Enabled)
			},
			set: func(w *W, v string) error {
				b, err := parseBool(v)
				w.Enabled = &b
				return err
			}},
	}
}

// checkWebapp refuses a Python version the account does not offer, before
// any request that would change something.
func (c *Control) checkWebapp(ctx context.Context, cur remote.Webapp, d *remote.Webapp, written map[string]bool) error {
	if d.PythonVersion == cur.PythonVersion && !written["python_version"] {
		return nil
	}
	ch, err := c.python3.cell.get(ctx)
	if err != nil {
		return nil // the API will say
	}
	return checkChoice(d.PythonVersion, ch.Available, "Python version")
}

// updateWebapp sends the configuration fields in one PATCH, then enables or
// disables the site (its own endpoint: the only field without a PATCH
// member). If that fails, the PATCH is undone, so that a config.json write
// is applied whole or not at all. The API may not report enabled: what
// this mount knows of it is kept.
func (c *Control) updateWebapp(ctx context.Context, domain string, cur, d remote.Webapp, p remote.WebappPatch, names []string) (remote.Webapp, error) {
	undo, patched, toggle := c.webapps.patchOf(&cur, names)
	out := cur
	var unconfirmed error
	if patched {
		w, err := c.client.UpdateWebapp(ctx, domain, p)
		if err != nil {
			return cur, err
		}
		w, unconfirmed = c.webapps.answered(ctx, domain, w)
		if w.Enabled == nil {
			w.Enabled = cur.Enabled
		}
		out = w
	}
	if !toggle || d.Enabled == nil {
		return out, unconfirmed
	}
	if err := c.setEnabled(ctx, domain, *d.Enabled); err != nil {
		if patched {
			if _, uerr := c.client.UpdateWebapp(ctx, domain, undo); uerr != nil {
				err = fmt.Errorf("%w (and undoing the other changes failed: %v)", err, uerr)
			}
		}
		return cur, err
	}
	on := *d.Enabled
	out.Enabled = &on
	return out, unconfirmed
}

func (c *Control) setEnabled(ctx context.Context, domain string, on bool) error {
	if on {
		return c.client.EnableWebapp(ctx, domain)
	}
	return c.client.DisableWebapp(ctx, domain)
}
