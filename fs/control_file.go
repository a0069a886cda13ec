package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/pafs/pafs/internal/control"
)

// controlFile is every control file, over control.File.
type controlFile struct {
	gofs.Inode
	keyed
	noXattr
	f *control.File
}

var (
	_ gofs.NodeGetattrer = (*controlFile)(nil)
	_ gofs.NodeSetattrer = (*controlFile)(nil)
	_ gofs.NodeOpener    = (*controlFile)(nil)
)

// handleOf is the control handle behind fh, if any.
func handleOf(fh gofs.FileHandle) control.Handle {
	if h, ok := fh.(*controlHandle); ok {
		return h.h
	}
	return nil
}

func (n *controlFile) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillControlAttr(&out.Attr, syscall.S_IFREG|n.f.Mode(), n.f.Size(ctx, handleOf(fh)), n.f.Mtime())
	return 0
}

// Open serves the file with direct I/O, so that sizes never cut a read
// short.
func (n *controlFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	h, err := n.f.Open(ctx, flags&syscall.O_ACCMODE != syscall.O_RDONLY, callerPid(ctx))
	if err != nil {
		return nil, 0, Errno(err)
	}
	return &controlHandle{h: h}, fuse.FOPEN_DIRECT_IO, 0
}

// Setattr: see control.File.Setattr (truncations, touch of a trigger).
func (n *controlFile) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if err := n.f.Setattr(ctx, handleOf(fh), callerPid(ctx), setAttr(in)); err != nil {
		return Errno(err)
	}
	return n.Getattr(ctx, fh, out)
}

// controlLink is a control folder's symlink, over control.Link; go-fuse
// does not let the kernel cache link targets, so each readlink asks.
type controlLink struct {
	gofs.Inode
	keyed
	noXattr
	l *control.Link
}

var (
	_ gofs.NodeReadlinker = (*controlLink)(nil)
	_ gofs.NodeGetattrer  = (*controlLink)(nil)
	_ gofs.NodeSetattrer  = (*controlLink)(nil)
)

func (s *controlLink) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	t := s.l.Target()
	if t == "" {
		return nil, syscall.ENOENT
	}
	return []byte(t), 0
}

func (s *controlLink) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillControlAttr(&out.Attr, syscall.S_IFLNK|0o777, len(s.l.Target()), s.l.Mtime())
	return 0
}

// Setattr accepts and ignores (cp -P, tar and rsync set a link's times).
func (s *controlLink) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return s.Getattr(ctx, fh, out)
}

// scratchNode is an editor's file in a control folder, over
// control.Scratch.
type scratchNode struct {
	gofs.Inode
	keyed
	noXattr
	s *control.Scratch
}

var (
	_ gofs.NodeGetattrer = (*scratchNode)(nil)
	_ gofs.NodeSetattrer = (*scratchNode)(nil)
	_ gofs.NodeOpener    = (*scratchNode)(nil)
)

func (n *scratchNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	mode, size, mtime := n.s.Attr()
	fillControlAttr(&out.Attr, syscall.S_IFREG|mode, size, mtime)
	return 0
}

func (n *scratchNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.s.Setattr(setAttr(in))
	return n.Getattr(ctx, fh, out)
}

func (n *scratchNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return &controlHandle{h: n.s.Open()}, fuse.FOPEN_DIRECT_IO, 0
}
