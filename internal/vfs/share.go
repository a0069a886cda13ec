package vfs

import (
	"context"
	"syscall"

	"github.com/pafs/pafs/remote"
)

// ShareURL returns the public URL of a shared file; ENODATA if not shared.
func (f *FS) ShareURL(ctx context.Context, p string) (string, error) {
	u, err := f.r.SharedURL(ctx, p)
	if err != nil {
		if remote.IsNotFound(err) {
			return "", syscall.ENODATA
		}
		f.report("share", p, err)
		return "", remote.Errno(err)
	}
	return u, nil
}

// SetShared shares or unshares p. Sharing first waits for p's pending
// upload, as a reload does (Sync): the server can only share a file it
// has, and a file just written is not there until its upload is done.
func (f *FS) SetShared(ctx context.Context, p string, on bool) error {
	var err error
	if on {
		if err := f.Sync(ctx, p); err != nil {
			return err
		}
		_, _, err = f.r.Share(ctx, p)
	} else {
		err = f.r.Unshare(ctx, p)
		if remote.IsNotFound(err) {
			err = nil
		}
	}
	if err != nil {
		f.report("share", p, err)
		return remote.Errno(err)
	}
	return nil
}
