package fs

import (
	"context"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/pafs/pafs/internal/vfs"
)

// filesTree is what every node of files/ shares: the vfs and the inode of
// files/ itself, from which a node's remote path is derived.
type filesTree struct {
	vfs  *vfs.FS
	root *gofs.Inode
}

// remotePath returns the remote path of inode n ("/" for files/ itself). An
// inode that was renamed over or unlinked while the kernel still used it has
// no path in the tree any more; it keeps answering for the last path it had
// (an open racing an overwriting rename sees the new file, as it may).
func (t *filesTree) remotePath(n *gofs.Inode, last *pathMemo) string {
	if _, parent := n.Parent(); parent == nil && n != t.root {
		return last.get()
	}
	p := "/" + n.Path(t.root)
	last.set(p)
	return p
}

// pathMemo remembers a node's last path.
type pathMemo struct {
	mu sync.Mutex // guards p
	p  string
}

func (m *pathMemo) get() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p == "" {
		return "/.pafs-orphan"
	}
	return m.p
}

func (m *pathMemo) set(p string) {
	m.mu.Lock()
	m.p = p
	m.mu.Unlock()
}

// dirNode is a directory of files/.
type dirNode struct {
	gofs.Inode
	t    *filesTree
	last pathMemo
}

var (
	_ gofs.NodeLookuper   = (*dirNode)(nil)
	_ gofs.NodeReaddirer  = (*dirNode)(nil)
	_ gofs.NodeGetattrer  = (*dirNode)(nil)
	_ gofs.NodeSetattrer  = (*dirNode)(nil)
	_ gofs.NodeCreater    = (*dirNode)(nil)
	_ gofs.NodeMkdirer    = (*dirNode)(nil)
	_ gofs.NodeUnlinker   = (*dirNode)(nil)
	_ gofs.NodeRmdirer    = (*dirNode)(nil)
	_ gofs.NodeRenamer    = (*dirNode)(nil)
	_ gofs.NodeSymlinker  = (*dirNode)(nil)
	_ gofs.NodeLinker     = (*dirNode)(nil)
	_ gofs.NodeMknoder    = (*dirNode)(nil)
	_ gofs.NodeStatfser   = (*dirNode)(nil)
	_ gofs.NodeGetxattrer = (*dirNode)(nil)
	_ gofs.NodeSetxattrer = (*dirNode)(nil)
)

func (d *dirNode) path() string { return d.t.remotePath(d.EmbeddedInode(), &d.last) }

// child returns the inode for name, reusing the existing one while its type
// and number still match. The number is the path's own (vfs.Attr.Ino), the
// same across remounts: git compares inode numbers with its index, and a
// new number makes it read the file again.
func (d *dirNode) child(ctx context.Context, name string, a vfs.Attr) *gofs.Inode {
	if ch := d.GetChild(name); ch != nil && (ch.Mode()&syscall.S_IFDIR != 0) == a.IsDir && ch.StableAttr().Ino == a.Ino {
		return ch
	}
	if a.IsDir {
		return d.NewInode(ctx, &dirNode{t: d.t}, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: a.Ino})
	}
	return d.NewInode(ctx, &fileNode{t: d.t}, gofs.StableAttr{Mode: syscall.S_IFREG, Ino: a.Ino})
}

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	a, err := d.t.vfs.Lookup(ctx, d.path(), name)
	if err != nil {
		return nil, Errno(err)
	}
	fillEntry(a, out)
	return d.child(ctx, name, a), 0
}

// withCaller tells vfs which process a request comes from: it sees tree
// walks by it.
func withCaller(ctx context.Context) context.Context {
	if fc, ok := ctx.(*fuse.Context); ok {
		return vfs.WithCaller(ctx, fc.Caller.Pid)
	}
	return ctx
}

func (d *dirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents, err := d.t.vfs.ReadDir(withCaller(ctx), d.path())
	if err != nil {
		return nil, Errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(ents))
	for _, e := range ents {
		mode := uint32(syscall.S_IFREG)
		if e.IsDir {
			mode = syscall.S_IFDIR
		}
		out = append(out, fuse.DirEntry{Name: e.Name, Mode: mode, Ino: e.Ino})
	}
	return gofs.NewListDirStream(out), 0
}

func (d *dirNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillAttrOut(d.t.vfs.Stat(d.path(), true), out)
	return 0
}

func (d *dirNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	a, err := d.t.vfs.SetAttr(ctx, d.path(), true, setAttrIn(in), nil)
	if err != nil {
		return Errno(err)
	}
	fillAttrOut(a, out)
	return 0
}

func (d *dirNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	h, a, err := d.t.vfs.Create(ctx, d.path(), name, int(flags), mode)
	if err != nil {
		return nil, nil, 0, Errno(err)
	}
	fillEntry(a, out)
	return d.child(ctx, name, a), &fileHandle{h: h}, 0, 0
}

func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	a, err := d.t.vfs.Mkdir(ctx, d.path(), name, mode)
	if err != nil {
		return nil, Errno(err)
	}
	fillEntry(a, out)
	return d.child(ctx, name, a), 0
}

func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	return Errno(d.t.vfs.Unlink(ctx, d.path(), name))
}

func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	return Errno(d.t.vfs.Rmdir(ctx, d.path(), name))
}

func (d *dirNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*dirNode)
	if !ok {
		return syscall.EXDEV
	}
	return Errno(d.t.vfs.Rename(ctx, d.path(), name, np.path(), newName, flags))
}

// Symlinks and hard links have no equivalent in the files API.
func (d *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.ENOTSUP
}

func (d *dirNode) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.ENOTSUP
}

func (d *dirNode) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.ENOTSUP
}

func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	FillStatfs(out)
	return 0
}

func (d *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENODATA
}

func (d *dirNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.ENOTSUP
}

// setAttrIn converts a kernel setattr request.
func setAttrIn(in *fuse.SetAttrIn) vfs.SetAttrIn {
	var s vfs.SetAttrIn
	if sz, ok := in.GetSize(); ok {
		v := int64(sz)
		s.Size = &v
	}
	if m, ok := in.GetMode(); ok {
		s.Mode = &m
	}
	if u, ok := in.GetUID(); ok {
		s.UID = &u
	}
	if g, ok := in.GetGID(); ok {
		s.GID = &g
	}
	if t, ok := in.GetATime(); ok {
		s.Atime = &t
	}
	if t, ok := in.GetMTime(); ok {
		s.Mtime = &t
	}
	return s
}
