package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/spf13/pflag"

	"github.com/pafs/pafs/cache/metastore"
	pafsfs "github.com/pafs/pafs/fs"
	"github.com/pafs/pafs/internal/status"
	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/internal/writeback"
	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// runMount is `pafs mount`: mount, serve in the foreground, and on Ctrl-C or
// SIGTERM upload what is pending, then unmount.
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
	// serve would otherwise kill pafs and leave a dead mount behind. One that
	// arrives during start-up is handled once the mount is up.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	m, err := startMount(c, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "pafs mount: %v\n", err)
		return 1
	}
	return m.serve(sig)
}

// mount is a running mount and what it needs to shut down.
type mount struct {
	c       *mountConfig
	log     *slog.Logger
	stderr  io.Writer
	srv     *fuse.Server
	files   *vfs.FS
	errors  *status.Errors
	cleanup []func()
}

func (m *mount) close() {
	for i := len(m.cleanup) - 1; i >= 0; i-- {
		m.cleanup[i]()
	}
}

// startMount builds the client, caches and file system, and mounts.
func startMount(c *mountConfig, stderr io.Writer) (_ *mount, err error) {
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
	if err := prepareMountpoint(c.mountpoint, c.nonEmpty); err != nil {
		return nil, err
	}
	baseURL, err := m.account()
	if err != nil {
		return nil, err
	}
	client, err := remote.New(remote.Config{BaseURL: baseURL, Username: c.username, Token: c.token,
		RateLimit: c.rateLimit, RateWindow: c.rateWindow, MaxRetries: retries(c.retries), Timeout: c.timeout, SlowTimeout: c.slowTimeout, Logger: m.log})
	if err != nil {
		return nil, err
	}
	offline, probe, err := m.checkAccount(client, baseURL)
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
		WriteBack: c.writeBack, WriteBackMax: c.writeBackMax, TempDelay: c.tempDelay, LocalOnly: c.localOnly, Workers: c.transfers,
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
		Account: c.username + "@" + baseURL, Mountpoint: c.mountpoint, Started: time.Now()}
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
		go func() { defer close(done); m.probe(ctx, probe) }()
		m.cleanup = append(m.cleanup, func() { cancel(); <-done })
	}
	fmt.Fprintf(stderr, "pafs: mounted %s (%s) at %s\n", c.username, baseURL, c.mountpoint)
	return m, nil
}

// checkAccount checks the token (see checkToken). When the API cannot be
// reached and an earlier mount of this account left a metadata store, the
// mount starts offline instead of failing: offline is the failure, probe a
// client that asks the API with few retries (the background probe's). A
// refused token stops the mount either way.
func (m *mount) checkAccount(client *remote.Client, baseURL string) (offline error, probe *remote.Client, err error) {
	dir, _, err := m.cacheDirPath(baseURL)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, metaFile)); err != nil {
		// Nothing to serve offline: the check fails as it always did.
		return nil, nil, checkToken(client)
	}
	// A store is there: an unreachable API costs one attempt at start (at
	// most probeTimeout), not the client's full round of retries; a blip
	// that sends the mount offline ends at the first probe, a second later.
	c := m.c
	probe, err = remote.New(remote.Config{BaseURL: baseURL, Username: c.username, Token: c.token,
		RateLimit: c.rateLimit, RateWindow: c.rateWindow, MaxRetries: retries(0), Timeout: probeTimeout, Logger: m.log})
	if err != nil {
		return nil, nil, err
	}
	err = checkToken(probe)
	if unreachable(err) {
		return err, probe, nil
	}
	return nil, nil, err
}

// unreachable reports a token check that got no answer, or none from the
// API itself (a proxy's 502, a server in maintenance).
func unreachable(err error) bool {
	return errors.Is(err, errUnreachable) || remote.StatusOf(err) >= 500
}

// probeTimeout bounds a probe of the API that makes no progress (a network
// that went away answers nothing at all).
const probeTimeout = 10 * time.Second

// openStore opens the cache directory's metadata store. Without one (in
// use, a file system error) pafs runs as before, from what the server
// says; a damaged one, or one of another version, is set aside and started
// afresh (see metastore.OpenOrRebuild). Offline (the API unreachable, the
// error given) there must be a usable store with what an earlier mount
// learnt, or the mount fails.
func (m *mount) openStore(cacheDir, baseURL string, offline error) (*metastore.Store, error) {
	path := filepath.Join(cacheDir, metaFile)
	st, warn, err := metastore.OpenOrRebuild(path, metastore.Options{Account: m.owner(baseURL).String()})
	if err != nil {
		if offline != nil {
			return nil, fmt.Errorf("%w; and what earlier mounts learnt cannot be used: %w", offline, err)
		}
		m.log.Warn("metadata store: running without it; listings and sizes are fetched from the server again", "error", err)
		m.errors.Add("metadata store", path, err)
		return nil, nil
	}
	if warn != "" {
		if offline != nil {
			st.Close()
			return nil, fmt.Errorf("%w; and what earlier mounts learnt is lost: %s", offline, warn)
		}
		m.log.Warn("metadata store: " + warn)
		m.errors.Add("metadata store", path, errors.New(warn))
	}
	return st, nil
}

