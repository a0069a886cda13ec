package fs

import (
	"fmt"
	"os"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// MountOptions are the user's choices for the kernel mount.
type MountOptions struct {
	FsName     string   // shown as the source in mount(8) and df
	AllowOther bool     // let other users see the mount (needs user_allow_other for non-root)
	ReadOnly   bool     // mount read-only
	Debug      bool     // log every FUSE request
	Options    []string // extra -o options
}

// Mount mounts root at dir and returns the serving FUSE server. As root it
// mounts directly with mount(2); otherwise it uses fusermount3.
func Mount(dir string, root gofs.InodeEmbedder, o MountOptions) (*fuse.Server, error) {
	entry, negative := entryTimeout, negativeTimeout
	opts := []string{"default_permissions"}
	if o.ReadOnly {
		opts = append(opts, "ro")
	}
	opts = append(opts, o.Options...)
	name := o.FsName
	if name == "" {
		name = "pafs"
	}
	srv, err := gofs.Mount(dir, root, &gofs.Options{
		// A nil AttrTimeout keeps the per-node timeouts set in attr.go; a
		// non-nil one would override the zero that files need.
		EntryTimeout:    &entry,
		NegativeTimeout: &negative,
		MountOptions: fuse.MountOptions{
			FsName:      name,
			Name:        "pafs",
			AllowOther:  o.AllowOther,
			Debug:       o.Debug,
			Options:     opts,
			MaxWrite:    1 << 20,
			DirectMount: os.Geteuid() == 0,
			// READDIRPLUS stays on although go-fuse answers it with a
			// lookup of every entry: a lookup never fetches a file's
			// size, getattr does (internal/vfs/sizes.go), and the kernel
			// asks getattr before it shows a file's attributes (their
			// timeout is zero, attr.go). So ls and find -name cost the
			// listing alone, and ls -l needs no lookup per entry.
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	return srv, nil
}
