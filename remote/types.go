package remote

import (
	"io"
	"time"
)

// This file holds the typed request and response bodies of the PythonAnywhere API
// (docs/api.md). Response structs are decoded
// liberally: unknown fields are ignored, nulls leave zero values, and the client
// normalises known variants (python310 vs 3.10, string booleans) after decoding.

// EntryType is the type of a directory entry as the files API reports it.
type EntryType string

const (
	TypeFile      EntryType = "file"
	TypeDirectory EntryType = "directory"
)

// DirEntry is one value of a directory listing: {"type": ..., "url": ...}.
// Any type other than "directory" is treated as a file by callers.
type DirEntry struct {
	Type EntryType `json:"type"`
	URL  string    `json:"url"`
}

// IsDir reports whether the entry is a directory.
func (e DirEntry) IsDir() bool { return e.Type == TypeDirectory }

// Download is an open file download. The caller must Close Body.
type Download struct {
	Body io.ReadCloser
	// Size is the Content-Length, or -1 when the server did not send one.
	Size int64
	// ModTime is the Last-Modified time, zero when the server did not send one
	// (the API documents none).
	ModTime time.Time
	// ContentType as sent by the server.
	ContentType string
}

// Console is a console object (docs/api.md, "Consoles").
type Console struct {
	ID               int    `json:"id"`
	User             string `json:"user"`
	Executable       string `json:"executable"`
	Arguments        string `json:"arguments"`
	WorkingDirectory string `json:"working_directory"`
	Name             string `json:"name"`
	ConsoleURL       string `json:"console_url"`
	ConsoleFrameURL  string `json:"console_frame_url"`
}

// ConsoleCreate is the body of POST consoles/.
type ConsoleCreate struct {
	Executable       string `json:"executable"`
	Arguments        string `json:"arguments,omitempty"`
	WorkingDirectory string `json:"working_directory,omitempty"`
}

// AlwaysOnTask is an always-on task object (docs/api.md, "Always-on tasks").
type AlwaysOnTask struct {
	ID          int    `json:"id"`
	URL         string `json:"url"`
	User        string `json:"user,omitempty"`
	Command     string `json:"command"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
	State       string `json:"state"`
}

// AlwaysOnCreate is the body of POST always_on/.
type AlwaysOnCreate struct {
	Command     string `json:"command"`
	Description string `json:"description,omitempty"`
	Enabled     *bool  `json:"enabled,omitempty"`
}

// AlwaysOnPatch is the body of PATCH always_on/{id}/; nil fields are not sent.
type AlwaysOnPatch struct {
	Command     *string `json:"command,omitempty"`
	Description *string `json:"description,omitempty"`
	Enabled     *bool   `json:"enabled,omitempty"`
}

// ScheduledTask is a scheduled task object (docs/api.md, "Scheduled tasks"). Hour is nil for hourly tasks.
type ScheduledTask struct {
	ID            int     `json:"id"`
	URL           string  `json:"url"`
	User          string  `json:"user"`
	Command       string  `json:"command"`
	Description   string  `json:"description"`
	Enabled       bool    `json:"enabled"`
	Interval      string  `json:"interval"`
	Hour          *int    `json:"hour"`
	Minute        int     `json:"minute"`
	PrintableTime string  `json:"printable_time"`
	CanEnable     bool    `json:"can_enable"`
	Expiry        *string `json:"expiry"`
	ExtendURL     string  `json:"extend_url"`
	Logfile       string  `json:"logfile"`
}

// ScheduleCreate is the body of POST schedule/.
type ScheduleCreate struct {
	Command     string `json:"command"`
	Description string `json:"description,omitempty"`
	Enabled     *bool  `json:"enabled,omitempty"`
	Interval    string `json:"interval"`
	Hour        *int   `json:"hour,omitempty"`
	Minute      int    `json:"minute"`
}

// SchedulePatch is the body of PATCH schedule/{id}/; nil fields are not sent
// (so an hour is never sent as null: hourly tasks take none).
type SchedulePatch struct {
	Command     *string `json:"command,omitempty"`
	Description *string `json:"description,omitempty"`
	Enabled     *bool   `json:"enabled,omitempty"`
	Interval    *string `json:"interval,omitempty"`
	Hour        *int    `json:"hour,omitempty"`
	Minute      *int    `json:"minute,omitempty"`
}

// Webapp is a classic WSGI web app object (docs/api.md, "Web apps"). PythonVersion is normalised to
// the "3.10" form whatever the server sent. Enabled is nil when the server does
// not report it.
type Webapp struct {
	ID                         int    `json:"id"`
	User                       string `json:"user"`
	DomainName                 string `json:"domain_name"`
	PythonVersion              string `json:"python_version"`
	SourceDirectory            string `json:"source_directory"`
	WorkingDirectory           string `json:"working_directory"`
	VirtualenvPath             string `json:"virtualenv_path"`
	Expiry                     string `json:"expiry"`
	ForceHTTPS                 bool   `json:"force_https"`
	PasswordProtectionEnabled  bool   `json:"password_protection_enabled"`
	PasswordProtectionUsername string `json:"password_protection_username"`
	PasswordProtectionPassword string `json:"password_protection_password"`
	Enabled                    *bool  `json:"enabled,omitempty"`
}

// WebappPatch is the body of PATCH webapps/{domain}/; nil fields are not sent.
// PythonVersion is given in the "3.10" form.
type WebappPatch struct {
	PythonVersion              *string `json:"python_version,omitempty"`
	SourceDirectory            *string `json:"source_directory,omitempty"`
	WorkingDirectory           *string `json:"working_directory,omitempty"`
	VirtualenvPath             *string `json:"virtualenv_path,omitempty"`
	ForceHTTPS                 *bool   `json:"force_https,omitempty"`
	PasswordProtectionEnabled  *bool   `json:"password_protection_enabled,omitempty"`
	PasswordProtectionUsername *string `json:"password_protection_username,omitempty"`
	PasswordProtectionPassword *string `json:"password_protection_password,omitempty"`
}

// SSLInfo is the body of GET webapps/{domain}/ssl/.
type SSLInfo struct {
	NotAfter              string   `json:"not_after"`
	IssuerName            string   `json:"issuer_name"`
	SubjectName           string   `json:"subject_name"`
	SubjectAlternateNames []string `json:"subject_alternate_names"`
	CertType              string   `json:"cert_type,omitempty"`
}

// StaticFile is a static file mapping (docs/api.md, "Web apps").
type StaticFile struct {
	ID   int    `json:"id"`
	URL  string `json:"url"`
	Path string `json:"path"`
}

// StaticHeader is a static header mapping (docs/api.md, "Web apps").
type StaticHeader struct {
	ID    int    `json:"id"`
	URL   string `json:"url"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CPUUsage is the body of GET cpu/. NextResetTime is kept as sent (ISO time
// without zone, UTC by the docs).
type CPUUsage struct {
	DailyCPULimitSeconds      float64 `json:"daily_cpu_limit_seconds"`
	DailyCPUTotalUsageSeconds float64 `json:"daily_cpu_total_usage_seconds"`
	NextResetTime             string  `json:"next_reset_time"`
}

// Choice is a current setting and its allowed values: the default Python
// versions and the system image (docs/api.md, "Account settings and students").
type Choice struct {
	Current   string
	Available []string
}

// Student is one entry of GET students/.
type Student struct {
	Username string `json:"username"`
}
