package control

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"syscall"

	"github.com/pafs/pafs/remote"
)

// consoles/: the account's consoles, and consoles/shared_with_you/.
// consoles/ID/ has info.json, output (the latest output, fetched at each
// open) and input (each write is typed into the console as written).

func (c *Control) initConsoles() {
	key := func(con remote.Console) string { return strconv.Itoa(con.ID) }
	c.consoles = newListCache(c, key, c.client.ListConsoles)
	c.shared = newListCache(c, key, c.client.ListSharedConsoles)
}

func (c *Control) consolesDir() *Dir {
	const path = "consoles"
	newFile := c.fileEntry("new", path+"/new", file{mode: 0o644, write: jsonPolicy{},
		read: func(context.Context) ([]byte, error) { return renderJSON(consoleTemplate), nil },
		peek: func() ([]byte, bool) { return renderJSON(consoleTemplate), true },
		put:  c.createConsole,
	})
	shared := dirEntry("shared_with_you", path+"/shared_with_you", c.sharedDir)
	d := c.newDir(path, func(ctx context.Context) ([]Entry, error) {
		list, err := c.consoles.get(ctx)
		if err != nil {
			return nil, err
		}
		out := []Entry{newFile, shared}
		if c.getLatest(path) != "" {
			out = append(out, c.latestLink(path))
		}
		for _, con := range list {
			out = append(out, c.consoleEntry(path, con.ID, c.consoles))
		}
		return out, nil
	})
	d.mtime = c.consoles.mtime
	d.scratch = &scratchDir{}
	d.rmdir = func(ctx context.Context, name string) error {
		id, _ := strconv.Atoi(name)
		if err := c.client.DeleteConsole(ctx, id); err != nil {
			return err
		}
		c.consoles.remove(name)
		c.log.Info("killed console", "id", id)
		return nil
	}
	return d
}

// sharedDir lists the consoles others share with the account; they are
// not ours to kill.
func (c *Control) sharedDir() *Dir {
	const path = "consoles/shared_with_you"
	d := c.newDir(path, func(ctx context.Context) ([]Entry, error) {
		list, err := c.shared.get(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]Entry, 0, len(list))
		for _, con := range list {
			out = append(out, c.consoleEntry(path, con.ID, c.shared))
		}
		return out, nil
	})
	d.mtime = c.shared.mtime
	d.rmdir = func(context.Context, string) error { return syscall.EACCES }
	return d
}

// consoleEntry is the folder of one console listed by list.
func (c *Control) consoleEntry(parent string, id int, list *listCache[remote.Console]) Entry {
	name := strconv.Itoa(id)
	path := parent + "/" + name
	return dirEntry(name, path, func() *Dir { return c.consoleDir(path, id, list) })
}

func (c *Control) consoleDir(path string, id int, list *listCache[remote.Console]) *Dir {
	key := strconv.Itoa(id)
	info := file{mode: 0o444,
		read: func(ctx context.Context) ([]byte, error) {
			con, ok, err := list.find(ctx, key)
			if err == nil && !ok {
				err = syscall.ENOENT
			}
			return renderJSON(con), err
		},
		peek: func() ([]byte, bool) {
			con, ok := list.peekOne(key)
			return renderJSON(con), ok
		},
		mtime: list.mtime,
	}
	output := file{mode: 0o444, atOpen: true,
		read: func(ctx context.Context) ([]byte, error) {
			var out string
			err := c.run(ctx, func(bg context.Context) (err error) {
				out, err = c.client.ConsoleOutput(bg, id)
				return c.consoleErr(id, list, err)
			})
			return []byte(out), err
		},
	}
	input := file{mode: 0o200, write: streamPolicy{},
		put: func(ctx context.Context, content []byte) error {
			return c.consoleErr(id, list, c.client.SendInput(ctx, id, string(content)))
		},
	}
	return c.newDir(path, staticList(
		c.fileEntry("info.json", path+"/info.json", info),
		c.fileEntry("output", path+"/output", output),
		c.fileEntry("input", path+"/input", input),
	))
}

// consoleErr explains the API's 412: a console made through the API has no
// process until someone opens it in a browser.
func (c *Control) consoleErr(id int, list *listCache[remote.Console], err error) error {
	if remote.StatusOf(err) != http.StatusPreconditionFailed {
		return err
	}
	url := ""
	if con, ok := list.peekOne(strconv.Itoa(id)); ok {
		url = c.cfg.WebHost + con.ConsoleURL
	}
	if url == "" {
		url = fmt.Sprintf("%s/user/%s/consoles/%d/", c.cfg.WebHost, c.client.Username(), id)
	}
	return fmt.Errorf("console %d is not started yet: open %s once in a browser, then try again (%w)", id, url, err)
}

var consoleTemplate = map[string]any{"executable": "bash", "arguments": "", "working_directory": ""}

// consoleFields are what consoles/new takes (no PATCH: a console does not
// change once started).
var consoleFields = []field[remote.ConsoleCreate, struct{}]{
	{name: "executable", set: func(r *remote.ConsoleCreate, v string) error {
		r.Executable = v
		return nonEmpty(v, "executable")
	}},
	{name: "arguments", set: func(r *remote.ConsoleCreate, v string) error {
		r.Arguments = v
		return oneLine(v, "arguments")
	}},
	{name: "working_directory", set: func(r *remote.ConsoleCreate, v string) error {
		r.WorkingDirectory = v
		return absPath(v, "working_directory", true)
	}},
}

// createConsole starts a console from a JSON object written to consoles/new.
func (c *Control) createConsole(ctx context.Context, content []byte) error {
	req := remote.ConsoleCreate{Executable: "bash"}
	if _, err := newFromJSON(consoleFields, "console", &req, content); err != nil {
		return err
	}
	before, had := c.consoles.peek()
	con, err := c.client.CreateConsole(ctx, req)
	if err != nil {
		return err
	}
	if con.ID == 0 {
		// The answer does not name the console ({"status": "OK"}).
		var ok bool
		con, ok = identify(ctx, c, c.consoles, before, had, func(x remote.Console) bool {
			return x.Executable == req.Executable && x.Arguments == req.Arguments && x.WorkingDirectory == req.WorkingDirectory
		})
		if !ok {
			c.notice("create", "consoles", "created a console, but the API's answer does not say which: ls consoles")
			return nil
		}
	}
	c.consoles.put(con)
	c.setLatest("consoles", strconv.Itoa(con.ID))
	c.log.Info("created console; open it once in a browser before sending it input", "id", con.ID,
		"url", c.cfg.WebHost+con.ConsoleURL)
	return nil
}
