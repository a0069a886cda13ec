package fs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/pafs/pafs/internal/vfs"
)

// fileNode is a file of files/.
type fileNode struct {
	gofs.Inode
	t    *filesTree
	last pathMemo

	mu       sync.Mutex // guards shareURL and shareAt
	shareURL string     // recently read share URL: getfattr asks twice (size, then value)
	shareAt  time.Time
}

var (
	_ gofs.NodeGetattrer     = (*fileNode)(nil)
	_ gofs.NodeSetattrer     = (*fileNode)(nil)
	_ gofs.NodeOpener        = (*fileNode)(nil)
	_ gofs.NodeGetxattrer    = (*fileNode)(nil)
	_ gofs.NodeSetxattrer    = (*fileNode)(nil)
	_ gofs.NodeRemovexattrer = (*fileNode)(nil)
	_ gofs.NodeListxattrer   = (*fileNode)(nil)
	_ gofs.NodeStatfser      = (*fileNode)(nil)
)

func (n *fileNode) path() string { return n.t.remotePath(n.EmbeddedInode(), &n.last) }

func (n *fileNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	var a vfs.Attr
	if h, ok := fh.(*fileHandle); ok {
		a = n.t.vfs.Stat(n.path(), false)
		a.Size, a.SizeKnown = h.h.Size(), true
		// An fstat, or a read at the end, of an open file: how tail -f
		// and readline loops poll (vfs/follow.go).
		h.h.Polled()
	} else {
		var err error
		if a, err = n.t.vfs.StatExact(withCaller(ctx), n.path(), false); err != nil {
			return Errno(err)
		}
	}
	fillAttrOut(a, out)
	return 0
}

func (n *fileNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	var h *vfs.Handle
	if fh, ok := fh.(*fileHandle); ok {
		h = fh.h
	}
	a, err := n.t.vfs.SetAttr(ctx, n.path(), false, setAttrIn(in), h)
	if err != nil {
		return Errno(err)
	}
	fillAttrOut(a, out)
	return 0
}

func (n *fileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	h, err := n.t.vfs.Open(ctx, n.path(), int(flags))
	if err != nil {
		return nil, 0, Errno(err)
	}
	return &fileHandle{h: h}, 0, 0
}

func (n *fileNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	FillStatfs(out)
	return 0
}

// Sharing is exposed as extended attributes: user.pafs.share_url reads the
// public URL (ENODATA when not shared); user.pafs.share = 1 or 0 shares or
// unshares, and removing it unshares.
const (
	xattrShareURL = "user.pafs.share_url"
	xattrShare    = "user.pafs.share"
)

func (n *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if attr != xattrShareURL {
		return 0, syscall.ENODATA
	}
	url, err := n.cachedShareURL(ctx)
	if err != nil {
		return 0, Errno(err)
	}
	if len(dest) < len(url) {
		if len(dest) == 0 {
			return uint32(len(url)), 0
		}
		return uint32(len(url)), syscall.ERANGE
	}
	return uint32(copy(dest, url)), 0
}

// cachedShareURL asks the server at most once per few seconds: getfattr
// reads an attribute twice (its size, then its value).
func (n *fileNode) cachedShareURL(ctx context.Context) (string, error) {
	n.mu.Lock()
	if time.Since(n.shareAt) < 5*time.Second {
		url := n.shareURL
		n.mu.Unlock()
		if url == "" {
			return "", syscall.ENODATA
		}
		return url, nil
	}
	n.mu.Unlock()
	url, err := n.t.vfs.ShareURL(ctx, n.path())
	if err != nil && !errors.Is(err, syscall.ENODATA) {
		return "", err
	}
	n.mu.Lock()
	n.shareURL, n.shareAt = url, time.Now()
	n.mu.Unlock()
	if err != nil {
		return "", err
	}
	return url, nil
}

func (n *fileNode) forgetShare() {
	n.mu.Lock()
	n.shareAt = time.Time{}
	n.mu.Unlock()
}

func (n *fileNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if attr != xattrShare {
		return syscall.ENOTSUP
	}
	var on bool
	switch string(trimSpace(data)) {
	case "1", "true", "yes", "on":
		on = true
	case "0", "false", "no", "off", "":
	default:
		return syscall.EINVAL
	}
	n.forgetShare()
	return Errno(n.t.vfs.SetShared(ctx, n.path(), on))
}

func (n *fileNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if attr != xattrShare && attr != xattrShareURL {
		return syscall.ENODATA
	}
	n.forgetShare()
	return Errno(n.t.vfs.SetShared(ctx, n.path(), false))
}

// Listxattr lists nothing: listing the share URL would make cp -a and rsync -X
// spend a request per file (and try to copy it).
func (n *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return 0, 0
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

// watchChanges makes the kernel drop its cached pages and attributes of a
// file whose content pafs found changed on the server, so that open
// descriptors and mmaps read the new bytes at the new size. A file the
// kernel has no inode for has nothing cached.
func (t *filesTree) watchChanges() {
	t.vfs.OnContentChange(func(p string) {
		n := t.root
		for _, name := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
			if n = n.GetChild(name); n == nil {
				return
			}
		}
		// Offset 0, length 0: the attributes and every page. ENOENT
		// (the kernel forgot the inode meanwhile) leaves nothing to drop.
		_ = n.NotifyContent(0, 0)
	})
}

// fileHandle is an open file of files/.
type fileHandle struct{ h *vfs.Handle }

var (
	_ gofs.FileReader   = (*fileHandle)(nil)
	_ gofs.FileWriter   = (*fileHandle)(nil)
	_ gofs.FileFlusher  = (*fileHandle)(nil)
	_ gofs.FileFsyncer  = (*fileHandle)(nil)
	_ gofs.FileReleaser = (*fileHandle)(nil)
)

func (f *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := f.h.Read(dest, off)
	if err != nil {
		return nil, Errno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (f *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, err := f.h.Write(data, off)
	return uint32(n), Errno(err)
}

func (f *fileHandle) Flush(ctx context.Context) syscall.Errno { return Errno(f.h.Flush(ctx)) }

func (f *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return Errno(f.h.Fsync(ctx))
}

func (f *fileHandle) Release(ctx context.Context) syscall.Errno {
	f.h.Release()
	return 0
}
