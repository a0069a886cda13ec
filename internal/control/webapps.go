package control

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pafs/pafs/internal/rpath"
	"github.com/pafs/pafs/remote"
)

// webapps/ and webapps/DOMAIN/.

// webappsDir lists the web apps; mkdir creates one with the account's
// default Python 3 version, rmdir deletes one (its code stays).
func (c *Control) webappsDir() *Dir {
	k := c.webapps
	d := c.newDir("webapps", func(ctx context.Context) ([]Entry, error) {
		list, err := k.cache.get(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]Entry, 0, len(list))
		for _, domain := range k.cache.keys(list) {
			out = append(out, dirEntry(domain, "webapps/"+domain, func() *Dir { return c.webappDir(domain) }))
		}
		return out, nil
	})
	d.mtime = k.cache.mtime
	d.mkdir = c.createWebapp
	d.rmdir = func(ctx context.Context, domain string) error {
		if err := c.client.DeleteWebapp(ctx, domain); err != nil {
			return err
		}
		k.cache.remove(domain)
		c.log.Info("deleted web app (its code and WSGI file stay)", "domain", domain)
		return nil
	}
	return d
}

// createWebapp makes a web app. The API answers without the object, so it
// is fetched alone (webapps/{domain}/, another family than the list's).
func (c *Control) createWebapp(ctx context.Context, domain string) error {
	version := ""
	if ch, err := c.python3.cell.get(ctx); err == nil {
		version = ch.Current
	}
	if version == "" {
		return invalidf("the account's default Python 3 version is unknown: cannot create %s", domain)
	}
	err := c.client.CreateWebapp(ctx, domain, version)
	if errors.Is(err, remote.ErrNoAnswer) {
		// Probably being made: the list will show it once it is.
		c.webapps.cache.forget()
		return fmt.Errorf("web app %s: creation sent, %s; it probably appears in webapps/ soon: %w",
			domain, c.noAnswer(), err)
	}
	if err != nil {
		return err
	}
	// The server made its WSGI file and logs.
	c.invalidate(append(webappLogs(domain), wsgiPath(domain))...)
	w, err := c.client.GetWebapp(ctx, domain)
	if err != nil {
		c.webapps.cache.forget()
		return nil
	}
	c.webapps.cache.put(w)
	c.log.Info("created web app", "domain", domain, "python", version)
	return nil
}

// noAnswer says, for messages, how long a slow call waited in vain.
func (c *Control) noAnswer() string {
	d := c.client.SlowTimeout()
	if d <= 0 {
		return "no answer"
	}
	return "no answer within " + strconv.Itoa(int(d.Round(time.Second)/time.Second)) + " s"
}

// webappDir is one web app's folder.
func (c *Control) webappDir(domain string) *Dir {
	k := c.webapps
	path := "webapps/" + domain
	ents := []Entry{
		c.fileEntry("config.json", path+"/config.json", withMode(k.jsonFile(domain), 0o600)),
		c.fileEntry("reload", path+"/reload", file{mode: 0o200, write: triggerPolicy{},
			put: func(ctx context.Context, _ []byte) error { return c.reload(ctx, domain, "reload") }}),
		c.staticLink("wsgi.py", path+"/wsgi.py", "../../files"+wsgiPath(domain)),
		dirEntry("logs", path+"/logs", func() *Dir { return c.logsDir(domain) }),
		dirEntry("ssl", path+"/ssl", func() *Dir { return c.sslDir(domain) }),
		dirEntry("static_files", path+"/static_files", func() *Dir { return c.staticFiles(domain).dir() }),
		dirEntry("static_headers", path+"/static_headers", func() *Dir { return c.staticHeaders(domain).dir() }),
	}
	ents = append(ents, k.fieldEntries(domain, path)...)
	d := c.newDir(path, staticList(ents...))
	d.mtime = k.cache.mtime
	d.scratch = &scratchDir{}
	return d
}

// withMode changes a file's permission bits (config.json holds the
// password, so it is 0600).
func withMode(f file, mode uint32) file {
	f.mode = mode
	return f
}

// logsDir links to the web app's logs in files/.
func (c *Control) logsDir(domain string) *Dir {
	path := "webapps/" + domain + "/logs"
	var ents []Entry
	for _, p := range webappLogs(domain) {
		name := strings.TrimPrefix(p, "/var/log/"+domain+".")
		ents = append(ents, c.staticLink(name, path+"/"+name, "../../../files"+p))
	}
	return c.newDir(path, staticList(ents...))
}

// webappLogs are a web app's access, error and server logs.
func webappLogs(domain string) []string {
	out := make([]string, 0, 3)
	for _, kind := range []string{"access", "error", "server"} {
		out = append(out, "/var/log/"+domain+"."+kind+".log")
	}
	return out
}

// wsgiPath is a web app's WSGI file: dots become underscores, lowercased.
func wsgiPath(domain string) string {
	return "/var/www/" + strings.ToLower(strings.ReplaceAll(domain, ".", "_")) + "_wsgi.py"
}

// reload reloads a web app once its code is on the server: uploads still
// queued under its source directory and to its WSGI file go first, so a
// reload never serves stale code.
func (c *Control) reload(ctx context.Context, domain, why string) error {
	w, ok, err := c.webapps.cache.find(ctx, domain)
	switch {
	case err != nil:
		return err
	case !ok:
		return syscall.ENOENT
	}
	if c.cfg.Files != nil {
		roots := []string{wsgiPath(domain)}
		if w.SourceDirectory != "" {
			roots = append(roots, rpath.Clean(w.SourceDirectory))
		}
		if err := c.cfg.Files.Sync(ctx, roots...); err != nil {
			return err
		}
	}
	if c.auto != nil {
		c.auto.reloading(domain)
	}
	err = c.client.ReloadWebapp(ctx, domain)
	switch {
	case errors.Is(err, remote.ErrCNAME):
		c.log.Warn("web app reloaded, but its domain has no CNAME record pointing to PythonAnywhere", "domain", domain)
	case errors.Is(err, remote.ErrNoAnswer):
		// Sent and never retried (it restarts the workers): the server
		// goes on with it whether or not anyone waits.
		c.notice(why, "webapps/"+domain+"/reload", "reload sent, "+c.noAnswer()+"; probably done")
	case err != nil:
		return err
	default:
		c.log.Info("reloaded web app", "domain", domain, "by", why)
	}
	c.invalidate(webappLogs(domain)...) // the reload wrote to them
	return nil
}
