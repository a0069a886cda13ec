package fs

import (
	"context"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/pafs/pafs/internal/vfs"
)

// Child is a top-level entry beside files/ and home (a control folder, .pafs).
type Child struct {
	Name string
	Node gofs.InodeEmbedder
	Mode uint32 // syscall.S_IFDIR, S_IFREG or S_IFLNK
}

// Root is the mount point's directory: files/, the home link and the
// virtual folders, all fixed at mount time.
type Root struct {
	gofs.Inode
	files    *vfs.FS
	username string
	extra    []Child
}

var (
	_ gofs.NodeOnAdder   = (*Root)(nil)
	_ gofs.NodeStatfser  = (*Root)(nil)
	_ gofs.NodeGetattrer = (*Root)(nil)
)

// NewRoot returns the root of a mount of the account username.
func NewRoot(files *vfs.FS, username string, extra ...Child) *Root {
	return &Root{files: files, username: username, extra: extra}
}

// OnAdd builds the fixed top level.
func (r *Root) OnAdd(ctx context.Context) {
	t := &filesTree{vfs: r.files}
	files := r.NewPersistentInode(ctx, &dirNode{t: t}, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: r.files.Ino("/")})
	t.root = files
	t.watchChanges()
	r.AddChild("files", files, false)
	home := &gofs.MemSymlink{Data: []byte("files/home/" + r.username)}
	now := uint64(time.Now().Unix())
	home.Attr.Mtime, home.Attr.Atime, home.Attr.Ctime = now, now, now
	home.Attr.Uid, home.Attr.Gid = ownerUID, ownerGID
	r.AddChild("home", r.NewPersistentInode(ctx, home, gofs.StableAttr{Mode: syscall.S_IFLNK}), false)
	for _, c := range r.extra {
		r.AddChild(c.Name, r.NewPersistentInode(ctx, c.Node, gofs.StableAttr{Mode: c.Mode}), false)
	}
}

func (r *Root) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o755
	out.Uid, out.Gid = ownerUID, ownerGID
	out.SetTimeout(dirAttrTimeout)
	return 0
}

func (r *Root) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	FillStatfs(out)
	return 0
}
