package control

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	pafsfs "github.com/pafs/pafs/fs"
)

// dirNode is every control folder. What it holds comes from list; what
// mkdir, rmdir and unlink mean is up to the folder (nil: refused with
// EPERM, never go-fuse's silent success). Editors' temp files are kept in
// memory (scratch.go) in folders that hold editable files.
type dirNode struct {
	gofs.Inode
	ident
	noXattr
	c       *Control
	path    string // mount-relative, for messages
	list    func(ctx context.Context) ([]entry, error)
	mkdir   func(ctx context.Context, name string) error
	rmdir   func(ctx context.Context, name string) error
	unlink  func(ctx context.Context, name string) error
	scratch *scratchDir
	mtime   func() time.Time // optional: when the folder's content last changed
	// quick, if set, answers lookups of names known without a listing
	// (new, latest), so creating an object costs no list request.
	quick func(name string) (entry, bool)
}

var (
	_ gofs.NodeLookuper  = (*dirNode)(nil)
	_ gofs.NodeReaddirer = (*dirNode)(nil)
	_ gofs.NodeGetattrer = (*dirNode)(nil)
	_ gofs.NodeSetattrer = (*dirNode)(nil)
	_ gofs.NodeCreater   = (*dirNode)(nil)
	_ gofs.NodeMkdirer   = (*dirNode)(nil)
	_ gofs.NodeRmdirer   = (*dirNode)(nil)
	_ gofs.NodeUnlinker  = (*dirNode)(nil)
	_ gofs.NodeRenamer   = (*dirNode)(nil)
	_ gofs.NodeSymlinker = (*dirNode)(nil)
	_ gofs.NodeLinker    = (*dirNode)(nil)
	_ gofs.NodeMknoder   = (*dirNode)(nil)
	_ gofs.NodeStatfser  = (*dirNode)(nil)
)

// newDir makes a folder node; key is its identity.
func (c *Control) newDir(path string, list func(context.Context) ([]entry, error)) *dirNode {
	return &dirNode{ident: ident{"dir/" + path}, c: c, path: path, list: list}
}

// dirEntry is an entry for the sub-folder at path, made by mk when the
// kernel first looks it up (each new inode needs a node of its own).
func dirEntry(name, path string, mk func() *dirNode) entry {
	return entry{name: name, mode: syscall.S_IFDIR, key: "dir/" + path, node: func() gofs.InodeEmbedder { return mk() }}
}

// find returns the entry called name.
func (d *dirNode) find(ctx context.Context, name string) (entry, syscall.Errno) {
	if d.quick != nil {
		if e, ok := d.quick(name); ok {
			return e, 0
		}
	}
	ents, err := d.list(ctx)
	if err != nil {
		return entry{}, errnoOf(err)
	}
	for _, e := range ents {
		if e.name == name {
			return e, 0
		}
	}
	return entry{}, syscall.ENOENT
}

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if d.scratch != nil {
		if ch := d.scratch.lookup(ctx, d, name); ch != nil {
			fillEntry(ctx, ch, out)
			return ch, 0
		}
	}
	e, errno := d.find(ctx, name)
	if errno != 0 {
		out.SetEntryTimeout(noNegative)
		return nil, errno
	}
	ch := childInode(ctx, d.EmbeddedInode(), e)
	fillEntry(ctx, ch, out)
	return ch, 0
}

