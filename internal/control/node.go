package control

import (
	"context"
	"os"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Pieces every control node shares: identity (so an object keeps its inode
// number while it exists), attributes, and symlinks.

var (
	ownerUID = uint32(os.Getuid())
	ownerGID = uint32(os.Getgid())
)

// Kernel cache lifetimes. Entries live a second, like files/'s; a missing
// name is not cached at all, because names appear through this mount's own
// writes (schedule/new makes schedule/latest and schedule/ID) and a script
// looks for them right after. File attributes are not cached: sizes come
// from lists that change under us.
const (
	entryTimeout   = time.Second
	dirAttrTimeout = time.Second
	noNegative     = time.Nanosecond
)

// entry is one name in a control folder.
type entry struct {
	name string
	mode uint32 // syscall.S_IFDIR, S_IFREG or S_IFLNK
	// key names what the node shows ("webapp/example.com/python_version");
	// a child whose key matches is reused rather than replaced.
	key  string
	node func() gofs.InodeEmbedder
}

// keyed is implemented by every control node through ident.
type keyed interface{ nodeKey() string }

type ident struct{ key string }

func (i *ident) nodeKey() string { return i.key }

// childInode returns the inode for e below parent: the existing one when it
// still shows the same thing, so that inode numbers stay stable (vim checks
// that a file's inode does not change between two stats), else a new one.
func childInode(ctx context.Context, parent *gofs.Inode, e entry) *gofs.Inode {
	if ch := parent.GetChild(e.name); ch != nil {
		if k, ok := ch.Operations().(keyed); ok && k.nodeKey() == e.key && ch.Mode()&syscall.S_IFMT == e.mode {
			return ch
		}
	}
	return parent.NewInode(ctx, e.node(), gofs.StableAttr{Mode: e.mode})
}

// fillEntry answers a lookup of ch with its attributes and timeouts.
func fillEntry(ctx context.Context, ch *gofs.Inode, out *fuse.EntryOut) {
	if g, ok := ch.Operations().(gofs.NodeGetattrer); ok {
		var a fuse.AttrOut
		g.Getattr(ctx, nil, &a)
		out.Attr = a.Attr
	}
	out.SetEntryTimeout(entryTimeout)
	if ch.IsDir() {
		out.SetAttrTimeout(dirAttrTimeout)
	}
}

// fillAttr sets what every control node reports.
func fillAttr(out *fuse.Attr, mode uint32, size int, mtime time.Time) {
	out.Mode = mode
	out.Size = uint64(size)
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = stdioBuf
	out.Nlink = 1
	if mode&syscall.S_IFMT == syscall.S_IFDIR {
		out.Nlink = 2
		out.Size = 4096
	}
	out.Uid, out.Gid = ownerUID, ownerGID
	out.SetTimes(&mtime, &mtime, &mtime)
}

// orStarted is t, or the mount's start when t is unknown.
func (c *Control) orStarted(t time.Time) time.Time {
	if t.IsZero() {
		return c.started
	}
	return t
}

// symlinkNode is a link whose target may change (a task's log file is
// renamed when its schedule changes); go-fuse does not let the kernel cache
// link targets, so each readlink asks.
type symlinkNode struct {
	gofs.Inode
	ident
	noXattr
	c      *Control
	target func() string
}

var (
	_ gofs.NodeReadlinker = (*symlinkNode)(nil)
	_ gofs.NodeGetattrer  = (*symlinkNode)(nil)
	_ gofs.NodeSetattrer  = (*symlinkNode)(nil)
)

func (s *symlinkNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	t := s.target()
	if t == "" {
		return nil, syscall.ENOENT
	}
	return []byte(t), 0
}

func (s *symlinkNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillAttr(&out.Attr, syscall.S_IFLNK|0o777, len(s.target()), s.c.started)
	return 0
}

// Setattr accepts and ignores (cp -P, tar and rsync set a link's times).
func (s *symlinkNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return s.Getattr(ctx, fh, out)
}

// link is an entry for a symlink.
func (c *Control) link(name, key string, target func() string) entry {
	return entry{name: name, mode: syscall.S_IFLNK, key: "link/" + key,
		node: func() gofs.InodeEmbedder { return &symlinkNode{ident: ident{"link/" + key}, c: c, target: target} }}
}

// staticLink is a link with a fixed target.
func (c *Control) staticLink(name, key, target string) entry {
	return c.link(name, key, func() string { return target })
}

// noXattr answers extended attribute calls: none exist, none can be set.
// ENOTSUP (not go-fuse's default ENODATA) for setting, so that cp, sed and
// vim, which copy ACLs onto the files they write, fall back to chmod
// quietly.
type noXattr struct{}

var (
	_ gofs.NodeGetxattrer    = (*noXattr)(nil)
	_ gofs.NodeSetxattrer    = (*noXattr)(nil)
	_ gofs.NodeRemovexattrer = (*noXattr)(nil)
	_ gofs.NodeListxattrer   = (*noXattr)(nil)
)

func (noXattr) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENODATA
}

func (noXattr) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.ENOTSUP
}

func (noXattr) Removexattr(ctx context.Context, attr string) syscall.Errno { return syscall.ENODATA }

func (noXattr) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) { return 0, 0 }
