package remote

import (
	"context"
	"net/http"
)

// Scheduled tasks (docs/api.md, "Scheduled tasks").

// ListSchedule lists the account's scheduled tasks.
func (c *Client) ListSchedule(ctx context.Context) ([]ScheduledTask, error) {
	var out []ScheduledTask
	err := c.get(ctx, ep("schedule"), &out)
	return out, err
}

// CreateSchedule creates a scheduled task. Hour must be nil for hourly tasks.
func (c *Client) CreateSchedule(ctx context.Context, req ScheduleCreate) (ScheduledTask, error) {
	var out ScheduledTask
	_, err := c.send(ctx, http.MethodPost, ep("schedule"), req, &out, false)
	return out, err
}

// GetSchedule fetches one scheduled task.
func (c *Client) GetSchedule(ctx context.Context, id int) (ScheduledTask, error) {
	var out ScheduledTask
	err := c.get(ctx, ep("schedule", idSeg(id)), &out)
	return out, err
}

// UpdateSchedule changes the fields set in patch. An hourly task takes no
// hour: "interval": "hourly" alone drops it, as the official clients do.
func (c *Client) UpdateSchedule(ctx context.Context, id int, patch SchedulePatch) (ScheduledTask, error) {
	var out ScheduledTask
	_, err := c.send(ctx, http.MethodPatch, ep("schedule", idSeg(id)), patch, &out, true)
	return out, err
}

// DeleteSchedule deletes a scheduled task.
func (c *Client) DeleteSchedule(ctx context.Context, id int) error {
	return c.del(ctx, ep("schedule", idSeg(id)))
}