// Readdir lists the folder sorted by name: go-fuse needs a stable order.
func (d *dirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents, err := d.list(ctx)
	if err != nil {
		return nil, errnoOf(err)
	}
	out := make([]fuse.DirEntry, 0, len(ents))
	for _, e := range ents {
		out = append(out, fuse.DirEntry{Name: e.name, Mode: e.mode})
	}
	if d.scratch != nil {
		for _, name := range d.scratch.names() {
			out = append(out, fuse.DirEntry{Name: name, Mode: syscall.S_IFREG})
		}
	}
	slices.SortFunc(out, func(a, b fuse.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	return gofs.NewListDirStream(slices.CompactFunc(out, func(a, b fuse.DirEntry) bool { return a.Name == b.Name })), 0
}

func (d *dirNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	t := d.c.started
	if d.mtime != nil {
		t = d.c.orStarted(d.mtime())
	}
	fillAttr(&out.Attr, syscall.S_IFDIR|0o755, 0, t)
	out.SetTimeout(dirAttrTimeout)
	return 0
}

// Setattr accepts and ignores times and modes (tar, rsync, cp -a).
func (d *dirNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return d.Getattr(ctx, fh, out)
}

// Create makes editors' temp files (in memory); opening an existing control
// file with O_CREAT lands here when the kernel had no entry for it.
func (d *dirNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if e, errno := d.find(ctx, name); errno == 0 {
		ch := childInode(ctx, d.EmbeddedInode(), e)
		op, ok := ch.Operations().(gofs.NodeOpener)
		if !ok {
			return nil, nil, 0, syscall.EISDIR
		}
		fh, fl, errno := op.Open(ctx, flags)
		if errno != 0 {
			return nil, nil, 0, errno
		}
		if h, ok := fh.(*fileHandle); ok && flags&syscall.O_TRUNC != 0 {
			h.truncate(0) // no SETATTR follows a CREATE
		}
		fillEntry(ctx, ch, out)
		return ch, fh, fl, 0
	}
	if d.scratch == nil || !isScratchName(name) {
		return nil, nil, 0, syscall.EACCES
	}
	ch, fh := d.scratch.create(ctx, d, name, mode)
	fillEntry(ctx, ch, out)
	return ch, fh, fuse.FOPEN_DIRECT_IO, 0
}

func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if d.mkdir == nil {
		return nil, syscall.EPERM
	}
	if errno := d.act(ctx, "mkdir", name, d.mkdir); errno != 0 {
		return nil, errno
	}
	e, errno := d.find(ctx, name)
	if errno != 0 {
		return nil, errno
	}
	ch := childInode(ctx, d.EmbeddedInode(), e)
	fillEntry(ctx, ch, out)
	return ch, 0
}

// Rmdir of an object's folder deletes the object, although the folder
// "contains" files: that is what rmdir means in control folders.
func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if _, errno := d.find(ctx, name); errno != 0 {
		return errno
	}
	if d.rmdir == nil {
		return syscall.EPERM
	}
	return d.act(ctx, "rmdir", name, d.rmdir)
}

func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if d.scratch != nil && d.scratch.remove(name) {
		return 0
	}
	if _, errno := d.find(ctx, name); errno != 0 {
		return errno
	}
	if d.unlink == nil {
		return syscall.EPERM
	}
	return d.act(ctx, "rm", name, d.unlink)
}

// act runs a folder operation on name in the background (see Control.run);
// its failure is reported even if the caller stopped waiting.
func (d *dirNode) act(ctx context.Context, op, name string, fn func(context.Context, string) error) syscall.Errno {
	return errnoOf(d.c.run(ctx, func(bg context.Context) error {
		err := fn(bg, name)
		d.c.fail(op, d.path+"/"+name, err)
		return err
	}))
}

// Rename is only for editors: a temp file renamed onto a control file is
// applied like a write of its content (sed -i), a control file renamed to a
// backup name leaves a copy and stays in place (vim). Nothing else moves.
func (d *dirNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*dirNode)
	if !ok || np != d {
		return syscall.EXDEV
	}
	if flags&renameExchange != 0 {
		return syscall.EINVAL
	}
	if d.scratch == nil {
		return syscall.EACCES
	}
	return d.scratch.rename(ctx, d, name, newName, flags)
}

// renameExchange and renameNoReplace are renameat2's flags.
const (
	renameNoReplace = 0x1
	renameExchange  = 0x2
)

// Links and special files have no meaning in control folders.
func (d *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (d *dirNode) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (d *dirNode) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// staticList is a list function for a folder whose names never change.
func staticList(ents ...entry) func(context.Context) ([]entry, error) {
	return func(context.Context) ([]entry, error) { return ents, nil }
}

// Statfs answers like the rest of the mount (go-fuse would answer zeros).
func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	pafsfs.FillStatfs(out)
	return 0
}
