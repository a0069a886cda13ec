package fs

import (
	"errors"
	"syscall"

	"github.com/pafs/pafs/remote"
)

// Errno turns any error from below into the errno the caller sees; every
// node answers through it. An errno anywhere in the chain wins (vfs and
// control return or wrap them), then an error that names its own errno
// (control's refused values: EINVAL), then the API's errors and context
// errors (remote.Errno, EIO for anything else).
func Errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	var own interface{ Errno() syscall.Errno }
	if errors.As(err, &own) {
		return own.Errno()
	}
	return remote.Errno(err)
}
