package vfs

import (
	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
)

// What pafs learns of a path (size, hash, mtime, mode, inode number) is
// kept in the metadata store across mounts (cache.Meta, docs/semantics.md
// "What is kept across mounts"). These helpers keep those records in step
// with the tree.

// forgetGoneLocked drops the records of the names a fresh listing of dir no
// longer shows (deleted or renamed elsewhere) and the overlay does not
// hold: a file made again under the name is a new file, with a new inode
// number and mtime, and the store does not keep every name ever seen.
// f.mu must be held (the overlay must not change meanwhile).
func (f *FS) forgetGoneLocked(dir string, ents map[string]bool) {
	prev, ok := f.meta.PeekListing(dir)
	if !ok {
		return
	}
	for name := range prev.Entries {
		if _, still := ents[name]; still {
			continue
		}
		if p := rpath.Join(dir, name); f.ov.get(p) == nil {
			f.meta.DeleteAttr(p)
		}
	}
}

// moveAttrKeepIno moves p's attributes to q, as for a rename that the
// kernel does not know of (the local file moved aside, the server's version
// keeps the name): the kernel's inode stays at p, so p keeps its number and
// q gets a new one. Moving the number would give q the inode the kernel
// still holds for p, and go-fuse would take the two names for hard links.
func (f *FS) moveAttrKeepIno(p, q string) {
	ino := f.meta.Ino(p)
	f.meta.MoveAttr(p, q)
	f.meta.UpdateAttr(q, func(a *cache.Attr) { a.Ino = 0 })
	f.meta.UpdateAttr(p, func(a *cache.Attr) { a.Ino = ino })
}
