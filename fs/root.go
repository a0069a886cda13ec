package fs

import (
	"context"
	"sort"
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
	fixedDir
	files    *vfs.FS
	username string
	extra    []Child
}

var (
	_ gofs.NodeOnAdder   = (*Root)(nil)
	_ gofs.NodeStatfser  = (*Root)(nil)
	_ gofs.NodeGetattrer = (*Root)(nil)
	_ gofs.NodeReaddirer = (*Root)(nil)
	_ gofs.NodeUnlinker  = (*Root)(nil)
	_ gofs.NodeRmdirer   = (*Root)(nil)
)

// NewRoot returns the root of a mount of the account username.
func NewRoot(files *vfs.FS, username string, extra ...Child) *Root {
	return &Root{files: files, username: username, extra: extra, fixedDir: fixedDir{made: time.Now()}}
}

// OnAdd builds the fixed top level.
func (r *Root) OnAdd(ctx context.Context) {
	t := &filesTree{vfs: r.files}
	files := r.NewPersistentInode(ctx, &dirNode{t: t}, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: r.files.Ino("/")})
	t.root = files
	t.watchChanges()
	r.AddChild("files", files, false)
	home := &gofs.MemSymlink{Data: []byte("files/home/" + r.username)}
	now := uint64(r.made.Unix())
	home.Attr.Mtime, home.Attr.Atime, home.Attr.Ctime = now, now, now
	home.Attr.Uid, home.Attr.Gid = ownerUID, ownerGID
	r.AddChild("home", r.NewPersistentInode(ctx, home, gofs.StableAttr{Mode: syscall.S_IFLNK}), false)
	for _, c := range r.extra {
		r.AddChild(c.Name, r.NewPersistentInode(ctx, c.Node, gofs.StableAttr{Mode: c.Mode}), false)
	}
}

// Readdir lists the fixed top level, with . and .. like any directory.
func (r *Root) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	return gofs.NewListDirStream(withDots(childEntries(r.EmbeddedInode()))), 0
}

// fixedDir is what the directories fixed at mount time (the top level,
// .pafs) share: the mount's time, and no deleting. (go-fuse's default for a
// node without Unlink or Rmdir is to report success and drop the entry.)
type fixedDir struct {
	made time.Time // the mount's start
}

func (d *fixedDir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fixedDirAttr(&out.Attr, d.made)
	out.SetTimeout(dirAttrTimeout)
	return 0
}

func (d *fixedDir) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }

func (d *fixedDir) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }

// fixedDirAttr is the stat of a directory fixed at mount time (the top
// level, .pafs): made then, owned by the mount's user, with the link count
// of a directory.
func fixedDirAttr(out *fuse.Attr, made time.Time) {
	out.Mode = syscall.S_IFDIR | 0o755
	out.Nlink = 2
	out.Size = 4096
	out.Uid, out.Gid = ownerUID, ownerGID
	out.SetTimes(&made, &made, &made)
}

// withDots puts . and .. before a directory's entries, as ls -a expects:
// go-fuse lists only what a Readdir returns.
func withDots(ents []fuse.DirEntry) []fuse.DirEntry {
	return append([]fuse.DirEntry{{Name: ".", Mode: syscall.S_IFDIR}, {Name: "..", Mode: syscall.S_IFDIR}}, ents...)
}

// childEntries lists the children of a directory whose entries are its
// inode's children (fixed at mount time).
func childEntries(n *gofs.Inode) []fuse.DirEntry {
	var out []fuse.DirEntry
	for name, ch := range n.Children() {
		out = append(out, fuse.DirEntry{Name: name, Mode: ch.Mode(), Ino: ch.StableAttr().Ino})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Root) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	FillStatfs(out)
	return 0
}
