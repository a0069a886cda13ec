package control

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Dir is every control folder. What it holds comes from list; what mkdir,
// rmdir and unlink mean is up to the folder (nil: refused with EPERM).
// Editors' temp files are kept in memory (scratch.go) in folders that hold
// editable files.
type Dir struct {
	c       *Control
	key     string
	path    string // mount-relative, for messages
	list    func(ctx context.Context) ([]Entry, error)
	mkdir   func(ctx context.Context, name string) error
	rmdir   func(ctx context.Context, name string) error
	unlink  func(ctx context.Context, name string) error
	scratch *scratchDir      // nil: no editor files here
	mtime   func() time.Time // optional: when the folder's content last changed
	// quick, if set, answers lookups of names known without a listing
	// (new, latest), so creating an object costs no list request.
	quick func(name string) (Entry, bool)
}

// newDir makes a folder; its key is its path.
func (c *Control) newDir(path string, list func(context.Context) ([]Entry, error)) *Dir {
	return &Dir{key: "dir/" + path, c: c, path: path, list: list}
}

// dirEntry is an entry for the sub-folder at path, made by mk when first
// looked up.
func dirEntry(name, path string, mk func() *Dir) Entry {
	return Entry{Name: name, Mode: syscall.S_IFDIR, Key: "dir/" + path, New: func() Node { return mk() }}
}

// staticList is a list function for a folder whose names never change.
func staticList(ents ...Entry) func(context.Context) ([]Entry, error) {
	return func(context.Context) ([]Entry, error) { return ents, nil }
}

func (d *Dir) Key() string { return d.key }
func (*Dir) isNode()       {}

// Path is the folder's path in the mount.
func (d *Dir) Path() string { return d.path }

// Mtime is when the folder's content last changed, as far as known.
func (d *Dir) Mtime() time.Time {
	if d.mtime == nil {
		return d.c.started
	}
	return d.c.orStarted(d.mtime())
}

// Find returns the entry called name, editors' files aside.
func (d *Dir) Find(ctx context.Context, name string) (Entry, error) {
	if d.quick != nil {
		if e, ok := d.quick(name); ok {
			return e, nil
		}
	}
	ents, err := d.list(ctx)
	if err != nil {
		return Entry{}, err
	}
	for _, e := range ents {
		if e.Name == name {
			return e, nil
		}
	}
	return Entry{}, syscall.ENOENT
}

// Lookup returns the entry called name: an editor's file, else what Find
// finds.
func (d *Dir) Lookup(ctx context.Context, name string) (Entry, error) {
	if d.scratch != nil {
		if f := d.scratch.get(name); f != nil {
			return d.scratch.entry(name, f), nil
		}
	}
	return d.Find(ctx, name)
}

// List is the folder's content and its editors' files, sorted by name
// (go-fuse needs a stable order), each name once.
func (d *Dir) List(ctx context.Context) ([]Entry, error) {
	ents, err := d.list(ctx)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(ents)
	if d.scratch != nil {
		for _, name := range d.scratch.names() {
			out = append(out, Entry{Name: name, Mode: syscall.S_IFREG})
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return slices.CompactFunc(out, func(a, b Entry) bool { return a.Name == b.Name }), nil
}

// Mkdir creates the object name (mkdir webapps/DOMAIN) and returns its
// entry.
func (d *Dir) Mkdir(ctx context.Context, name string) (Entry, error) {
	if d.mkdir == nil {
		return Entry{}, syscall.EPERM
	}
	if err := d.act(ctx, "mkdir", name, d.mkdir); err != nil {
		return Entry{}, err
	}
	return d.Find(ctx, name)
}

// Rmdir of an object's folder deletes the object, although the folder
// "contains" files: that is what rmdir means in control folders.
func (d *Dir) Rmdir(ctx context.Context, name string) error {
	if _, err := d.Find(ctx, name); err != nil {
		return err
	}
	if d.rmdir == nil {
		return syscall.EPERM
	}
	return d.act(ctx, "rmdir", name, d.rmdir)
}

// Unlink removes an editor's file, or what rm means in the folder (a
// student).
func (d *Dir) Unlink(ctx context.Context, name string) error {
	if d.scratch != nil && d.scratch.remove(name) {
		return nil
	}
	if _, err := d.Find(ctx, name); err != nil {
		return err
	}
	if d.unlink == nil {
		return syscall.EPERM
	}
	return d.act(ctx, "rm", name, d.unlink)
}

// act runs a folder operation on name in the background (see Control.run);
// its failure is reported even if the caller stopped waiting.
func (d *Dir) act(ctx context.Context, op, name string, fn func(context.Context, string) error) error {
	return d.c.run(ctx, func(bg context.Context) error {
		err := fn(bg, name)
		d.c.fail(op, d.path+"/"+name, err)
		return err
	})
}

// CreateScratch makes an editor's file called name (open with O_CREAT of
// a name the folder does not hold), or returns the one there is. Other
// new names are refused: EACCES.
func (d *Dir) CreateScratch(name string, mode uint32) (Entry, *Scratch, error) {
	if d.scratch == nil || !isScratchName(name) {
		return Entry{}, nil, syscall.EACCES
	}
	f := d.scratch.create(name, mode)
	return d.scratch.entry(name, f), f, nil
}

// renameExchange and renameNoReplace are renameat2's flags.
const (
	renameNoReplace = 0x1
	renameExchange  = 0x2
)

// Rename is only for editors: a temp file renamed onto a control file is
// applied like a write of its content (sed -i), a control file renamed to
// a backup name leaves a copy and stays in place (vim). Nothing else
// moves. notify are the names whose kernel entries are now wrong.
func (d *Dir) Rename(ctx context.Context, name, newName string, flags uint32) (notify []string, err error) {
	if flags&renameExchange != 0 {
		return nil, syscall.EINVAL
	}
	if d.scratch == nil {
		return nil, syscall.EACCES
	}
	return d.scratch.rename(ctx, d, name, newName, flags)
}
