package control

import (
	"syscall"
	"time"
)

// The tree of the control folders as fs/ shows it: every name is an Entry,
// and every entry makes a Node, one of *Dir, *File, *Link and *Scratch.
// fs/ wraps each Node in a go-fuse node of its own; nothing here knows
// about FUSE.

// BlockSize is the block size control files report, so stdio writes whole
// blocks of it: a shorter write is the last one of its content (see
// valueDone).
const BlockSize = stdioBuf

// Node is what a name in a control folder shows: a *Dir, *File, *Link or
// *Scratch, and nothing else (isNode).
type Node interface {
	isNode()
	// Key names what the node shows ("file/webapps/example.com/python_version").
	// An inode whose node has the key of a new entry is kept rather than
	// replaced, so that inode numbers stay stable (vim checks that a
	// file's inode does not change between two stats).
	Key() string
}

// Entry is one name in a control folder.
type Entry struct {
	Name string
	Mode uint32 // syscall.S_IFDIR, S_IFREG or S_IFLNK
	Key  string // the Key of the nodes New makes
	// New makes the entry's node; each inode needs a node of its own (a
	// file's node holds the handles open on it).
	New func() Node
}

// orStarted is t, or the mount's start when t is unknown.
func (c *Control) orStarted(t time.Time) time.Time {
	if t.IsZero() {
		return c.started
	}
	return t
}

// Link is a symlink whose target may change (a task's log file is renamed
// when its schedule changes): each readlink asks Target.
type Link struct {
	c      *Control
	key    string
	target func() string
}

func (l *Link) Key() string { return l.key }
func (*Link) isNode()       {}

// Target is where the link points; "" when it points nowhere (ENOENT).
func (l *Link) Target() string { return l.target() }

// Mtime is the mount's start: links are made by the mount.
func (l *Link) Mtime() time.Time { return l.c.started }

// link is an entry for a symlink.
func (c *Control) link(name, key string, target func() string) Entry {
	key = "link/" + key
	return Entry{Name: name, Mode: syscall.S_IFLNK, Key: key,
		New: func() Node { return &Link{c: c, key: key, target: target} }}
}

// staticLink is a link with a fixed target.
func (c *Control) staticLink(name, key, target string) Entry {
	return c.link(name, key, func() string { return target })
}

// SetAttr is what a SETATTR asks for; nil members are left as they are.
type SetAttr struct {
	Size  *uint64
	Mode  *uint32
	Atime *time.Time
	Mtime *time.Time
}
