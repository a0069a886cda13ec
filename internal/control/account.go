package control

import (
	"context"
	"strings"
	"time"

	"github.com/pafs/pafs/remote"
)

// account/: cpu.json, the three default Python versions and the system
// image, each with a .available file listing the choices.

// setting is one of the account's settings: a current value chosen from a
// list, both from one GET.
type setting struct {
	name  string // its file in account/
	what  string // for messages
	cell  *cell[remote.Choice]
	parse func(string) (string, error)
	set   func(ctx context.Context, v string) (remote.Choice, error)
}

// cpuTTL is short: cpu.json is read for the live figure, but `cat
// account/*` should not ask twice.
const cpuTTL = 2 * time.Second

func (c *Control) initAccount() {
	c.students = newListCache(c, func(s remote.Student) string { return s.Username }, c.client.ListStudents)
	c.cpu = newCell(c, cpuTTL, c.client.CPU)
	version := func(kind remote.PythonKind, file, what string) *setting {
		return &setting{name: file, what: what,
			cell:  newCell(c, c.cfg.TTL, func(ctx context.Context) (remote.Choice, error) { return c.client.PythonVersion(ctx, kind) }),
			parse: parseVersion,
			set: func(ctx context.Context, v string) (remote.Choice, error) {
				return c.client.SetPythonVersion(ctx, kind, v)
			}}
	}
	c.python3 = version(remote.Python3, "python3_version", "Python 3 version")
	c.settings = []*setting{
		c.python3,
		version(remote.PythonDefault, "python_version", "Python version"),
		version(remote.SaveAndRun, "save_and_run_python_version", "Save and Run Python version"),
		{name: "system_image", what: "system image",
			cell: newCell(c, c.cfg.TTL, c.client.SystemImage),
			parse: func(v string) (string, error) {
				if err := nonEmpty(v, "system image"); err != nil {
					return "", err
				}
				return v, nil
			},
			set: c.client.SetSystemImage},
	}
}

func (c *Control) accountDir() *Dir {
	const path = "account"
	ents := []Entry{c.fileEntry("cpu.json", path+"/cpu.json", file{mode: 0o444,
		read:  cellRead(c.cpu, func(u remote.CPUUsage) []byte { return renderJSON(u) }),
		peek:  cellPeek(c.cpu, func(u remote.CPUUsage) []byte { return renderJSON(u) }),
		mtime: c.cpu.mtime,
	})}
	for _, s := range c.settings {
		name := s.name
		ents = append(ents,
			c.fileEntry(name, path+"/"+name, c.settingFile(s)),
			c.fileEntry(name+".available", path+"/"+name+".available", file{mode: 0o444,
				read:  cellRead(s.cell, func(ch remote.Choice) []byte { return lines(ch.Available) }),
				peek:  cellPeek(s.cell, func(ch remote.Choice) []byte { return lines(ch.Available) }),
				mtime: s.cell.mtime,
			}))
	}
	d := c.newDir(path, staticList(ents...))
	d.scratch = &scratchDir{}
	return d
}

// settingFile reads the current value; a write must be one of the choices
// (checked before any request that would change something).
func (c *Control) settingFile(s *setting) file {
	show := func(ch remote.Choice) []byte { return formatValue(ch.Current) }
	return file{mode: 0o644, write: valuePolicy{},
		read:  cellRead(s.cell, show),
		peek:  cellPeek(s.cell, show),
		mtime: s.cell.mtime,
		put: func(ctx context.Context, content []byte) error {
			v, err := s.parse(trimValue(content))
			if err != nil {
				return err
			}
			if ch, err := s.cell.get(ctx); err == nil {
				if err := checkChoice(v, ch.Available, s.what); err != nil {
					return err
				}
			}
			ch, err := s.set(ctx, v)
			if err != nil {
				return err
			}
			s.cell.edit(func(old remote.Choice) remote.Choice {
				if len(ch.Available) == 0 {
					ch.Available = old.Available
				}
				return ch
			})
			c.log.Info("changed account setting", "setting", s.what, "value", ch.Current)
			return nil
		},
	}
}

func cellRead[T any](cl *cell[T], render func(T) []byte) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		v, err := cl.get(ctx)
		if err != nil {
			return nil, err
		}
		return render(v), nil
	}
}

func cellPeek[T any](cl *cell[T], render func(T) []byte) func() ([]byte, bool) {
	return func() ([]byte, bool) {
		v, ok := cl.peek()
		if !ok {
			return nil, false
		}
		return render(v), true
	}
}

// lines renders a list one item a line.
func lines(items []string) []byte {
	if len(items) == 0 {
		return nil
	}
	return []byte(strings.Join(items, "\n") + "\n")
}
