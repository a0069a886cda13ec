package control

import (
	"context"
	"strconv"
	"strings"

	"github.com/pafs/pafs/remote"
)

// schedule/: scheduled tasks.

func (c *Control) scheduleKind() *collection[remote.ScheduledTask, remote.SchedulePatch] {
	k := &kind[remote.ScheduledTask, remote.SchedulePatch]{
		c:    c,
		noun: "scheduled task",
		cache: newListCache(c, func(t remote.ScheduledTask) string { return strconv.Itoa(t.ID) },
			c.client.ListSchedule),
		fields:   scheduleFields(),
		identity: []string{"id"},
		readonly: []string{"url", "user", "printable_time", "can_enable", "expiry", "extend_url", "logfile"},
		check:    checkSchedule,
		update: func(ctx context.Context, key string, cur, d remote.ScheduledTask, p remote.SchedulePatch, names []string) (remote.ScheduledTask, error) {
			return c.client.UpdateSchedule(ctx, cur.ID, p)
		},
		get: func(ctx context.Context, key string) (remote.ScheduledTask, error) {
			id, _ := strconv.Atoi(key)
			return c.client.GetSchedule(ctx, id)
		},
		logs: func(t remote.ScheduledTask) []string {
			if p := taskLogPath(t.Logfile, c.client.Username()); p != "" {
				return []string{p}
			}
			return nil
		},
	}
	col := &collection[remote.ScheduledTask, remote.SchedulePatch]{
		kind:     k,
		folder:   "schedule",
		defaults: remote.ScheduledTask{Enabled: true},
		required: []string{"command", "interval"},
		template: map[string]any{"command": "", "description": "", "enabled": true,
			"interval": "daily", "hour": 0, "minute": 0},
		create: func(ctx context.Context, d remote.ScheduledTask) (remote.ScheduledTask, error) {
			on := d.Enabled
			return c.client.CreateSchedule(ctx, remote.ScheduleCreate{Command: d.Command, Description: d.Description,
				Enabled: &on, Interval: d.Interval, Hour: d.Hour, Minute: d.Minute})
		},
		del: func(ctx context.Context, key string) error {
			id, _ := strconv.Atoi(key)
			return c.client.DeleteSchedule(ctx, id)
		},
	}
	col.extras = func(key, path string) []Entry {
		return []Entry{
			c.fileEntry("task.json", path+"/task.json", k.jsonFile(key)),
			c.link("log", path+"/log", func() string {
				t, ok := k.cache.peekOne(key)
				if !ok {
					return ""
				}
				return taskLogLink(t.Logfile, c.client.Username())
			}),
		}
	}
	return col
}

func scheduleFields() []field[remote.ScheduledTask, remote.SchedulePatch] {
	type (
		T = remote.ScheduledTask
		P = remote.SchedulePatch
	)
	return []field[T, P]{
		{name: "command", mode: 0o644, show: func(t T) string { return t.Command },
			set:   func(t *T, v string) error { t.Command = v; return nonEmpty(v, "command") },
			patch: func(p *P, t *T) { p.Command = &t.Command }},
		{name: "description", mode: 0o644, show: func(t T) string { return t.Description },
			set:   func(t *T, v string) error { t.Description = v; return oneLine(v, "description") },
			patch: func(p *P, t *T) { p.Description = &t.Description }},
		{name: "enabled", mode: 0o644, show: func(t T) string { return formatBool(t.Enabled) },
			set:   func(t *T, v string) (err error) { t.Enabled, err = parseBool(v); return err },
			patch: func(p *P, t *T) { p.Enabled = &t.Enabled }},
		{name: "interval", mode: 0o644, show: func(t T) string { return t.Interval },
			patch: func(p *P, t *T) { p.Interval = &t.Interval },
			set: func(t *T, v string) error {
				if v != "daily" && v != "hourly" {
					return invalidf("interval is daily or hourly, not %q", v)
				}
				t.Interval = v
				return nil
			},
			// In the one-value file, hourly drops the hour; daily needs
			// one, and only the hour file can give it.
			setFile: func(t *T, v string) error {
				switch v {
				case "hourly":
					t.Interval, t.Hour = v, nil
				case "daily":
					if t.Hour == nil {
						return invalidf("an hourly task becomes daily when given an hour: echo 4 > hour")
					}
				default:
					return invalidf("interval is daily or hourly, not %q", v)
				}
				return nil
			}},
		// An hourly task's PATCH carries no hour, not even null: the
		// official clients never send one, and the server may refuse it.
		// "interval": "hourly" alone drops the hour.
		{name: "hour", mode: 0o644, show: func(t T) string { return showHour(t.Hour) },
			patch: func(p *P, t *T) {
				if t.Interval != "hourly" {
					p.Hour = t.Hour
				}
			},
			set: func(t *T, v string) error {
				if v == "" {
					t.Hour = nil
					return nil
				}
				h, err := parseInt(v, 0, 23)
				t.Hour = &h
				return err
			},
			// Writing an hour makes the task daily at that hour.
			setFile: func(t *T, v string) error {
				h, err := parseInt(v, 0, 23)
				t.Hour, t.Interval = &h, "daily"
				return err
			}},
		{name: "minute", mode: 0o644, show: func(t T) string { return strconv.Itoa(t.Minute) },
			set:   func(t *T, v string) (err error) { t.Minute, err = parseInt(v, 0, 59); return err },
			patch: func(p *P, t *T) { p.Minute = &t.Minute }},
	}
}

func showHour(h *int) string {
	if h == nil {
		return ""
	}
	return strconv.Itoa(*h)
}

// checkSchedule applies the API's cross-field rules before any request:
// hourly tasks have no hour (an hour left over from a daily task is
// dropped, an hour given with it is an error), daily tasks need one.
func checkSchedule(ctx context.Context, cur remote.ScheduledTask, d *remote.ScheduledTask, written map[string]bool) error {
	switch d.Interval {
	case "hourly":
		if d.Hour != nil && written["hour"] {
			return invalidf("hourly tasks have no hour (give \"hour\": null, or make it daily)")
		}
		d.Hour = nil
	case "daily":
		if d.Hour == nil {
			return invalidf("daily tasks need an hour (0-23)")
		}
	}
	return nil
}

// taskLogLink is the link from schedule/ID/log to the task's log in files/.
func taskLogLink(logfile, user string) string {
	if p := taskLogPath(logfile, user); p != "" {
		return "../../files" + p
	}
	return ""
}

// taskLogPath is the file of a task's log: logfile is a web path,
// /user/{u}/files/var/log/...; "" if it is not one.
func taskLogPath(logfile, user string) string {
	p := strings.TrimPrefix(logfile, "/user/"+user+"/files")
	if p == logfile && !strings.HasPrefix(p, "/var/") {
		if i := strings.Index(p, "/files/"); i >= 0 {
			p = p[i+len("/files"):]
		}
	}
	if !strings.HasPrefix(p, "/") {
		return ""
	}
	return p
}
