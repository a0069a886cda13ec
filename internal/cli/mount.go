package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/spf13/pflag"

	pafsfs "github.com/pafs/pafs/fs"
	"github.com/pafs/pafs/internal/status"
	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// runMount is `pafs mount`: mount, serve in the foreground, and on Ctrl-C,
// SIGTERM or SIGHUP upload what is pending, then unmount.
func runMount(args []string, stdout, stderr io.Writer) int {
	c, err := parseMountArgs(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pafs mount: %v\n", err)
		return 2
	}
	// Signals are caught before mounting: one arriving between the mount and
	// serve would otherwise kill pafs and leave a dead mount behind. One
	// that arrives during start-up cancels what start-up is waiting for
	// (the token check), and is handled by serve if the mount got up all
	// the same. SIGHUP (the terminal closed) stops pafs like SIGTERM.
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	// With the terminal gone, stderr may be a pipe nobody reads (`pafs
	// mount ... | tee`): a message must fail, not kill pafs mid-upload.
	signal.Ignore(syscall.SIGPIPE)
	defer signal.Stop(sig)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan os.Signal, 4)
	go func() {
		for s := range sig {
			cancel()
			select {
			case stop <- s:
			default: // more signals than anyone waits for
			}
		}
	}()
	m, err := startMount(ctx, c, stderr)
	if err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted while starting: nothing was mounted")
		}
		fmt.Fprintf(stderr, "pafs mount: %v\n", err)
		return 1
	}
	return m.serve(stop)
}

// mount is a running mount and what it needs to shut down.
type mount struct {
	c       *mountConfig
	log     *slog.Logger
	stderr  io.Writer
	srv     *fuse.Server
	client  *remote.Client
	files   *vfs.FS
	errors  *status.Errors
	cleanup []func()
}

func (m *mount) close() {
	for i := len(m.cleanup) - 1; i >= 0; i-- {
		m.cleanup[i]()
	}
}

// startMount builds the client, caches and file system, and mounts. ctx
// ends when a signal asks pafs to stop.
func startMount(ctx context.Context, c *mountConfig, stderr io.Writer) (_ *mount, err error) {
	m := &mount{c: c, stderr: stderr, errors: status.NewErrors(20)}
	defer func() {
		if err != nil {
			m.close()
		}
	}()
	if m.log, err = m.logger(); err != nil {
		return nil, err
	}
	if err := checkFUSE(); err != nil {
		return nil, err
	}
	created, err := prepareMountpoint(c.mountpoint, c.nonEmpty)
	if err != nil {
		return nil, err
	}
	// Registered first, so it runs last: after the unmount, once nothing
	// serves the directory any more.
	m.cleanup = append(m.cleanup, func() { removeCreated(created) })
	baseURL, err := m.account()
	if err != nil {
		return nil, err
	}
	client, err := remote.New(remote.Config{BaseURL: baseURL, Username: c.username, Token: c.token,
		RateLimit: c.rateLimit, RateWindow: c.rateWindow, MaxRetries: retries(c.retries), Timeout: c.timeout, SlowTimeout: c.slowTimeout, Logger: m.log})
	if err != nil {
		// Flags were checked before; what is left is the token's form.
		return nil, errors.New(strings.TrimPrefix(err.Error(), "remote: "))
	}
	m.client = client
	offline, probe, err := m.checkAccount(ctx, client, baseURL)
	if err != nil {
		return nil, err
	}
	cacheDir, err := m.cacheDir(baseURL)
	if err != nil {
		return nil, err
	}
	// Counted before the queue starts sending them.
	queued, err := queuedOps(cacheDir)
	if err != nil {
		return nil, err
	}
	store, err := m.openStore(cacheDir, baseURL, offline)
	if err != nil {
		return nil, err
	}
	notices := status.NewErrors(10)
	files, err := vfs.New(client, vfs.Options{
		Store: store, Offline: offline != nil,
		Home: "/home/" + c.username, CacheDir: cacheDir,
		DirCacheTime: c.dirCacheTime, ContentTTL: c.cacheTTL, CacheMaxBytes: c.cacheMax,
		WriteBack: c.writeBack, WriteBackMax: c.writeBackMax, TempDelay: c.tempDelay, TempNames: c.tempNames, Workers: c.transfers,
		LazySizes: c.sizes == "lazy", OnNotice: notices.Add,
		Logger:  m.log,
		OnError: func(op, path string, err error) { m.errors.Add(op, path, err) },
		Spare:   func() int { return client.Spare("files/path") },
		// Following spends a quarter of the files budget (docs/semantics.md).
		FollowInterval: cmp.Or(c.followInterval, vfs.FollowInterval(c.rateLimit, c.rateWindow)),
	})
	if err != nil {
		return nil, err
	}
	m.files = files
	m.cleanup = append(m.cleanup, files.Close)
	if c.readOnly && queued > 0 {
		// Those changes were written, and their close succeeded, before:
		// they go to the server even though this mount takes no new ones.
		msg := fmt.Sprintf("read-only mount: uploading %d %s queued by an earlier run (`pafs status` lists them)", queued, plural(queued, "change"))
		fmt.Fprintf(stderr, "pafs: %s\n", msg)
		notices.Add("read-only", cacheDir, errors.New(msg))
	}
	src := &status.Source{Client: client, Files: files, Errors: m.errors, Notices: notices,
		Account: c.username + "@" + baseURL, Mountpoint: c.mountpoint, Started: time.Now(),
		CacheDir: cacheDir, CacheTemporary: c.cacheTemp}
	children := append(controlChildren(client, files, m.errors, notices, c, m.log), pafsfs.PafsDir(src))
	root := pafsfs.NewRoot(files, c.username, children...)
	m.srv, err = pafsfs.Mount(c.mountpoint, root, pafsfs.MountOptions{
		FsName: "pafs:" + c.username, AllowOther: c.allowOther, ReadOnly: c.readOnly,
		Debug: c.debugFUSE, Options: c.options,
	})
	if err != nil {
		return nil, err
	}
	if offline != nil {
		msg := fmt.Sprintf("offline: %v; serving what earlier mounts cached, queueing changes, and trying the API again in the background", offline)
		fmt.Fprintf(stderr, "pafs: %s\n", msg)
		m.log.Warn(msg)
		m.errors.Add("mount", "", offline)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); m.probe(ctx, probe, baseURL) }()
		m.cleanup = append(m.cleanup, func() { cancel(); <-done })
	}
	fmt.Fprintf(stderr, "pafs: mounted %s (%s) at %s\n", c.username, baseURL, c.mountpoint)
	return m, nil
}

