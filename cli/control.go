package cli

import (
	"log/slog"

	pafsfs "github.com/pafs/pafs/fs"
	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/status"
	"github.com/pafs/pafs/vfs"
)

// controlChildren returns the control folders (webapps/, schedule/, ...) to
// mount beside files/.
func controlChildren(client *remote.Client, files *vfs.FS, errs *status.Errors, c *mountConfig, log *slog.Logger) []pafsfs.Child {
	return nil
}
