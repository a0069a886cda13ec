package cli

import (
	"log/slog"
	"strings"

	pafsfs "github.com/pafs/pafs/fs"
	"github.com/pafs/pafs/internal/control"
	"github.com/pafs/pafs/internal/status"
	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/remote"
)

// controlChildren returns the control folders (webapps/, schedule/, ...) to
// mount beside files/.
func controlChildren(client *remote.Client, files *vfs.FS, errs, notices *status.Errors, c *mountConfig, log *slog.Logger) []pafsfs.Child {
	ctl := control.New(control.Config{
		Client: client, Files: files, Errors: errs, Notices: notices, Log: log,
		TTL:             c.dirCacheTime,
		WebHost:         webHost(c),
		AutoReload:      c.autoReload,
		AutoReloadDelay: c.autoReloadDelay,
	})
	if c.autoReload {
		log.Info("auto-reload: web apps reload by themselves after uploads under their source directory or to their WSGI file",
			"quiet period", c.autoReloadDelay)
	}
	return pafsfs.ControlFolders(ctl)
}

// webHost is the site whose pages messages link to (a console must be
// opened once in a browser before it takes input).
func webHost(c *mountConfig) string {
	if c.apiURL != "" {
		return strings.TrimRight(c.apiURL, "/")
	}
	if c.demo {
		return ""
	}
	u, err := remote.RegionURL(c.region)
	if err != nil {
		return ""
	}
	return u
}