// logger returns the mount's log: stderr or --log-file, debug with -v.
func (m *mount) logger() (*slog.Logger, error) {
	w := m.stderr
	if m.c.logFile != "" {
		f, err := os.OpenFile(m.c.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--log-file: %w", err)
		}
		m.cleanup = append(m.cleanup, func() { f.Close() })
		w = f
	}
	level := slog.LevelInfo
	if m.c.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// account settles the API host, username and token; --demo starts the
// embedded emulator and points everything at it.
func (m *mount) account() (string, error) {
	c := m.c
	if c.demo {
		return m.startDemo()
	}
	if err := m.token(); err != nil {
		return "", err
	}
	site := os.Getenv("PYTHONANYWHERE_SITE") // set in PythonAnywhere's own consoles
	if c.username == "" && site != "" {
		c.username = os.Getenv("USER")
	}
	if c.username == "" {
		return "", errors.New("no username: pass --username or set $PA_USERNAME")
	}
	switch {
	case c.apiURL != "":
		return c.apiURL, nil
	case !c.regionSet && site != "":
		// On PythonAnywhere itself the account's host is known.
		return "https://" + strings.TrimRight(site, "/"), nil
	}
	return remote.RegionURL(c.region)
}

// token reads the API token: --token-file, else $API_TOKEN, else --token.
func (m *mount) token() error {
	c := m.c
	switch {
	case c.tokenFile != "":
		st, err := os.Stat(c.tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			m.log.Warn("token file is readable by other users; chmod 600 it", "file", c.tokenFile)
		}
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	case os.Getenv("API_TOKEN") != "" && !c.tokenOnCmd:
		c.token = strings.TrimSpace(os.Getenv("API_TOKEN"))
	case c.tokenOnCmd:
		m.log.Warn("--token puts the token where other users can read it (ps); prefer $API_TOKEN or --token-file")
	}
	if c.token == "" {
		return errors.New("no API token: set $API_TOKEN (PythonAnywhere: Account → API token) or pass --token-file")
	}
	return nil
}

// startDemo serves a demo account from the embedded emulator on loopback.
func (m *mount) startDemo() (string, error) {
	c := m.c
	if c.username == "" {
		c.username = emulator.DefaultUsername
	}
	e := emulator.New(emulator.Config{Username: c.username, Demo: true,
		RateLimit: c.rateLimit, RateWindow: c.rateWindow})
	c.token = e.Token()
	url, stop, err := e.ServeLoopback()
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	m.cleanup = append(m.cleanup, stop)
	if c.cacheDir == "" {
		dir, err := os.MkdirTemp("", "pafs-demo-cache-")
		if err != nil {
			return "", err
		}
		c.cacheDir = dir
		c.cacheTemp = true
		m.cleanup = append(m.cleanup, func() { os.RemoveAll(dir) })
	}
	m.log.Info("demo: serving a demo account from the built-in emulator", "url", url, "user", c.username)
	return url, nil
}

// retries maps the --retries flag to the client's setting (0 means none there).
func retries(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
