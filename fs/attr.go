package fs

import (
	"os"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/pafs/pafs/internal/vfs"
)

// Timeouts the kernel may cache what pafs tells it. Directory attributes and
// entries are cached for a second (rclone's choice; zero hurts performance).
// File attributes are not cached at all: a file's size may be unknown until
// it is opened, and a zero timeout makes the kernel ask again before it trusts
// a size for reading (see fuse_cache_read_iter), so reads are never cut short.
const (
	entryTimeout    = time.Second
	dirAttrTimeout  = time.Second
	negativeTimeout = time.Second
)

var (
	ownerUID = uint32(os.Getuid())
	ownerGID = uint32(os.Getgid())
)

// fillAttr converts vfs attributes into what stat(2) shows.
func fillAttr(a vfs.Attr, out *fuse.Attr) {
	mode := a.Mode & 0o7777
	if a.IsDir {
		if mode == 0 {
			mode = 0o755
		}
		out.Mode = syscall.S_IFDIR | mode
		out.Nlink = 2
		out.Size = 4096
	} else {
		if mode == 0 {
			mode = 0o644
		}
		out.Mode = syscall.S_IFREG | mode
		out.Nlink = 1
		out.Size = uint64(a.Size)
	}
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = 1 << 16
	out.Uid, out.Gid = ownerUID, ownerGID
	if a.HasOwner {
		out.Uid, out.Gid = a.UID, a.GID
	}
	out.SetTimes(&a.Atime, &a.Mtime, &a.Mtime)
}

// fillEntry fills a lookup answer, with the timeouts that suit the node.
func fillEntry(a vfs.Attr, out *fuse.EntryOut) {
	fillAttr(a, &out.Attr)
	out.SetEntryTimeout(entryTimeout)
	if a.IsDir {
		out.SetAttrTimeout(dirAttrTimeout)
	}
}

// fillAttrOut fills a getattr answer.
func fillAttrOut(a vfs.Attr, out *fuse.AttrOut) {
	fillAttr(a, &out.Attr)
	if a.IsDir {
		out.SetTimeout(dirAttrTimeout)
	}
}

// FillStatfs answers statfs with a large, mostly free file system, so that
// tools that check free space (cp, rsync, installers) go ahead. The API has no
// quota call.
func FillStatfs(out *fuse.StatfsOut) {
	const bsize = 4096
	const total = 1 << 50 // 1 PiB, as rclone reports when the backend can't tell
	out.Bsize = bsize
	out.Frsize = bsize
	out.Blocks = total / bsize
	out.Bfree = total / bsize
	out.Bavail = total / bsize
	out.Files = 1 << 30
	out.Ffree = 1 << 30
	out.NameLen = 255
}
