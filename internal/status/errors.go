// Package status gathers what a mount is doing — rate-limit budgets, the
// upload queue, cache hit rates, recent errors — into one report, shown as
// MOUNTPOINT/.pafs/status (text) and .pafs/status.json.
package status

import (
	"sync"
	"time"
)

// Event is one failure worth showing to the user.
type Event struct {
	Time    time.Time `json:"time"`
	Op      string    `json:"op"`
	Path    string    `json:"path"`
	Message string    `json:"message"`
}

// Errors keeps the last few failures (newest last).
type Errors struct {
	mu     sync.Mutex // guards events and total
	events []Event
	max    int
	total  int
}

// NewErrors returns a ring of the last n errors.
func NewErrors(n int) *Errors { return &Errors{max: n} }

// Add records a failure of op on path.
func (e *Errors) Add(op, path string, err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.total++
	e.events = append(e.events, Event{Time: time.Now(), Op: op, Path: path, Message: err.Error()})
	if len(e.events) > e.max {
		e.events = e.events[len(e.events)-e.max:]
	}
}

// List returns the recorded failures, oldest first, and how many there were in all.
func (e *Errors) List() ([]Event, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.events...), e.total
}
