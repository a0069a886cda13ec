package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/pafs/pafs/internal/control"
)

// controlHandle is an open control file, over the control.Handle its write
// policy chose at open, or an open editor's file.
type controlHandle struct{ h control.Handle }

var (
	_ gofs.FileReader   = (*controlHandle)(nil)
	_ gofs.FileWriter   = (*controlHandle)(nil)
	_ gofs.FileFlusher  = (*controlHandle)(nil)
	_ gofs.FileFsyncer  = (*controlHandle)(nil)
	_ gofs.FileReleaser = (*controlHandle)(nil)
)

func (h *controlHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return fuse.ReadResultData(dest[:h.h.Read(dest, off)]), 0
}

func (h *controlHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, err := h.h.Write(ctx, data, off)
	return uint32(n), Errno(err)
}

func (h *controlHandle) Flush(ctx context.Context) syscall.Errno { return Errno(h.h.Flush(ctx)) }

func (h *controlHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return Errno(h.h.Flush(ctx))
}

func (h *controlHandle) Release(ctx context.Context) syscall.Errno {
	h.h.Release()
	return 0
}
