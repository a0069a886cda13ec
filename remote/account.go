package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Account-level resources (docs/api.md, "Account settings and students").

// PythonKind names one of the account's default Python version settings;
// its value is also the endpoint and the JSON member of the setting.
type PythonKind string

const (
	// Python3 is the version "python3" runs in consoles and tasks.
	Python3 PythonKind = "default_python3_version"
	// PythonDefault is the version "python" runs.
	PythonDefault PythonKind = "default_python_version"
	// SaveAndRun is the version the editor's "Save and Run" uses.
	SaveAndRun PythonKind = "default_save_and_run_python_version"
)

// CPU returns the day's CPU usage and quota.
func (c *Client) CPU(ctx context.Context) (CPUUsage, error) {
	var out CPUUsage
	err := c.get(ctx, ep("cpu"), &out)
	return out, err
}

// PythonVersion returns a default Python version setting and the versions
// it may take, all in the "3.10" form.
func (c *Client) PythonVersion(ctx context.Context, kind PythonKind) (Choice, error) {
	var raw map[string]json.RawMessage
	if err := c.get(ctx, ep(string(kind)), &raw); err != nil {
		return Choice{}, err
	}
	return pythonChoice(kind, raw), nil
}

// SetPythonVersion changes a default Python version setting. When the
// answer does not carry the setting, Current is what was set.
func (c *Client) SetPythonVersion(ctx context.Context, kind PythonKind, version string) (Choice, error) {
	version = NormalizePythonVersion(version)
	var raw map[string]json.RawMessage
	if _, err := c.send(ctx, http.MethodPatch, ep(string(kind)),
		map[string]string{string(kind): version}, &raw, true); err != nil {
		return Choice{}, err
	}
	ch := pythonChoice(kind, raw)
	if ch.Current == "" {
		ch.Current = version
	}
	return ch, nil
}

// pythonChoice reads {"<kind>": v, "available_python[3]_versions": [...]}.
// The list's name differs per kind, so both are tried.
func pythonChoice(kind PythonKind, raw map[string]json.RawMessage) Choice {
	ch := Choice{Current: NormalizePythonVersion(jsonText(raw[string(kind)]))}
	for _, k := range []string{"available_python3_versions", "available_python_versions"} {
		var list []any
		if decodeJSON(raw[k], &list) == nil && list != nil {
			for _, v := range list {
				ch.Available = append(ch.Available, NormalizePythonVersion(scalarText(v)))
			}
			break
		}
	}
	return ch
}

// scalarText renders a generic JSON scalar; versions may come as numbers.
func scalarText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return jsonText(b)
}

// SystemImage returns the account's system image and the available ones.
func (c *Client) SystemImage(ctx context.Context) (Choice, error) {
	var out systemImage
	if err := c.get(ctx, ep("system_image"), &out); err != nil {
		return Choice{}, err
	}
	return Choice(out), nil
}

// SetSystemImage changes the system image. When the answer does not carry
// the setting, Current is what was set.
func (c *Client) SetSystemImage(ctx context.Context, image string) (Choice, error) {
	var out systemImage
	if _, err := c.send(ctx, http.MethodPatch, ep("system_image"),
		map[string]string{"system_image": image}, &out, true); err != nil {
		return Choice{}, err
	}
	if out.Current == "" {
		out.Current = image
	}
	return Choice(out), nil
}

type systemImage struct {
	Current   string   `json:"system_image"`
	Available []string `json:"available_system_images"`
}

// ListStudents lists the account's students. The documented body is
// {"students": [{"username": ...}]}; a bare list, of objects or of names,
// is accepted too.
func (c *Client) ListStudents(ctx context.Context) ([]Student, error) {
	var raw json.RawMessage
	if err := c.get(ctx, ep("students"), &raw); err != nil {
		return nil, err
	}
	var wrapped struct {
		Students json.RawMessage `json:"students"`
	}
	if json.Unmarshal(raw, &wrapped) == nil && wrapped.Students != nil {
		raw = wrapped.Students
	}
	var students []Student
	if decodeJSON(raw, &students) == nil {
		return students, nil
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return nil, fmt.Errorf("GET students/: decoding response: %w", err)
	}
	students = make([]Student, 0, len(names))
	for _, n := range names {
		students = append(students, Student{Username: n})
	}
	return students, nil
}

// DeleteStudent removes a student from the account.
func (c *Client) DeleteStudent(ctx context.Context, name string) error {
	return c.del(ctx, ep("students", name))
}

// CanCreateTasks reports whether the account may create scheduled tasks.
func (c *Client) CanCreateTasks(ctx context.Context) (bool, error) {
	var out struct {
		CanCreateTasks bool `json:"can_create_tasks"`
	}
	err := c.get(ctx, ep("user_perms", "schedule"), &out)
	return out.CanCreateTasks, err
}
