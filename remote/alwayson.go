package remote

import (
	"context"
	"net/http"
)

// Always-on tasks (docs/api.md, "Always-on tasks").

// ListAlwaysOn lists the account's always-on tasks.
func (c *Client) ListAlwaysOn(ctx context.Context) ([]AlwaysOnTask, error) {
	var out []AlwaysOnTask
	err := c.get(ctx, ep("always_on"), &out)
	return out, err
}

// CreateAlwaysOn creates an always-on task (paid accounts only).
func (c *Client) CreateAlwaysOn(ctx context.Context, req AlwaysOnCreate) (AlwaysOnTask, error) {
	var out AlwaysOnTask
	_, err := c.send(ctx, http.MethodPost, ep("always_on"), req, &out, false)
	return out, err
}

// GetAlwaysOn fetches one always-on task.
func (c *Client) GetAlwaysOn(ctx context.Context, id int) (AlwaysOnTask, error) {
	var out AlwaysOnTask
	err := c.get(ctx, ep("always_on", idSeg(id)), &out)
	return out, err
}

// UpdateAlwaysOn changes the fields set in patch and returns the task.
func (c *Client) UpdateAlwaysOn(ctx context.Context, id int, patch AlwaysOnPatch) (AlwaysOnTask, error) {
	var out AlwaysOnTask
	_, err := c.send(ctx, http.MethodPatch, ep("always_on", idSeg(id)), patch, &out, true)
	return out, err
}

// DeleteAlwaysOn stops and deletes an always-on task.
func (c *Client) DeleteAlwaysOn(ctx context.Context, id int) error {
	return c.del(ctx, ep("always_on", idSeg(id)))
}

// RestartAlwaysOn restarts an always-on task. Its answer's content is
// undocumented and ignored.
func (c *Client) RestartAlwaysOn(ctx context.Context, id int) error {
	_, err := c.send(ctx, http.MethodPost, ep("always_on", idSeg(id), "restart"), nil, nil, false)
	return err
}
