package control

import (
	"context"
	"strconv"

	"github.com/pafs/pafs/remote"
)

// always_on/: always-on tasks.

func (c *Control) alwaysOnKind() *collection[remote.AlwaysOnTask, remote.AlwaysOnPatch] {
	type (
		T = remote.AlwaysOnTask
		P = remote.AlwaysOnPatch
	)
	k := &kind[T, P]{
		c:    c,
		noun: "always-on task",
		cache: newListCache(c, func(t T) string { return strconv.Itoa(t.ID) },
			c.client.ListAlwaysOn),
		fields: []field[T, P]{
			{name: "command", mode: 0o644, show: func(t T) string { return t.Command },
				set:   func(t *T, v string) error { t.Command = v; return nonEmpty(v, "command") },
				patch: func(p *P, t *T) { p.Command = &t.Command }},
			{name: "description", mode: 0o644, show: func(t T) string { return t.Description },
				set:   func(t *T, v string) error { t.Description = v; return oneLine(v, "description") },
				patch: func(p *P, t *T) { p.Description = &t.Description }},
			{name: "enabled", mode: 0o644, show: func(t T) string { return formatBool(t.Enabled) },
				set:   func(t *T, v string) (err error) { t.Enabled, err = parseBool(v); return err },
				patch: func(p *P, t *T) { p.Enabled = &t.Enabled }},
			{name: "state", mode: 0o444, show: func(t T) string { return t.State }},
		},
		identity: []string{"id"},
		readonly: []string{"url", "user"},
		update: func(ctx context.Context, key string, cur, d T, p P, names []string) (T, error) {
			return c.client.UpdateAlwaysOn(ctx, cur.ID, p)
		},
		get: func(ctx context.Context, key string) (T, error) {
			id, _ := strconv.Atoi(key)
			return c.client.GetAlwaysOn(ctx, id)
		},
		logs: func(t T) []string { return []string{alwaysOnLog(strconv.Itoa(t.ID))} },
	}
	col := &collection[T, P]{
		kind:     k,
		folder:   "always_on",
		defaults: T{Enabled: true},
		required: []string{"command"},
		template: map[string]any{"command": "", "description": "", "enabled": true},
		create: func(ctx context.Context, d T) (T, error) {
			on := d.Enabled
			return c.client.CreateAlwaysOn(ctx, remote.AlwaysOnCreate{Command: d.Command, Description: d.Description, Enabled: &on})
		},
		del: func(ctx context.Context, key string) error {
			id, _ := strconv.Atoi(key)
			return c.client.DeleteAlwaysOn(ctx, id)
		},
	}
	col.extras = func(key, path string) []Entry {
		id, _ := strconv.Atoi(key)
		return []Entry{
			c.fileEntry("task.json", path+"/task.json", k.jsonFile(key)),
			c.fileEntry("restart", path+"/restart", file{mode: 0o200, write: triggerPolicy{},
				put: func(ctx context.Context, _ []byte) error {
					if err := c.client.RestartAlwaysOn(ctx, id); err != nil {
						return err
					}
					c.invalidate(alwaysOnLog(key)) // the restart is in it
					c.log.Info("restarted always-on task", "id", id)
					return nil
				}}),
			c.staticLink("log", path+"/log", "../../files"+alwaysOnLog(key)),
		}
	}
	return col
}

// alwaysOnLog is the log file of the always-on task id.
func alwaysOnLog(id string) string { return "/var/log/alwayson-log-" + id + ".log" }
