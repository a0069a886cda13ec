package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/pafs/pafs/internal/control"
)

// controlDir is every control folder, over control.Dir. What mkdir, rmdir
// and unlink mean is up to the folder; nothing falls to go-fuse's silent
// defaults.
type controlDir struct {
	gofs.Inode
	keyed
	noXattr
	d *control.Dir
}

var (
	_ gofs.NodeLookuper  = (*controlDir)(nil)
	_ gofs.NodeReaddirer = (*controlDir)(nil)
	_ gofs.NodeGetattrer = (*controlDir)(nil)
	_ gofs.NodeSetattrer = (*controlDir)(nil)
	_ gofs.NodeCreater   = (*controlDir)(nil)
	_ gofs.NodeMkdirer   = (*controlDir)(nil)
	_ gofs.NodeRmdirer   = (*controlDir)(nil)
	_ gofs.NodeUnlinker  = (*controlDir)(nil)
	_ gofs.NodeRenamer   = (*controlDir)(nil)
	_ gofs.NodeSymlinker = (*controlDir)(nil)
	_ gofs.NodeLinker    = (*controlDir)(nil)
	_ gofs.NodeMknoder   = (*controlDir)(nil)
	_ gofs.NodeStatfser  = (*controlDir)(nil)
)

func (d *controlDir) child(ctx context.Context, e control.Entry, out *fuse.EntryOut) *gofs.Inode {
	ch := childInode(ctx, d.EmbeddedInode(), e)
	fillControlEntry(ctx, ch, out)
	return ch
}

func (d *controlDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	e, err := d.d.Lookup(ctx, name)
	if err != nil {
		out.SetEntryTimeout(noNegative)
		return nil, Errno(err)
	}
	return d.child(ctx, e, out), 0
}

func (d *controlDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents, err := d.d.List(ctx)
	if err != nil {
		return nil, Errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(ents))
	for _, e := range ents {
		out = append(out, fuse.DirEntry{Name: e.Name, Mode: e.Mode})
	}
	return gofs.NewListDirStream(withDots(out)), 0
}

func (d *controlDir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillControlAttr(&out.Attr, syscall.S_IFDIR|0o755, 0, d.d.Mtime())
	out.SetTimeout(dirAttrTimeout)
	return 0
}

// Setattr accepts and ignores times and modes (tar, rsync, cp -a).
func (d *controlDir) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return d.Getattr(ctx, fh, out)
}

// Create opens an existing control file when the kernel had no entry for
// it (O_CREAT), else makes an editor's temp file (in memory).
func (d *controlDir) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if e, err := d.d.Find(ctx, name); err == nil {
		ch := childInode(ctx, d.EmbeddedInode(), e)
		op, ok := ch.Operations().(gofs.NodeOpener)
		if !ok {
			return nil, nil, 0, syscall.EISDIR
		}
		fh, fl, errno := op.Open(ctx, flags)
		if errno != 0 {
			return nil, nil, 0, errno
		}
		if h, ok := fh.(*controlHandle); ok && flags&syscall.O_TRUNC != 0 {
			h.h.Truncate(0) // no SETATTR follows a CREATE
		}
		fillControlEntry(ctx, ch, out)
		return ch, fh, fl, 0
	}
	e, s, err := d.d.CreateScratch(name, mode)
	if err != nil {
		return nil, nil, 0, Errno(err)
	}
	return d.child(ctx, e, out), &controlHandle{h: s.Open()}, fuse.FOPEN_DIRECT_IO, 0
}

func (d *controlDir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	e, err := d.d.Mkdir(ctx, name)
	if err != nil {
		return nil, Errno(err)
	}
	return d.child(ctx, e, out), 0
}

func (d *controlDir) Rmdir(ctx context.Context, name string) syscall.Errno {
	return Errno(d.d.Rmdir(ctx, name))
}

func (d *controlDir) Unlink(ctx context.Context, name string) syscall.Errno {
	return Errno(d.d.Unlink(ctx, name))
}

// Rename is only for editors, within a folder (control.Dir.Rename); the
// kernel is told to look up again the names whose entries it got wrong.
func (d *controlDir) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*controlDir)
	if !ok || np != d {
		return syscall.EXDEV
	}
	notify, err := d.d.Rename(ctx, name, newName, flags)
	if err != nil {
		return Errno(err)
	}
	if len(notify) > 0 {
		go func() {
			for _, n := range notify {
				_ = d.NotifyEntry(n) // ENOENT: the kernel never looked it up
			}
		}()
	}
	return 0
}

// Links and special files have no meaning in control folders.
func (d *controlDir) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (d *controlDir) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (d *controlDir) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Statfs answers like the rest of the mount (go-fuse would answer zeros).
func (d *controlDir) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	FillStatfs(out)
	return 0
}
