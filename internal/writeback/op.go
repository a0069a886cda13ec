// Package writeback is the persistent queue of changes waiting to reach the
// server: uploads, deletes and directory creations. Every op is journalled as
// a file before it is acknowledged, so a crash or kill -9 loses nothing: the
// next run finds the journal and carries on. Ops run after a short delay (so
// an editor's temp-file dance collapses into one upload), in an order that
// respects overlapping paths, and failures are retried with backoff until
// they pass, unless the executor sets an op aside (SetAside: refused for
// good, its data kept elsewhere).
package writeback

import (
	"time"

	"github.com/pafs/pafs/internal/rpath"
)

// Kind is what an op does on the server.
type Kind string

const (
	Upload Kind = "upload" // POST files/path with the content of a cache item
	Delete Kind = "delete" // DELETE files/path (recursive for directories)
	Mkdir  Kind = "mkdir"  // create an empty directory (placeholder upload + delete)
)

// Op is one queued change.
type Op struct {
	ID        uint64    `json:"id"`
	Kind      Kind      `json:"kind"`
	Path      string    `json:"path"`
	Item      string    `json:"item,omitempty"` // content cache item holding the data of an upload
	Size      int64     `json:"size,omitempty"` // bytes to upload, for progress reports
	After     []uint64  `json:"after,omitempty"`
	Held      bool      `json:"held,omitempty"` // not ready: the file is still open for writing
	Sent      bool      `json:"sent,omitempty"` // an attempt was started: the server may have (or get) it
	NotBefore time.Time `json:"not_before"`
	Tries     int       `json:"tries,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	Permanent bool      `json:"permanent,omitempty"` // the last error will not go away by retrying
	LastTry   time.Time `json:"last_try,omitempty"`
	Created   time.Time `json:"created"`

	// From, on an upload, is the path the file was renamed from while the
	// delete of that path is being journalled: the op does not start, and if
	// the run dies before the delete is written, the next Open writes it (a
	// rename is an upload and a delete; a crash must leave both or neither).
	// The renamer clears it once the delete is journalled.
	From string `json:"from,omitempty"`
	// Deadline, if set, is when the op runs at the latest, held or pushed
	// back (NotBefore) or not: the maximum write-back delay of a file that
	// keeps being written.
	Deadline time.Time `json:"deadline,omitzero"`
	// Dir marks the delete of a directory; Deleted lists, relative to Path,
	// what was deleted inside it here. The API's delete is recursive, so the
	// directory goes whole only if a fresh listing finds nothing else in it.
	Dir     bool     `json:"dir,omitempty"`
	Deleted []string `json:"deleted,omitempty"`
	// Base is what the server held at Path when the change began, as far as
	// pafs knew: the hex SHA-256 of its content, BaseAbsent, or "" (not
	// known). A later run replaying the op compares it with what the server
	// holds then, so that it never overwrites a change made since.
	Base string `json:"base,omitempty"`
	// SentSums are the hex SHA-256 of the contents attempts of this upload
	// sent: what the server may hold by this op's own doing.
	SentSums []string `json:"sent_sums,omitempty"`
}

// BaseAbsent is the Base of a change to a path the server did not have.
const BaseAbsent = "absent"

// overlaps reports whether two ops touch the same part of the tree, in which
// case the later one must wait for the earlier.
func (o *Op) overlaps(p *Op) bool { return rpath.Overlaps(o.Path, p.Path) }

// Status is an op as reported to users.
type Status struct {
	Op
	InFlight bool
}
