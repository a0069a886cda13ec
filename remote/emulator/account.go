package emulator

import (
	"net/http"
	"slices"
	"time"
)

// Account holds the account-level resources: default Python versions, system
// image and CPU figures. Python versions use the "3.10" form.
type Account struct {
	DefaultPython3Version          string   `json:"default_python3_version"`
	AvailablePython3Versions       []string `json:"available_python3_versions"`
	DefaultPythonVersion           string   `json:"default_python_version"`
	AvailablePythonVersions        []string `json:"available_python_versions"`
	DefaultSaveAndRunPythonVersion string   `json:"default_save_and_run_python_version"`
	SystemImage                    string   `json:"system_image"`
	AvailableSystemImages          []string `json:"available_system_images"`
	CPU                            CPU      `json:"cpu"`
}

// CPU is the body of GET cpu/.
type CPU struct {
	DailyCPULimitSeconds      int     `json:"daily_cpu_limit_seconds"`
	DailyCPUTotalUsageSeconds float64 `json:"daily_cpu_total_usage_seconds"`
	// NextResetTime is ISO 8601 without a zone (UTC). Empty means "computed": the
	// next 03:26:37 UTC.
	NextResetTime string `json:"next_reset_time"`
}

// defaultAccount is a paid account on the current system image.
func defaultAccount() Account {
	versions := []string{"3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}
	return Account{
		DefaultPython3Version:          "3.10",
		AvailablePython3Versions:       versions,
		DefaultPythonVersion:           "3.10",
		AvailablePythonVersions:        slices.Clone(versions),
		DefaultSaveAndRunPythonVersion: "3.10",
		SystemImage:                    "innit",
		AvailableSystemImages:          []string{"glastonbury", "haggis", "innit"},
		CPU:                            CPU{DailyCPULimitSeconds: 4000},
	}
}

func (a Account) clone() Account {
	a.AvailablePython3Versions = slices.Clone(a.AvailablePython3Versions)
	a.AvailablePythonVersions = slices.Clone(a.AvailablePythonVersions)
	a.AvailableSystemImages = slices.Clone(a.AvailableSystemImages)
	return a
}

// cpuLocked fills in the computed reset time.
func (e *Emulator) cpuLocked() CPU {
	c := e.account.CPU
	if c.NextResetTime == "" {
		now := time.Now().UTC()
		reset := time.Date(now.Year(), now.Month(), now.Day(), 3, 26, 37, 0, time.UTC)
		if !reset.After(now) {
			reset = reset.AddDate(0, 0, 1)
		}
		c.NextResetTime = reset.Format("2006-01-02T15:04:05")
	}
	return c
}

func (e *Emulator) cpuGet(*call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	return jsonResponse(http.StatusOK, e.cpuLocked())
}

// setting is one of the four GET/PATCH account resources: a current value and
// the list it must be chosen from.
type setting struct {
	key, availKey string
	cur           func(a *Account) *string
	avail         func(a *Account) []string
}

var (
	python3Setting = setting{"default_python3_version", "available_python3_versions",
		func(a *Account) *string { return &a.DefaultPython3Version },
		func(a *Account) []string { return a.AvailablePython3Versions }}
	pythonSetting = setting{"default_python_version", "available_python_versions",
		func(a *Account) *string { return &a.DefaultPythonVersion },
		func(a *Account) []string { return a.AvailablePythonVersions }}
	saveAndRunSetting = setting{"default_save_and_run_python_version", "available_python_versions",
		func(a *Account) *string { return &a.DefaultSaveAndRunPythonVersion },
		func(a *Account) []string { return a.AvailablePythonVersions }}
	systemImageSetting = setting{"system_image", "available_system_images",
		func(a *Account) *string { return &a.SystemImage },
		func(a *Account) []string { return a.AvailableSystemImages }}
)

func (s setting) body(a *Account) map[string]any {
	return map[string]any{s.key: *s.cur(a), s.availKey: s.avail(a)}
}

// versionMethods serves GET, and PATCH/PUT (same thing: the one field is
// required and must be one of the available values).
func versionMethods(s setting) methods {
	get := func(e *Emulator, _ *call) response {
		e.mu.Lock()
		defer e.mu.Unlock()
		return jsonResponse(http.StatusOK, s.body(&e.account))
	}
	patch := func(e *Emulator, c *call) response {
		f, bad := parseBody(c.r)
		if bad != nil {
			return *bad
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		v := newValidator(f)
		val, _ := v.choice(s.key, s.avail(&e.account), true)
		if bad := v.result(); bad != nil {
			return *bad
		}
		*s.cur(&e.account) = val
		return jsonResponse(http.StatusOK, s.body(&e.account))
	}
	return methods{http.MethodGet: get, http.MethodPatch: patch, http.MethodPut: patch}
}

func (e *Emulator) studentList(*call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	list := []map[string]string{}
	for _, s := range e.students {
		list = append(list, map[string]string{"username": s})
	}
	return jsonResponse(http.StatusOK, map[string]any{"students": list})
}

func (e *Emulator) studentDelete(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := slices.Index(e.students, c.args[0])
	if i < 0 {
		return notFound()
	}
	e.students = slices.Delete(e.students, i, i+1)
	return noContent()
}

// Account returns the account-level state (with the CPU reset time filled in).
func (e *Emulator) Account() Account {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.account.clone()
	a.CPU = e.cpuLocked()
	return a
}

// SetAccount replaces the account-level state. Defaults are not validated
// against the available lists.
func (e *Emulator) SetAccount(a Account) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.account = a.clone()
}

// AddStudent adds a student (no-op if present).
func (e *Emulator) AddStudent(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.Contains(e.students, name) {
		e.students = append(e.students, name)
	}
}

// Students returns the students' user names.
func (e *Emulator) Students() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.students)
}
