package fs

import (
	"context"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// GenFile is a read-only file whose content is made afresh at each open and
// served with direct I/O, so cat never sees a stale or truncated snapshot.
type GenFile struct {
	gofs.Inode
	Gen func() []byte
}

var (
	_ gofs.NodeOpener    = (*GenFile)(nil)
	_ gofs.NodeGetattrer = (*GenFile)(nil)
)

func (g *GenFile) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o444
	out.Size = uint64(len(g.Gen()))
	out.Uid, out.Gid = ownerUID, ownerGID
	now := time.Now()
	out.SetTimes(&now, &now, &now)
	return 0
}

func (g *GenFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EACCES
	}
	return &bytesHandle{data: g.Gen()}, fuse.FOPEN_DIRECT_IO, 0
}

// bytesHandle serves a snapshot.
type bytesHandle struct{ data []byte }

var _ gofs.FileReader = (*bytesHandle)(nil)

func (h *bytesHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(h.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(h.data)))
	return fuse.ReadResultData(h.data[off:end]), 0
}

// StaticDir is a directory whose children are fixed when it is mounted.
type StaticDir struct {
	gofs.Inode
	Children []Child
}

var (
	_ gofs.NodeOnAdder  = (*StaticDir)(nil)
	_ gofs.NodeStatfser = (*StaticDir)(nil)
)

func (d *StaticDir) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	FillStatfs(out)
	return 0
}

func (d *StaticDir) OnAdd(ctx context.Context) {
	for _, c := range d.Children {
		d.AddChild(c.Name, d.NewPersistentInode(ctx, c.Node, gofs.StableAttr{Mode: c.Mode}), false)
	}
}
