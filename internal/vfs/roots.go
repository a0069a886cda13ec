package vfs

import (
	"syscall"

	"github.com/pafs/pafs/internal/rpath"
)

// The writable roots are the trees the server lets an account write and
// delete in: its home, /tmp, and its own /var/www (WSGI files) and /var/log
// (web app logs). Everything else the files API lists (/, /etc, /usr, other
// users' homes) is read-only: an upload there is refused with 403, a delete
// too. The roots themselves exist on every account and can be neither
// replaced nor deleted. This is the one list pafs keeps of them
// (docs/semantics.md, "Where you can write").
var otherWritableRoots = []string{"/tmp", "/var/www", "/var/log"}

// writableRoots returns the writable roots of the account.
func (f *FS) writableRoots() []string {
	if f.o.Home == "" || f.o.Home == "/" {
		return otherWritableRoots
	}
	return append([]string{f.o.Home}, otherWritableRoots...)
}

// writable reports whether the server takes writes and deletes at p: p lies
// strictly inside a writable root.
func (f *FS) writable(p string) bool {
	for _, r := range f.writableRoots() {
		if rpath.IsBelow(p, r) {
			return true
		}
	}
	return false
}

// mayWrite refuses, with EACCES, a change at a path the server would refuse:
// refused here, at once, the command that made it fails, rather than the
// change being taken and then refused by the server at every retry.
func (f *FS) mayWrite(paths ...string) error {
	for _, p := range paths {
		if !f.writable(p) {
			return syscall.EACCES
		}
	}
	return nil
}

// isKnownDir reports whether p is a directory every account has: a writable
// root or one of its ancestors (/, /home, /var). They exist without asking,
// and cannot be removed.
func (f *FS) isKnownDir(p string) bool {
	for _, r := range f.writableRoots() {
		if p == r || rpath.IsBelow(r, p) {
			return true
		}
	}
	return p == "/"
}
