// Package control is everything of the API that is not a file, as folders
// and small files a shell script or an editor can drive: webapps/,
// schedule/, always_on/, consoles/, students/ and account/ of the mount
// (docs/control.md). It is the logic only: the go-fuse nodes are thin
// adapters in package fs (fs/control_*.go), and everything here runs and is
// tested without a mount.
//
// The tree is made of Entries, each making a Node: a *Dir (dir.go), a *File
// (file.go), a *Link (tree.go) or an editor's *Scratch file (scratch.go).
// Objects come from one cached list per kind (listcache.go), so a folder
// costs one request per TTL for its whole kind, not one per file. The files
// of each folder are built from a table per kind (kind.go, webapps.go,
// schedule.go, ...), where each field owns its parser and its PATCH member.
// What writing a file means is its write policy (write.go), which picks the
// type of the handle at open (handle.go). Every API call made for a FUSE
// request runs on a background context and is only waited for with the
// request's, since any signal to the caller cancels that one. Errors are
// Go errors: syscall.Errno values, API errors (remote.Errno) and local
// refusals with an Errno method (EINVAL), mapped in one place in fs.
package control

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/pafs/pafs/internal/status"
	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/remote"
)

// apiTimeout bounds one API call made for a FUSE request, retries and
// rate-limit waits included.
const apiTimeout = 10 * time.Minute

// Config is what the control folders need from the mount.
type Config struct {
	Client *remote.Client
	Files  *vfs.FS // the files/ tree: reloads wait for its uploads
	Errors *status.Errors
	// Notices hears what is not an error but needs the user's attention
	// (a reload is needed); nil sends it to Errors.
	Notices *status.Errors
	Log     *slog.Logger
	// TTL is how long a listed object is trusted (--dir-cache-time).
	TTL time.Duration
	// WebHost is the site's URL ("https://www.pythonanywhere.com"), for
	// the links given in messages; empty for the demo.
	WebHost string
	// AutoReload reloads a web app after uploads under its source
	// directory or to its WSGI file, once they have been quiet for
	// AutoReloadDelay.
	AutoReload      bool
	AutoReloadDelay time.Duration
}

// Control owns the caches behind the control folders.
type Control struct {
	cfg     Config
	client  *remote.Client
	log     *slog.Logger
	started time.Time

	webapps  *kind[remote.Webapp, remote.WebappPatch]
	schedule *collection[remote.ScheduledTask, remote.SchedulePatch]
	alwaysOn *collection[remote.AlwaysOnTask, remote.AlwaysOnPatch]
	consoles *listCache[remote.Console]
	shared   *listCache[remote.Console]
	students *listCache[remote.Student]
	cpu      *cell[remote.CPUUsage]
	settings []*setting // account/'s one-value settings, in the folder's order
	python3  *setting   // the account's default Python 3 version, one of settings

	// mu guards static, headers, ssl and latest.
	mu      sync.Mutex
	static  map[string]*collection[remote.StaticFile, staticFilePatch]     // by domain, made when first used
	headers map[string]*collection[remote.StaticHeader, staticHeaderPatch] // by domain
	ssl     map[string]*cell[sslState]                                     // by domain
	latest  map[string]string                                              // folder → name of the object created last

	auto *autoReloader
}

// New builds the control folders' state. Nothing is fetched until used.
func New(cfg Config) *Control {
	if cfg.TTL <= 0 {
		cfg.TTL = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Errors == nil {
		cfg.Errors = status.NewErrors(20)
	}
	c := &Control{cfg: cfg, client: cfg.Client, log: cfg.Log, started: time.Now(),
		static: map[string]*collection[remote.StaticFile, staticFilePatch]{}, headers: map[string]*collection[remote.StaticHeader, staticHeaderPatch]{},
		ssl: map[string]*cell[sslState]{}, latest: map[string]string{}}
	c.webapps = c.webappKind()
	c.schedule = c.scheduleKind()
	c.alwaysOn = c.alwaysOnKind()
	c.initConsoles()
	c.initAccount()
	if cfg.AutoReload && cfg.Files != nil {
		c.auto = newAutoReloader(c, cfg.AutoReloadDelay)
		cfg.Files.OnUploaded(c.auto.uploaded)
	}
	return c
}

// Folders are the top-level folders, beside files/.
func (c *Control) Folders() []*Dir {
	return []*Dir{c.webappsDir(), c.schedule.dir(), c.alwaysOn.dir(), c.consolesDir(), c.studentsDir(), c.accountDir()}
}

// run calls fn on a background context and waits for it with ctx. An API
// call must not be cut short because the caller got a signal (Go's own
// preemption signals included): a write may then have happened or not, and
// the caches must hear the answer either way.
func (c *Control) run(ctx context.Context, fn func(context.Context) error) error {
	done := make(chan error, 1)
	go func() {
		bg, cancel := context.WithTimeout(context.Background(), apiTimeout)
		defer cancel()
		done <- fn(bg)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return syscall.EINTR
	}
}

// fail records a failed operation where the user looks: the log and the
// status file's last errors.
func (c *Control) fail(op, path string, err error) {
	if err == nil || errors.Is(err, syscall.EINTR) {
		return // an interrupted wait: the call goes on and reports itself
	}
	lvl := slog.LevelWarn
	if isInputError(err) {
		lvl = slog.LevelInfo
	}
	c.log.Log(context.Background(), lvl, "control: "+op+" failed", "path", path, "error", err.Error())
	c.cfg.Errors.Add(op, path, err)
}

// notice tells the user, in the log and the status file's notices,
// something that is not a failure but needs their attention (a reload is
// needed, a slow action probably happened).
func (c *Control) notice(op, path, msg string) {
	c.log.Warn("control: "+msg, "path", path)
	notices := c.cfg.Notices
	if notices == nil {
		notices = c.cfg.Errors
	}
	notices.Add(op, path, errors.New(msg))
}

// invalidate tells files/ that the server changed or made the files at
// paths (logs, WSGI files) behind its caches: their next read, and the
// next look at their folder, ask the server.
func (c *Control) invalidate(paths ...string) {
	if c.cfg.Files != nil && len(paths) > 0 {
		c.cfg.Files.Invalidate(paths...)
	}
}

// setLatest remembers the object this mount created last in a folder.
func (c *Control) setLatest(folder, name string) {
	c.mu.Lock()
	c.latest[folder] = name
	c.mu.Unlock()
}

func (c *Control) getLatest(folder string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latest[folder]
}

// latestLink is folder's latest: a link to the object this mount created
// there last.
func (c *Control) latestLink(folder string) Entry {
	return c.link("latest", folder+"/latest", func() string { return c.getLatest(folder) })
}
