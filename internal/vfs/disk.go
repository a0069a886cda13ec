package vfs

import (
	"errors"
	"syscall"
)

// localErrno reports a failure of the cache directory (writing a cached
// file, the journal) and returns the errno to give: ENOSPC for a full disk
// or quota, which the user can act on (clean cached copies were evicted
// first: cache.Item.WriteAt), EROFS for a read-only one, EIO otherwise.
func (f *FS) localErrno(op, p string, err error) error {
	f.report(op, p, err)
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return syscall.ENOSPC
	case errors.Is(err, syscall.EROFS):
		return syscall.EROFS
	}
	return syscall.EIO
}
