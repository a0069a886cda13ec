package control

import (
	"context"
	"fmt"

	"github.com/pafs/pafs/remote"
)

// The web app kind: its fields (one file each, and config.json) and how a
// change reaches the API.

func (c *Control) webappKind() *kind[remote.Webapp] {
	return &kind[remote.Webapp]{
		c:    c,
		noun: "web app",
		cache: newListCache(c, func(w remote.Webapp) string { return w.DomainName },
			c.client.ListWebapps),
		fields:   webappFields(),
		identity: []string{"id", "domain_name"},
		readonly: []string{"user", "expiry"},
		check:    c.checkWebapp,
		update:   c.updateWebapp,
	}
}

func webappFields() []field[remote.Webapp] {
	str := func(name string, get func(*remote.Webapp) *string, valid func(string) error) field[remote.Webapp] {
		return field[remote.Webapp]{name: name, mode: 0o644,
			show: func(w remote.Webapp) string { return *get(&w) },
			set: func(w *remote.Webapp, v string) error {
				if err := valid(v); err != nil {
					return err
				}
				*get(w) = v
				return nil
			}}
	}
	boolean := func(name string, get func(*remote.Webapp) *bool) field[remote.Webapp] {
		return field[remote.Webapp]{name: name, mode: 0o644,
			show: func(w remote.Webapp) string { return formatBool(*get(&w)) },
			set: func(w *remote.Webapp, v string) error {
				b, err := parseBool(v)
				*get(w) = b
				return err
			}}
	}
	dir := func(name string, emptyOK bool) func(string) error {
		return func(v string) error { return absPath(v, name, emptyOK) }
	}
	line := func(name string) func(string) error { return func(v string) error { return oneLine(v, name) } }
	password := str("password_protection_password",
		func(w *remote.Webapp) *string { return &w.PasswordProtectionPassword }, line("the password"))
	password.mode = 0o600
	return []field[remote.Webapp]{
		{name: "python_version", mode: 0o644,
			show: func(w remote.Webapp) string { return w.PythonVersion },
			set: func(w *remote.Webapp, v string) error {
				pv, err := parseVersion(v)
				w.PythonVersion = pv
				return err
			}},
		str("source_directory", func(w *remote.Webapp) *string { return &w.SourceDirectory }, dir("source_directory", false)),
		str("working_directory", func(w *remote.Webapp) *string { return &w.WorkingDirectory }, dir("working_directory", false)),
		str("virtualenv_path", func(w *remote.Webapp) *string { return &w.VirtualenvPath }, dir("virtualenv_path", true)),
		boolean("force_https", func(w *remote.Webapp) *bool { return &w.ForceHTTPS }),
		boolean("password_protection_enabled", func(w *remote.Webapp) *bool { return &w.PasswordProtectionEnabled }),
		str("password_protection_username", func(w *remote.Webapp) *string { return &w.PasswordProtectionUsername }, line("the user name")),
		password,
		{name: "enabled", mode: 0o644,
			show: func(w remote.Webapp) string {
				if w.Enabled == nil {
					return "unknown" // the API may not say
				}
				return formatBool(*w.Enabled)
			},
			set: func(w *remote.Webapp, v string) error {
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
	ch, err := c.settings["python3_version"].cell.get(ctx)
	if err != nil {
		return nil // the API will say
	}
	return checkChoice(d.PythonVersion, ch.Available, "Python version")
}

// updateWebapp sends the configuration fields in one PATCH, then enables or
// disables the site (its own endpoint). If that fails, the PATCH is undone,
// so that a config.json write is applied whole or not at all.
func (c *Control) updateWebapp(ctx context.Context, domain string, cur, d remote.Webapp, names []string) (remote.Webapp, error) {
	var p, undo remote.WebappPatch
	patched, toggle := false, false
	for _, n := range names {
		switch n {
		case "enabled":
			toggle = true
			continue
		case "python_version":
			p.PythonVersion, undo.PythonVersion = &d.PythonVersion, &cur.PythonVersion
		case "source_directory":
			p.SourceDirectory, undo.SourceDirectory = &d.SourceDirectory, &cur.SourceDirectory
		case "working_directory":
			p.WorkingDirectory, undo.WorkingDirectory = &d.WorkingDirectory, &cur.WorkingDirectory
		case "virtualenv_path":
			p.VirtualenvPath, undo.VirtualenvPath = &d.VirtualenvPath, &cur.VirtualenvPath
		case "force_https":
			p.ForceHTTPS, undo.ForceHTTPS = &d.ForceHTTPS, &cur.ForceHTTPS
		case "password_protection_enabled":
			p.PasswordProtectionEnabled, undo.PasswordProtectionEnabled = &d.PasswordProtectionEnabled, &cur.PasswordProtectionEnabled
		case "password_protection_username":
			p.PasswordProtectionUsername, undo.PasswordProtectionUsername = &d.PasswordProtectionUsername, &cur.PasswordProtectionUsername
		case "password_protection_password":
			p.PasswordProtectionPassword, undo.PasswordProtectionPassword = &d.PasswordProtectionPassword, &cur.PasswordProtectionPassword
		}
		patched = true
	}
	out := cur
	if patched {
		w, err := c.client.UpdateWebapp(ctx, domain, p)
		if err != nil {
			return cur, err
		}
		if w.Enabled == nil {
			w.Enabled = cur.Enabled
		}
		out = w
	}
	if !toggle || d.Enabled == nil {
		return out, nil
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
	return out, nil
}

func (c *Control) setEnabled(ctx context.Context, domain string, on bool) error {
	if on {
		return c.client.EnableWebapp(ctx, domain)
	}
	return c.client.DisableWebapp(ctx, domain)
}
