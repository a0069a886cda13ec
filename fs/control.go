package fs

import (
	"context"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/pafs/pafs/internal/control"
)

// The control folders' nodes (webapps/, schedule/, ...): thin adapters over
// package control, which holds what they show and do. One go-fuse node type
// per control node type: controlDir (control_dir.go), controlFile,
// controlLink and scratchNode (control_file.go); one handle type over every
// control.Handle (control_handle.go).

// ControlFolders are the control folders to mount beside files/.
func ControlFolders(ctl *control.Control) []Child {
	var out []Child
	for _, d := range ctl.Folders() {
		out = append(out, Child{Name: d.Path(), Mode: syscall.S_IFDIR, Node: newControlNode(d)})
	}
	return out
}

// A missing name in a control folder is not cached at all, because names
// appear through this mount's own writes (schedule/new makes
// schedule/latest and schedule/ID) and a script looks for them right after.
// File attributes are not cached: sizes come from lists that change under
// us. Entries and folders' attributes live a second, like files/'s.
const noNegative = time.Nanosecond

// controlNode is implemented by every control node: the key of what it
// shows (control.Node.Key).
type controlNode interface{ controlKey() string }

type keyed struct{ key string }

func (k *keyed) controlKey() string { return k.key }

// newControlNode wraps a control node in its go-fuse node.
func newControlNode(n control.Node) gofs.InodeEmbedder {
	k := keyed{n.Key()}
	switch n := n.(type) {
	case *control.Dir:
		return &controlDir{keyed: k, d: n}
	case *control.File:
		return &controlFile{keyed: k, f: n}
	case *control.Link:
		return &controlLink{keyed: k, l: n}
	case *control.Scratch:
		return &scratchNode{keyed: k, s: n}
	}
	return nil // unreachable: control.Node has no other implementations

}

// childInode returns the inode for e below parent: the existing one when it
// still shows the same thing, so that inode numbers stay stable (vim checks
// that a file's inode does not change between two stats), else a new one.
func childInode(ctx context.Context, parent *gofs.Inode, e control.Entry) *gofs.Inode {
	if ch := parent.GetChild(e.Name); ch != nil {
		if k, ok := ch.Operations().(controlNode); ok && k.controlKey() == e.Key && ch.Mode()&syscall.S_IFMT == e.Mode {
			return ch
		}
	}
	return parent.NewInode(ctx, newControlNode(e.New()), gofs.StableAttr{Mode: e.Mode})
}

// fillControlEntry answers a lookup of ch with its attributes and timeouts.
func fillControlEntry(ctx context.Context, ch *gofs.Inode, out *fuse.EntryOut) {
	if g, ok := ch.Operations().(gofs.NodeGetattrer); ok {
		// A failure leaves the entry without attributes: files have no
		// attribute timeout, so the stat that follows asks again.
		var a fuse.AttrOut
		if errno := g.Getattr(ctx, nil, &a); errno == 0 {
			out.Attr = a.Attr
		}
	}
	out.SetEntryTimeout(entryTimeout)
	if ch.IsDir() {
		out.SetAttrTimeout(dirAttrTimeout)
	}
}

// fillControlAttr sets what every control node reports. The block size
// is control.BlockSize: stdio writes whole blocks of it, which is how a
// control file tells the last write of a content from the others.
func fillControlAttr(out *fuse.Attr, mode uint32, size int, mtime time.Time) {
	out.Mode = mode
	out.Size = uint64(size)
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = control.BlockSize
	out.Nlink = 1
	if mode&syscall.S_IFMT == syscall.S_IFDIR {
		out.Nlink = 2
		out.Size = 4096
	}
	out.Uid, out.Gid = ownerUID, ownerGID
	out.SetTimes(&mtime, &mtime, &mtime)
}

// callerPid is the process a FUSE request comes from (0 if unknown).
func callerPid(ctx context.Context) uint32 {
	if fc, ok := ctx.(*fuse.Context); ok {
		return fc.Caller.Pid
	}
	return 0
}

// setAttr converts a kernel SETATTR for the control nodes.
func setAttr(in *fuse.SetAttrIn) control.SetAttr {
	var a control.SetAttr
	if sz, ok := in.GetSize(); ok {
		a.Size = &sz
	}
	if m, ok := in.GetMode(); ok {
		a.Mode = &m
	}
	if t, ok := in.GetATime(); ok {
		a.Atime = &t
	}
	if t, ok := in.GetMTime(); ok {
		a.Mtime = &t
	}
	return a
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
