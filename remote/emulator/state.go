package emulator

import (
	"maps"
	"time"
)

// idBase gives each kind of object its own id range, so a client that mixes up
// ids (a console id used as a task id) gets a 404 instead of the wrong object.
var idBase = map[string]int{
	"console": 1000, "always_on": 2000, "schedule": 3000,
	"webapp": 4000, "static_file": 5000, "static_header": 6000,
}

// initState creates an empty account: the writable roots (home directory, /tmp,
// /var/www, /var/log) and the read-only system directories of a sandbox.
func (e *Emulator) initState() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	e.root = newDirNode(now)
	for _, d := range append(e.WritableRoots(), systemDirs...) {
		_, _ = e.mkdirAllLocked(splitPath(d), now, true)
	}
	e.consoles = map[int]*consoleState{}
	e.alwaysOn = map[int]*AlwaysOnTask{}
	e.schedule = map[int]*ScheduledTask{}
	e.webapps = map[string]*webappState{}
	e.students = nil
	e.shares = map[string]string{}
	e.account = defaultAccount()
	e.nextID = map[string]int{}
	e.scheduleLimit = DefaultScheduleLimit
	e.webappLimit = 0
}

func (e *Emulator) newIDLocked(kind string) int {
	if e.nextID[kind] == 0 {
		e.nextID[kind] = idBase[kind]
	}
	e.nextID[kind]++
	return e.nextID[kind]
}

// Shares returns the shared paths and their URLs.
func (e *Emulator) Shares() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.shares)
}

// Reset empties the account (and reloads the demo data if demo is true). Stats,
// rate-limit windows and faults are left alone.
func (e *Emulator) Reset(demo bool) {
	e.initState()
	if demo {
		e.loadDemo()
	}
}

// Snapshot is every object of the account, for tests and GET /__emulator/state.
type Snapshot struct {
	Webapps        []Webapp                  `json:"webapps"`
	Reloads        map[string]int            `json:"reloads"` // domain → reloads
	StaticFiles    map[string][]StaticFile   `json:"static_files"`
	StaticHeaders  map[string][]StaticHeader `json:"static_headers"`
	ScheduledTasks []ScheduledTask           `json:"scheduled_tasks"`
	AlwaysOnTasks  []AlwaysOnTask            `json:"always_on_tasks"`
	Restarts       map[int]int               `json:"restarts"` // always-on id → restarts
	Consoles       []ConsoleSnapshot         `json:"consoles"`
	Students       []string                  `json:"students"`
	Account        Account                   `json:"account"`
	Shares         map[string]string         `json:"shares"`
}

// ConsoleSnapshot is a console with the hidden fields made visible.
type ConsoleSnapshot struct {
	Console
	Started bool   `json:"started"`
	Shared  bool   `json:"shared"`
	Output  string `json:"output"`
	Input   string `json:"input"`
}

// Snapshot returns a copy of every object.
func (e *Emulator) Snapshot() Snapshot {
	s := Snapshot{Account: e.Account(), Reloads: map[string]int{}, StaticFiles: map[string][]StaticFile{},
		StaticHeaders: map[string][]StaticHeader{}, Restarts: map[int]int{}}
	e.mu.Lock()
	defer e.mu.Unlock()
	s.Webapps = e.webappsLocked()
	for _, w := range s.Webapps {
		st := e.webapps[w.DomainName]
		s.Reloads[w.DomainName] = w.Reloads
		s.StaticFiles[w.DomainName] = fileSpec.sorted(st)
		s.StaticHeaders[w.DomainName] = headerSpec.sorted(st)
	}
	s.ScheduledTasks = e.tasksLocked()
	s.AlwaysOnTasks = e.alwaysOnTasksLocked()
	for _, t := range s.AlwaysOnTasks {
		s.Restarts[t.ID] = t.Restarts
	}
	s.Consoles = []ConsoleSnapshot{}
	for _, c := range e.sortedConsolesLocked() {
		s.Consoles = append(s.Consoles, ConsoleSnapshot{Console: c.Console, Started: c.Started, Shared: c.Shared,
			Output: c.output, Input: c.input})
	}
	s.Students = append([]string{}, e.students...)
	s.Shares = maps.Clone(e.shares)
	return s
}
