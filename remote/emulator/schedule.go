package emulator

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// ScheduledTask is a scheduled task as the API sends it.
type ScheduledTask struct {
	ID            int     `json:"id"`
	URL           string  `json:"url"`
	User          string  `json:"user"`
	Command       string  `json:"command"`
	Description   string  `json:"description"`
	Enabled       bool    `json:"enabled"`
	Interval      string  `json:"interval"` // "daily" or "hourly"
	Hour          *int    `json:"hour"`     // nil for hourly tasks
	Minute        int     `json:"minute"`
	PrintableTime string  `json:"printable_time"`
	CanEnable     bool    `json:"can_enable"`
	Expiry        *string `json:"expiry"` // "YYYY-MM-DD" or null
	ExtendURL     string  `json:"extend_url"`
	Logfile       string  `json:"logfile"` // web path: /user/{u}/files/var/log/...
}

// DefaultScheduleLimit is the paid-account task limit; beyond it POST answers 403.
const DefaultScheduleLimit = 20

var nonSlug = regexp.MustCompile(`[^A-Za-z0-9]+`)

// deriveTaskLocked fills the fields the server computes, and creates the task's log
// file. The log name depends on the schedule, so it changes when that does.
func (e *Emulator) deriveTaskLocked(t *ScheduledTask) {
	t.User = e.user
	t.URL = fmt.Sprintf("%s%s/schedule/%d", apiPrefix, e.user, t.ID)
	t.ExtendURL = fmt.Sprintf("/user/%s/schedule/task/%d/extend", e.user, t.ID)
	when := fmt.Sprintf("hourly-at-%02d", t.Minute)
	t.PrintableTime = fmt.Sprintf("%02d minutes past", t.Minute)
	if t.Interval == "daily" && t.Hour != nil {
		when = fmt.Sprintf("daily-at-%02d%02d", *t.Hour, t.Minute)
		t.PrintableTime = fmt.Sprintf("%02d:%02d", *t.Hour, t.Minute)
	}
	slug := nonSlug.ReplaceAllString(t.Command, "_")
	if len(slug) > 40 {
		slug = slug[:40]
	}
	logPath := fmt.Sprintf("/var/log/tasklog-%d-%s-%s.log", t.ID, when, slug)
	t.Logfile = "/user/" + e.user + "/files" + logPath
	if e.lookupLocked(splitPath(logPath)) == nil {
		_, _ = e.putFileLocked(splitPath(logPath), []byte{}, time.Now(), true)
	}
}

func (e *Emulator) addTaskLocked(t ScheduledTask) *ScheduledTask {
	t.ID = e.newIDLocked("schedule")
	e.deriveTaskLocked(&t)
	e.schedule[t.ID] = &t
	return &t
}

// scheduleFields validates a body onto t: field errors first (all of them, like a
// DRF serializer), then the cross-field rules. create also serves PUT (required
// fields); strictHour refuses "hour": null for hourly tasks (unless
// Quirks.AcceptNullHourOnHourly).
func scheduleFields(f fields, t *ScheduledTask, create, strictHour bool) *response {
	v := newValidator(f)
	if s, ok := v.str("command", create, false); ok {
		t.Command = s
	}
	if s, ok := v.str("description", false, true); ok {
		t.Description = s
	}
	if b, ok := v.boolean("enabled"); ok {
		t.Enabled = b
	}
	if s, ok := v.choice("interval", []string{"daily", "hourly"}, create); ok {
		t.Interval = s
	}
	if m, ok := v.integer("minute", 0, 59, create, false); ok {
		t.Minute = *m
	}
	hour, hourSent := v.integer("hour", 0, 23, false, true)
	if bad := v.result(); bad != nil {
		return bad
	}
	if hourSent {
		t.Hour = hour
	}
	switch {
	case t.Interval == "hourly" && hourSent && (hour != nil || strictHour):
		r := nonFieldError("Hourly tasks must not have an hour.")
		return &r
	case t.Interval == "hourly":
		t.Hour = nil
	case t.Hour == nil:
		r := nonFieldError("Daily tasks must have an hour.")
		return &r
	}
	return nil
}

func (e *Emulator) scheduleList(*call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	return jsonResponse(http.StatusOK, e.render("schedule", e.tasksLocked()))
}

func (e *Emulator) tasksLocked() []ScheduledTask {
	out := []ScheduledTask{}
	for _, t := range e.schedule {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (e *Emulator) scheduleCreate(c *call) response {
	f, bad := parseBody(c.r)
	if bad != nil {
		return *bad
	}
	t := ScheduledTask{Enabled: true}
	if bad := scheduleFields(f, &t, true, !e.quirk().AcceptNullHourOnHourly); bad != nil {
		return *bad
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.scheduleLimit > 0 && len(e.schedule) >= e.scheduleLimit {
		return detail(http.StatusForbidden, "You have reached your maximum number of scheduled tasks")
	}
	return jsonResponse(http.StatusCreated, e.render("schedule", *e.addTaskLocked(t)))
}

func (e *Emulator) taskLocked(c *call) *ScheduledTask {
	id, _ := strconv.Atoi(c.args[0])
	return e.schedule[id]
}

func (e *Emulator) scheduleGet(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.taskLocked(c); t != nil {
		return jsonResponse(http.StatusOK, e.render("schedule", *t))
	}
	return notFound()
}

// scheduleUpdate serves PATCH and PUT: the fields sent are merged into the task
// and the result validated as a whole; nothing changes on error. PUT is DRF's full
// update: command, interval and minute are required, as on create.
func (e *Emulator) scheduleUpdate(c *call) response {
	f, bad := parseBody(c.r)
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.taskLocked(c)
	switch {
	case t == nil:
		return notFound()
	case bad != nil:
		return *bad
	}
	updated := *t
	if bad := scheduleFields(f, &updated, isPut(c), !e.quirk().AcceptNullHourOnHourly); bad != nil {
		return *bad
	}
	e.deriveTaskLocked(&updated)
	*t = updated
	return jsonResponse(http.StatusOK, e.render("schedule", *t))
}

func (e *Emulator) scheduleDelete(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.taskLocked(c)
	if t == nil {
		return notFound()
	}
	delete(e.schedule, t.ID)
	return noContent()
}

// schedulePerms answers whether the plan allows tasks at all (it always does
// here), not whether the limit is reached.
func (e *Emulator) schedulePerms(*call) response {
	return jsonResponse(http.StatusOK, map[string]bool{"can_create_tasks": true})
}

// AddScheduledTask stores a task as POST schedule/ would (derived fields are
// filled in; Interval "hourly" drops Hour) and returns its id. It skips validation.
func (e *Emulator) AddScheduledTask(t ScheduledTask) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t.Interval != "daily" {
		t.Interval, t.Hour = "hourly", nil
	}
	return e.addTaskLocked(t).ID
}

// ScheduledTasks returns every scheduled task by id.
func (e *Emulator) ScheduledTasks() []ScheduledTask {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tasksLocked()
}

// SetScheduleLimit sets how many tasks POST schedule/ allows (0: unlimited).
func (e *Emulator) SetScheduleLimit(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.scheduleLimit = n
}