// probe asks the API, less and less often, whether it answers again, while
// the mount is offline; the first answer ends the offline state (an upload
// that succeeds ends it too).
func (m *mount) probe(ctx context.Context, c *remote.Client) {
	for wait := time.Second; ; wait = min(2*wait, 15*time.Second) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if _, offline := m.files.Offline(); !offline {
			return
		}
		err := checkToken(c)
		switch {
		case err == nil:
			m.log.Info("the API answers again")
			m.files.Online()
			return
		case !unreachable(err):
			// A token revoked while offline: nothing will upload; say so
			// where the user looks.
			m.log.Error("the API answers, but refuses this mount", "error", err)
			m.errors.Add("mount", "", err)
		}
	}
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
		return strings.TrimRight(c.apiURL, "/"), nil
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo emulator: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Serve(ctx, ln); close(done) }()
	m.cleanup = append(m.cleanup, func() { cancel(); <-done })
	if c.cacheDir == "" {
		dir, err := os.MkdirTemp("", "pafs-demo-cache-")
		if err != nil {
			return "", err
		}
		c.cacheDir = dir
		m.cleanup = append(m.cleanup, func() { os.RemoveAll(dir) })
	}
	url := "http://" + ln.Addr().String()
	m.log.Info("demo: serving a demo account from the built-in emulator", "url", url, "user", c.username)
	return url, nil
}

// errUnreachable marks a token check that got no answer from the API.
var errUnreachable = errors.New("cannot reach the API")

// checkToken spends one cheap request (cpu/, its own rate budget) to fail
// early and clearly on a wrong token or username.
func checkToken(c *remote.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.CPU(ctx)
	switch remote.StatusOf(err) {
	case 0:
		if err != nil {
			return fmt.Errorf("%w: %w", errUnreachable, err)
		}
		return nil
	case 401:
		return errors.New("the API token was refused (401 Invalid token): check $API_TOKEN")
	case 403:
		return fmt.Errorf("the token does not belong to user %q (403): check --username", c.Username())
	}
	return fmt.Errorf("checking the token: %w", err)
}

// serve waits for a signal (or an external unmount), then uploads what is
// pending and unmounts. A second signal skips the wait: the queue stays on
// disk and the next mount uploads it.
func (m *mount) serve(sig <-chan os.Signal) int {
	defer m.close()
	served := make(chan struct{})
	go func() { m.srv.Wait(); close(served) }()
	external := false
	select {
	case <-sig:
	case <-served:
		external = true
		m.log.Info("unmounted from outside; uploading what is pending")
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-sig:
			fmt.Fprintln(m.stderr, "pafs: second signal: unmounting now; pending uploads stay queued for the next mount")
			cancel()
		case <-ctx.Done():
		}
	}()
	code := 0
	if err := m.files.Drain(ctx, progressPrinter(m.stderr)); err != nil {
		m.reportLeft(err)
		code = 1
	}
	if !external {
		m.unmount()
	}
	<-served
	if ctx.Err() == nil {
		// Writes closed while unmounting.
		if err := m.files.Drain(ctx, progressPrinter(m.stderr)); err != nil {
			m.reportLeft(err)
			code = 1
		}
	}
	cancel()
	return code
}

// reportLeft says what could not be uploaded before unmounting.
func (m *mount) reportLeft(err error) {
	fmt.Fprintf(m.stderr, "\npafs: %s\npafs: the changes stay queued in %s and are retried at the next mount; `pafs status` shows them\n",
		status.Printable(err.Error()), m.c.cacheDir)
}

func (m *mount) unmount() {
	for i := 0; i < 10; i++ {
		err := m.srv.Unmount()
		if err == nil {
			return
		}
		m.log.Warn("unmount failed, retrying", "error", err)
		time.Sleep(500 * time.Millisecond)
	}
	// Busy for good (a shell cd'ed inside): detach lazily so pafs can exit.
	syscall.Unmount(m.c.mountpoint, syscall.MNT_DETACH)
}

// progressPrinter reports a drain's progress: on a terminal one line
// rewritten in place, elsewhere a line whenever the count changes.
func progressPrinter(w io.Writer) func(writeback.Progress) {
	tty := isTerminal(w)
	last := -1
	return func(p writeback.Progress) {
		if p.Ops == 0 {
			if last > 0 {
				fmt.Fprintf(w, "\rpafs: all uploads done.%40s\n", "")
			}
			last = 0
			return
		}
		if !tty && p.Ops == last {
			return
		}
		last = p.Ops
		msg := fmt.Sprintf("pafs: uploading before unmount: %d left (%s)", p.Ops, humanBytes(p.Bytes))
		if p.LastError != "" {
			msg += "; last error: " + status.Printable(p.LastError)
		}
		if tty {
			fmt.Fprintf(w, "\r%-100s", msg)
		} else {
			fmt.Fprintln(w, msg)
		}
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// retries maps the --retries flag to the client's setting (0 means none there).
func retries(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
