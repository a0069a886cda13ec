package control

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/pafs/pafs/internal/vfs"
)

// Editors' files in control folders. vim writes a swap file and a backup
// (renaming config.json to config.json~), tests with a file named 4913
// whether it may create files, and sed -i writes a temp file and renames it
// over its input. These live here, in memory, and never reach the API; a
// temp file renamed onto a control file is applied like a write of its
// content, and a control file renamed to a backup name leaves a copy and
// stays where it is. Any other new name is refused (EACCES).

// scratchPatterns are the names kept in memory: editors' swap, backup,
// lock and temp files (as in files/), and sed's temp files.
var scratchPatterns = append(slices.Clone(vfs.DefaultLocalOnly), "sed??????", ".sed*")

func isScratchName(name string) bool {
	for _, p := range scratchPatterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// scratchDir holds one folder's editor files.
type scratchDir struct {
	mu    sync.Mutex
	files map[string]*scratchFile
}

var scratchSeq atomic.Uint64

// scratchFile is one editor file's content.
type scratchFile struct {
	id    uint64 // tells a recreated file from the one before it
	mu    sync.Mutex
	data  []byte
	mode  uint32
	mtime time.Time
}

func newScratchFile(mode uint32, data []byte) *scratchFile {
	return &scratchFile{id: scratchSeq.Add(1), mode: mode & 0o7777, data: data, mtime: time.Now()}
}

func (s *scratchDir) get(name string) *scratchFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[name]
}

func (s *scratchDir) put(name string, f *scratchFile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files = map[string]*scratchFile{}
	}
	s.files[name] = f
}

func (s *scratchDir) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.files))
	for n := range s.files {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (s *scratchDir) remove(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.files[name]
	delete(s.files, name)
	return ok
}

func (s *scratchDir) entry(name string, f *scratchFile) entry {
	key := fmt.Sprintf("scratch/%d", f.id)
	return entry{name: name, mode: syscall.S_IFREG, key: key,
		node: func() gofs.InodeEmbedder { return &scratchNode{ident: ident{key}, f: f} }}
}

// lookup returns the inode of an editor file, nil if there is none.
func (s *scratchDir) lookup(ctx context.Context, d *dirNode, name string) *gofs.Inode {
	f := s.get(name)
	if f == nil {
		return nil
	}
	return childInode(ctx, d.EmbeddedInode(), s.entry(name, f))
}

// create makes an editor file (open with O_CREAT).
func (s *scratchDir) create(ctx context.Context, d *dirNode, name string, mode uint32) (*gofs.Inode, gofs.FileHandle) {
	f := s.get(name)
	if f == nil {
		f = newScratchFile(mode, nil)
		s.put(name, f)
	}
	return childInode(ctx, d.EmbeddedInode(), s.entry(name, f)), &scratchHandle{f: f}
}

// rename handles editors' renames (see the top of this file).
func (s *scratchDir) rename(ctx context.Context, d *dirNode, oldName, newName string, flags uint32) syscall.Errno {
	src := s.get(oldName)
	if src == nil {
		return s.backup(ctx, d, oldName, newName, flags)
	}
	if isScratchName(newName) {
		if flags&renameNoReplace != 0 && s.get(newName) != nil {
			return syscall.EEXIST
		}
		s.remove(oldName)
		s.put(newName, src)
		return 0
	}
	e, errno := d.find(ctx, newName)
	if errno != 0 {
		return syscall.EACCES // a new name that is neither a control file nor an editor's
	}
	if flags&renameNoReplace != 0 {
		return syscall.EEXIST
	}
	fn, ok := e.node().(*fileNode)
	if !ok {
		return syscall.EISDIR
	}
	src.mu.Lock()
	data := bytes.Clone(src.data)
	src.mu.Unlock()
	if errno := fn.replace(ctx, data); errno != 0 {
		return errno
	}
	s.remove(oldName)
	// The kernel now takes newName for the temp file's inode: make it ask.
	go d.NotifyEntry(newName)
	return 0
}

// backup is a control file renamed to an editor's name: copy it there and
// leave it in place (the kernel is told to look both names up again).
func (s *scratchDir) backup(ctx context.Context, d *dirNode, oldName, newName string, flags uint32) syscall.Errno {
	e, errno := d.find(ctx, oldName)
	if errno != 0 {
		return errno
	}
	fn, ok := e.node().(*fileNode)
	if !ok || !isScratchName(newName) {
		return syscall.EACCES
	}
	if flags&renameNoReplace != 0 && s.get(newName) != nil {
		return syscall.EEXIST
	}
	var data []byte
	if fn.f.read != nil {
		b, err := fn.f.read(ctx)
		if err != nil {
			return errnoOf(err)
		}
		data = b
	}
	s.put(newName, newScratchFile(fn.f.mode, data))
	go func() {
		d.NotifyEntry(oldName)
		d.NotifyEntry(newName)
	}()
	return 0
}

// scratchNode is an editor file.
type scratchNode struct {
	gofs.Inode
	ident
	noXattr
	f *scratchFile
}

var (
	_ gofs.NodeGetattrer = (*scratchNode)(nil)
	_ gofs.NodeSetattrer = (*scratchNode)(nil)
	_ gofs.NodeOpener    = (*scratchNode)(nil)
)

func (n *scratchNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.f.mu.Lock()
	defer n.f.mu.Unlock()
	fillAttr(&out.Attr, syscall.S_IFREG|n.f.mode, len(n.f.data), n.f.mtime)
	return 0
}

func (n *scratchNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.f.mu.Lock()
	if sz, ok := in.GetSize(); ok {
		n.f.data = resize(n.f.data, int(sz))
	}
	if m, ok := in.GetMode(); ok {
		n.f.mode = m & 0o7777
	}
	if t, ok := in.GetMTime(); ok {
		n.f.mtime = t
	}
	n.f.mu.Unlock()
	return n.Getattr(ctx, fh, out)
}

func (n *scratchNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return &scratchHandle{f: n.f}, fuse.FOPEN_DIRECT_IO, 0
}

// scratchHandle reads and writes the shared content directly.
type scratchHandle struct{ f *scratchFile }

var (
	_ gofs.FileReader  = (*scratchHandle)(nil)
	_ gofs.FileWriter  = (*scratchHandle)(nil)
	_ gofs.FileFlusher = (*scratchHandle)(nil)
	_ gofs.FileFsyncer = (*scratchHandle)(nil)
)

func (h *scratchHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if off >= int64(len(h.f.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(h.f.data)))
	return fuse.ReadResultData(bytes.Clone(h.f.data[off:end])), 0
}

// Write keeps editor files in memory; swap files can grow past control
// files' limit, so they get a larger one.
func (h *scratchHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if off < 0 || off+int64(len(data)) > 64*maxWrite {
		return 0, syscall.EFBIG
	}
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	h.f.data = place(h.f.data, data, off)
	h.f.mtime = time.Now()
	return uint32(len(data)), 0
}

func (h *scratchHandle) Flush(ctx context.Context) syscall.Errno               { return 0 }
func (h *scratchHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno { return 0 }
