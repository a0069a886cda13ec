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
var scratchPatterns = append(slices.Clone(vfs.DefaultTempNames), "sed??????", ".sed*")

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
	mu    sync.Mutex // guards files (not their content: each file has its own lock)
	files map[string]*Scratch
}

var scratchSeq atomic.Uint64

// Scratch is one editor's file, in memory.
type Scratch struct {
	id uint64 // tells a recreated file from the one before it

	mu    sync.Mutex // guards data, mode and mtime
	data  []byte
	mode  uint32
	mtime time.Time
}

func newScratch(mode uint32, data []byte) *Scratch {
	return &Scratch{id: scratchSeq.Add(1), mode: mode & 0o7777, data: data, mtime: time.Now()}
}

func (s *Scratch) Key() string { return fmt.Sprintf("scratch/%d", s.id) }
func (*Scratch) isNode()       {}

// Attr is the file's permission bits, size and modification time.
func (s *Scratch) Attr() (mode uint32, size int, mtime time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode, len(s.data), s.mtime
}

// Setattr applies a size, mode or mtime change; others are ignored.
func (s *Scratch) Setattr(a SetAttr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Size != nil {
		s.data = resize(s.data, int(*a.Size))
	}
	if a.Mode != nil {
		s.mode = *a.Mode & 0o7777
	}
	if a.Mtime != nil {
		s.mtime = *a.Mtime
	}
}

// Read copies the content at off into dest.
func (s *Scratch) Read(dest []byte, off int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return readAt(s.data, dest, off)
}

// Write keeps editor files in memory; swap files can grow past control
// files' limit, so they get a larger one.
func (s *Scratch) Write(data []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(data)) > 64*maxWrite {
		return 0, syscall.EFBIG
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = place(s.data, data, off)
	s.mtime = time.Now()
	return len(data), nil
}

// Open returns a handle on the file; every open shares its content.
func (s *Scratch) Open() Handle { return scratchHandle{s} }

// scratchHandle is an open editor's file.
type scratchHandle struct{ s *Scratch }

func (h scratchHandle) Size() int {
	_, size, _ := h.s.Attr()
	return size
}

func (h scratchHandle) Read(dest []byte, off int64) int { return h.s.Read(dest, off) }

func (h scratchHandle) Write(ctx context.Context, data []byte, off int64) (int, error) {
	return h.s.Write(data, off)
}

func (h scratchHandle) Truncate(size int) {
	n := uint64(size)
	h.s.Setattr(SetAttr{Size: &n})
}

func (h scratchHandle) Flush(ctx context.Context) error { return nil }
func (h scratchHandle) Release()                        {}

func (s *Scratch) content() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.data)
}

func (s *scratchDir) get(name string) *Scratch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[name]
}

func (s *scratchDir) put(name string, f *Scratch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files = map[string]*Scratch{}
	}
	s.files[name] = f
}

// create returns the file called name, made empty if there is none.
func (s *scratchDir) create(name string, mode uint32) *Scratch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.files[name]; f != nil {
		return f
	}
	if s.files == nil {
		s.files = map[string]*Scratch{}
	}
	f := newScratch(mode, nil)
	s.files[name] = f
	return f
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

func (s *scratchDir) entry(name string, f *Scratch) Entry {
	return Entry{Name: name, Mode: syscall.S_IFREG, Key: f.Key(), New: func() Node { return f }}
}

// rename handles editors' renames (see the top of this file).
func (s *scratchDir) rename(ctx context.Context, d *Dir, oldName, newName string, flags uint32) ([]string, error) {
	src := s.get(oldName)
	if src == nil {
		return s.backup(ctx, d, oldName, newName, flags)
	}
	if isScratchName(newName) {
		if flags&renameNoReplace != 0 && s.get(newName) != nil {
			return nil, syscall.EEXIST
		}
		s.remove(oldName)
		s.put(newName, src)
		return nil, nil
	}
	e, err := d.Find(ctx, newName)
	if err != nil {
		return nil, syscall.EACCES // a new name that is neither a control file nor an editor's
	}
	if flags&renameNoReplace != 0 {
		return nil, syscall.EEXIST
	}
	fn, ok := e.New().(*File)
	if !ok {
		return nil, syscall.EISDIR
	}
	if err := fn.Replace(ctx, src.content()); err != nil {
		return nil, err
	}
	s.remove(oldName)
	// The kernel now takes newName for the temp file's inode: make it ask.
	return []string{newName}, nil
}

// backup is a control file renamed to an editor's name: copy it there and
// leave it in place (the kernel is told to look both names up again).
func (s *scratchDir) backup(ctx context.Context, d *Dir, oldName, newName string, flags uint32) ([]string, error) {
	e, err := d.Find(ctx, oldName)
	if err != nil {
		return nil, err
	}
	fn, ok := e.New().(*File)
	if !ok || !isScratchName(newName) {
		return nil, syscall.EACCES
	}
	if flags&renameNoReplace != 0 && s.get(newName) != nil {
		return nil, syscall.EEXIST
	}
	data, err := fn.content(ctx)
	if err != nil {
		return nil, err
	}
	s.put(newName, newScratch(fn.spec.mode, data))
	return []string{oldName, newName}, nil
}
