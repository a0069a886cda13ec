package emulator

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// AlwaysOnTask is an always-on task as the API sends it.
type AlwaysOnTask struct {
	ID          int    `json:"id"`
	URL         string `json:"url"`
	Command     string `json:"command"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
	State       string `json:"state"`

	// Restarts counts POSTs to restart/.
	Restarts int `json:"-"`
}

// state is "Running" when enabled, "Stopped" otherwise. The real server passes
// through "Starting"; the emulator starts tasks instantly.
func taskState(enabled bool) string {
	if enabled {
		return "Running"
	}
	return "Stopped"
}

func alwaysOnLog(id int) string { return fmt.Sprintf("/var/log/alwayson-log-%d.log", id) }

// addAlwaysOnLocked stores t with a fresh id and url, and creates its log file.
func (e *Emulator) addAlwaysOnLocked(t AlwaysOnTask) *AlwaysOnTask {
	t.ID = e.newIDLocked("always_on")
	t.URL = fmt.Sprintf("%s%s/always_on/%d/", apiPrefix, e.user, t.ID)
	t.State = taskState(t.Enabled)
	e.alwaysOn[t.ID] = &t
	e.appendLogLocked(alwaysOnLog(t.ID), "Always-on task started: "+t.Command)
	return &t
}

// appendLogLocked appends a timestamped line to a log file, creating it.
func (e *Emulator) appendLogLocked(p, line string) {
	now := time.Now()
	parts := splitPath(p)
	var old []byte
	if n := e.lookupLocked(parts); n != nil && !n.isDir() {
		old = n.data
	}
	data := append(append([]byte(nil), old...), now.UTC().Format("2006-01-02 15:04:05")+" -- "+line+"\n"...)
	_, _ = e.putFileLocked(parts, data, now, true)
}

func (e *Emulator) alwaysOnList(*call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	return jsonResponse(http.StatusOK, e.render("always_on", e.alwaysOnTasksLocked()))
}

func (e *Emulator) alwaysOnTasksLocked() []AlwaysOnTask {
	out := []AlwaysOnTask{}
	for _, t := range e.alwaysOn {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// alwaysOnFields validates command/description/enabled; on create, command is required.
func alwaysOnFields(f fields, t *AlwaysOnTask, create bool) *response {
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
	return v.result()
}

func (e *Emulator) alwaysOnCreate(c *call) response {
	f, bad := parseBody(c.r)
	if bad != nil {
		return *bad
	}
	t := AlwaysOnTask{Enabled: true}
	if bad := alwaysOnFields(f, &t, true); bad != nil {
		return *bad
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return jsonResponse(http.StatusCreated, e.render("always_on", *e.addAlwaysOnLocked(t)))
}

func (e *Emulator) alwaysOnLocked(c *call) *AlwaysOnTask {
	id, _ := strconv.Atoi(c.args[0])
	return e.alwaysOn[id]
}

func (e *Emulator) alwaysOnGet(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.alwaysOnLocked(c); t != nil {
		return jsonResponse(http.StatusOK, e.render("always_on", *t))
	}
	return notFound()
}

// alwaysOnUpdate serves PATCH (only the fields sent change) and PUT (DRF's full
// update: the fields a create requires must be sent; the others keep their values).
func (e *Emulator) alwaysOnUpdate(c *call) response {
	f, bad := parseBody(c.r)
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.alwaysOnLocked(c)
	switch {
	case t == nil:
		return notFound() // DRF views look the object up before reading the body
	case bad != nil:
		return *bad
	}
	updated := *t
	if bad := alwaysOnFields(f, &updated, isPut(c)); bad != nil {
		return *bad // nothing is applied on error
	}
	updated.State = taskState(updated.Enabled)
	*t = updated
	return jsonResponse(http.StatusOK, e.render("always_on", *t))
}

func (e *Emulator) alwaysOnDelete(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.alwaysOnLocked(c)
	if t == nil {
		return notFound()
	}
	delete(e.alwaysOn, t.ID)
	return noContent()
}

func (e *Emulator) alwaysOnRestart(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.alwaysOnLocked(c)
	if t == nil {
		return notFound()
	}
	t.Restarts++
	e.appendLogLocked(alwaysOnLog(t.ID), "Always-on task restarted: "+t.Command)
	return statusOK()
}

// AddAlwaysOnTask stores a task as POST always_on/ would (ID, URL and State are
// filled in) and returns its id.
func (e *Emulator) AddAlwaysOnTask(t AlwaysOnTask) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.addAlwaysOnLocked(t).ID
}

// AlwaysOnTasks returns every always-on task by id, with Restarts.
func (e *Emulator) AlwaysOnTasks() []AlwaysOnTask {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.alwaysOnTasksLocked()
}
