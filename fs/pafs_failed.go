package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/pafs/pafs/internal/status"
	"github.com/pafs/pafs/internal/vfs"
)

// FailedChild is MOUNTPOINT/.pafs/failed: the uploads the server refused
// for good (vfs.RefusedChanges), one read-only file each, named after its
// path with "/" escaped as %2F and holding the data that was refused, and a
// README saying what each is and why. rm of a file drops it (the data kept
// of it goes); nothing else changes here.
func FailedChild(files *vfs.FS) Child {
	return Child{Name: "failed", Mode: syscall.S_IFDIR, Node: &failedDir{files: files}}
}

type failedDir struct {
	gofs.Inode
	files *vfs.FS
}

var (
	_ gofs.NodeLookuper  = (*failedDir)(nil)
	_ gofs.NodeReaddirer = (*failedDir)(nil)
	_ gofs.NodeGetattrer = (*failedDir)(nil)
	_ gofs.NodeUnlinker  = (*failedDir)(nil)
	_ gofs.NodeRmdirer   = (*failedDir)(nil)
	_ gofs.NodeCreater   = (*failedDir)(nil)
	_ gofs.NodeMkdirer   = (*failedDir)(nil)
	_ gofs.NodeRenamer   = (*failedDir)(nil)
	_ gofs.NodeStatfser  = (*failedDir)(nil)
)

// list returns the refused uploads with data kept, by name.
func (d *failedDir) list() map[string]vfs.Refused {
	out := map[string]vfs.Refused{}
	if d.files == nil {
		return out
	}
	for _, r := range d.files.RefusedChanges() {
		if r.HasData {
			out[r.Name] = r
		}
	}
	return out
}

func (d *failedDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	// Nothing here is cached by the kernel: the list changes with every
	// refusal and every rm.
	out.SetEntryTimeout(0)
	out.SetAttrTimeout(0)
	var node gofs.InodeEmbedder
	if name == vfs.FailedReadme {
		node = &GenFile{Gen: d.readme}
	} else if r, ok := d.list()[name]; ok {
		node = &failedFile{files: d.files, r: r}
	} else {
		return nil, syscall.ENOENT
	}
	ch := d.NewInode(ctx, node, gofs.StableAttr{Mode: syscall.S_IFREG})
	var a fuse.AttrOut
	if errno := ch.Operations().(gofs.NodeGetattrer).Getattr(ctx, nil, &a); errno != 0 {
		return nil, errno
	}
	out.Attr = a.Attr
	return ch, 0
}

func (d *failedDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents := []fuse.DirEntry{{Name: vfs.FailedReadme, Mode: syscall.S_IFREG}}
	if d.files != nil {
		for _, r := range d.files.RefusedChanges() {
			if r.HasData {
				ents = append(ents, fuse.DirEntry{Name: r.Name, Mode: syscall.S_IFREG})
			}
		}
	}
	return gofs.NewListDirStream(ents), 0
}

func (d *failedDir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	// Writable by its owner so that rm may drop an entry.
	out.Mode = syscall.S_IFDIR | 0o755
	out.Uid, out.Gid = ownerUID, ownerGID
	out.SetTimeout(0)
	return 0
}

// Unlink drops a refused upload and the data kept of it.
func (d *failedDir) Unlink(ctx context.Context, name string) syscall.Errno {
	if name == vfs.FailedReadme {
		return syscall.EPERM
	}
	r, ok := d.list()[name]
	if !ok {
		return syscall.ENOENT
	}
	if err := d.files.DismissRefused(r.ID); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return syscall.ENOENT
		}
		return syscall.EIO
	}
	return 0
}

// Nothing else changes here (go-fuse would answer rmdir with success).
func (d *failedDir) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.ENOTDIR }

func (d *failedDir) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EACCES
}

func (d *failedDir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EACCES
}

func (d *failedDir) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EACCES
}

func (d *failedDir) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	FillStatfs(out)
	return 0
}

// readme explains the folder and lists every refused change, those whose
// data is kept here and those with nothing to keep (deletes, mkdirs).
func (d *failedDir) readme() []byte {
	var b strings.Builder
	b.WriteString("Changes the server refused for good. They were tried once and are not retried;\n" +
		"the mount shows the server's version of each path again. Each file here holds the\n" +
		"data of a refused upload, named after its path (/ written %2F). Copy what you want\n" +
		"to keep somewhere the server accepts (your home, /tmp, /var/www, /var/log; smaller\n" +
		"than the server's upload limit), then rm the file here to drop it.\n\n")
	var list []vfs.Refused
	if d.files != nil {
		list = d.files.RefusedChanges()
	}
	if len(list) == 0 {
		b.WriteString("None.\n")
	}
	for _, r := range list {
		what := r.Kind + " of " + status.Printable(r.Path)
		if r.HasData {
			what += fmt.Sprintf(" (%d bytes, kept as %s)", r.Size, status.Printable(r.Name))
		}
		fmt.Fprintf(&b, "%s  %s: %s\n", r.Time.Local().Format(time.DateTime), what, status.Printable(r.Reason()))
	}
	return []byte(b.String())
}

// failedFile is the data kept of one refused upload.
type failedFile struct {
	gofs.Inode
	files *vfs.FS
	r     vfs.Refused
}

var (
	_ gofs.NodeOpener    = (*failedFile)(nil)
	_ gofs.NodeGetattrer = (*failedFile)(nil)
)

func (f *failedFile) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o444
	out.Size = uint64(f.r.Size)
	out.Blocks = (out.Size + 511) / 512
	out.Uid, out.Gid = ownerUID, ownerGID
	t := f.r.Time
	out.SetTimes(&t, &t, &t)
	out.SetTimeout(0)
	return 0
}

func (f *failedFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EACCES
	}
	file, err := f.files.OpenRefused(f.r.ID)
	if err != nil {
		return nil, 0, syscall.ENOENT // dropped meanwhile
	}
	return &failedHandle{file: file}, 0, 0
}

// failedHandle reads a kept copy from its file in the cache directory.
type failedHandle struct{ file *os.File }

var (
	_ gofs.FileReader   = (*failedHandle)(nil)
	_ gofs.FileReleaser = (*failedHandle)(nil)
)

func (h *failedHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := h.file.ReadAt(dest, off)
	if err != nil && n == 0 && !errors.Is(err, io.EOF) {
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *failedHandle) Release(ctx context.Context) syscall.Errno {
	h.file.Close()
	return 0
}
