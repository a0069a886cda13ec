package cli

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// checkAccount checks the token (see checkToken). When the API cannot be
// reached and an earlier mount of this account left a metadata store, the
// mount starts offline instead of failing: offline is the failure, probe a
// client that asks the API with few retries (the background probe's). A
// refused token stops the mount either way.
func (m *mount) checkAccount(ctx context.Context, client *remote.Client, baseURL string) (offline error, probe *remote.Client, err error) {
	dir, _, err := m.cacheDirPath(baseURL)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, metaFile)); err != nil {
		// Nothing to serve offline: the check fails as it always did.
		return nil, nil, checkToken(ctx, client, baseURL)
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
	err = checkToken(ctx, probe, baseURL)
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
			_ = st.Close() // an empty store: nothing in it to keep
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
func (m *mount) probe(ctx context.Context, c *remote.Client, baseURL string) {
	for wait := time.Second; ; wait = min(2*wait, 15*time.Second) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if _, offline := m.files.Offline(); !offline {
			return
		}
		err := checkToken(ctx, c, baseURL)
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

// errUnreachable marks a token check that got no answer from the API
// (errors.Is; the error's own text says why, in plain words).
var errUnreachable = errors.New("cannot reach the API")

// startupCheck bounds the token check at start-up. An API that does not
// answer within it is taken for unreachable: a mount that would start
// anyway could show nothing (no listing has ever been fetched), and a clear
// error at once beats a minute of retries.
const startupCheck = 5 * time.Second

// checkToken spends one cheap request (cpu/, its own rate budget) to fail
// early and clearly on a wrong token or username, or an API that cannot be
// reached. It is tried once, for at most startupCheck.
func checkToken(ctx context.Context, c *remote.Client, baseURL string) error {
	ctx, cancel := context.WithTimeout(remote.WithoutRetries(ctx), startupCheck)
	defer cancel()
	_, err := c.CPU(ctx)
	// A server error may pass: ask again, quietly, while the time lasts.
	for remote.StatusOf(err) >= 500 && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
			_, err = c.CPU(ctx)
		}
	}
	switch remote.StatusOf(err) {
	case 0:
		if err != nil {
			return unreachableErr(baseURL, err)
		}
		return nil
	case 401:
		return errors.New("the API token was refused (401 Invalid token): check $API_TOKEN")
	case 403:
		return fmt.Errorf("the token does not belong to user %q (403): check --username", c.Username())
	case 429:
		return fmt.Errorf("the API at %s is throttling this account (429): too many requests from elsewhere; try again in a minute", baseURL)
	}
	// The answer, without the method and endpoint the client prefixes.
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, ": "); ok {
		msg = rest
	}
	return &plainError{fmt.Sprintf("the API at %s answered the token check with an error: %s", baseURL, status.Printable(msg)), err}
}

// plainError says what happened in plain words, and keeps the cause for
// errors.Is/As (a 5xx at start-up sends a mount with a store offline).
type plainError struct {
	msg   string
	cause error
}

func (e *plainError) Error() string { return e.msg }
func (e *plainError) Unwrap() error { return e.cause }

// unreachableErr says in plain words why the API at baseURL gave no
// answer; the error is errUnreachable (errors.Is).
func unreachableErr(baseURL string, err error) error {
	var (
		dnsErr *net.DNSError
		tlsErr *tls.CertificateVerificationError
	)
	reason := ""
	switch {
	case errors.As(err, &dnsErr):
		reason = "its host name does not resolve (no network, or a mistyped --api-url?)"
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "the connection was refused (nothing listens at that address)"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		reason = "the network is unreachable"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		reason = fmt.Sprintf("no answer within %s", startupCheck)
	case errors.As(err, &tlsErr):
		reason = "its TLS certificate is not valid: " + tlsErr.Err.Error()
	default:
		// The cause, without the method and endpoint the client prefixes.
		reason = err.Error()
		if i := strings.LastIndex(reason, ": "); i >= 0 {
			reason = reason[i+2:]
		}
	}
	return &unreachableError{fmt.Sprintf("cannot reach the API at %s: %s", baseURL, status.Printable(reason))}
}

// unreachableError is an API that gave no answer, in plain words.
type unreachableError struct{ msg string }

func (e *unreachableError) Error() string        { return e.msg }
func (e *unreachableError) Is(target error) bool { return target == errUnreachable }

// serve waits for a signal (or an external unmount), then uploads what is
// pending and unmounts. A second signal skips the wait, and so does a
// server that fails every upload for --stop-timeout: what is left stays
// journalled, and the next mount uploads it.
func (m *mount) serve(sig <-chan os.Signal) int {
	defer m.close()
	served := make(chan struct{})
	go func() { m.srv.Wait(); close(served) }()
	external := false
	select {
	case s := <-sig:
		m.log.Info("stopping: uploading what is pending, then unmounting", "signal", s.String())
	case <-served:
		external = true
		m.log.Info("unmounted from outside; uploading what is pending")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var why atomic.Value // string: why the wait was cut short
	go func() {
		select {
		case <-sig:
			why.CompareAndSwap(nil, "second signal")
			fmt.Fprintln(m.stderr, "\npafs: second signal: unmounting now")
			cancel()
		case <-ctx.Done():
		}
	}()
	watch := &stopWatch{timeout: m.c.stopTimeout, failures: func() int {
		// Requests that failed, and uploads that failed without one (the
		// cache disk full: not even sent).
		_, queued := m.files.Queue().Counts()
		return failedAttempts(m.client) + int(queued)
	}}
	print := progressPrinter(m.stderr, m.client)
	progress := func(p writeback.Progress) {
		print(p)
		if watch.stuck(p, time.Now()) {
			why.CompareAndSwap(nil, fmt.Sprintf("no upload succeeded for %s while they kept failing", m.c.stopTimeout))
			cancel()
		}
	}
	var left error
	if err := m.files.Drain(ctx, progress); err != nil {
		left = err
	}
	if !external {
		m.unmount()
	}
	<-served
	if ctx.Err() == nil {
		// Writes closed while unmounting.
		if err := m.files.Drain(ctx, progress); err != nil {
			left = err
		}
	}
	if left == nil {
		return 0
	}
	// Stopped before the queue emptied: what is in the journal once the
	// queue has stopped (uploads in flight end one way or the other) is
	// what the next mount gets.
	lastErr := lastLine(left)
	if lastErr == "" {
		lastErr = lastQueueErr(m.files)
	}
	m.files.Close()
	n, err := queuedOps(m.c.cacheDir)
	if err != nil {
		n = len(m.files.Queue().Snapshot())
	}
	if n == 0 {
		return 0
	}
	reason, _ := why.Load().(string)
	if errors.Is(left, writeback.ErrRefused) {
		reason = "the server refused them"
	}
	m.reportLeft(n, reason, lastErr)
	return 1
}

// lastLine is the part of a drain error worth showing: the server's last
// error, without the queue's own wording.
func lastLine(err error) string {
	if errors.Is(err, writeback.ErrRefused) {
		s := err.Error()
		if i := strings.Index(s, writeback.ErrRefused.Error()+": "); i >= 0 {
			return s[i+len(writeback.ErrRefused.Error())+2:]
		}
	}
	return ""
}

// stopWatch decides when waiting for uploads at stop is pointless: none has
// succeeded for timeout and requests kept failing meanwhile (a server that
// is down, a network that is gone). A wait for the rate limit, or a long
// upload that is making progress, fails nothing and is waited out.
type stopWatch struct {
	timeout  time.Duration
	failures func() int // failed attempts so far

	started bool
	since   time.Time // the last progress
	ops     int
	done    uint64
	failed  int // failures() then
}

func (w *stopWatch) stuck(p writeback.Progress, now time.Time) bool {
	if !w.started || p.Done != w.done || p.Ops < w.ops {
		w.started, w.since, w.ops, w.done, w.failed = true, now, p.Ops, p.Done, w.failures()
		return false
	}
	w.ops = p.Ops
	return p.Ops > 0 && now.Sub(w.since) >= w.timeout && w.failures() > w.failed
}

// failedAttempts counts the requests that failed other than by a 429 (a
// wait the server asks for, not a failure), retried or not.
func failedAttempts(c *remote.Client) int {
	n := 0
	for _, f := range c.Stats() {
		n += f.Retries + f.Errors - f.Throttled
	}
	return n
}

// reportLeft says why n uploads are left after unmounting, and where they
// wait for the next mount (or that they are lost with the demo's temporary
// cache directory).
func (m *mount) reportLeft(n int, reason, lastErr string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\npafs: stopped waiting for uploads")
	if reason != "" {
		fmt.Fprintf(&b, " (%s)", reason)
	}
	if lastErr != "" {
		fmt.Fprintf(&b, "; last error: %s", status.Printable(lastErr))
	}
	b.WriteString("\n" + leftMessage(n, m.c.cacheDir, m.c.cacheTemp) + "\n")
	io.WriteString(m.stderr, b.String())
}

// leftMessage says how many changes stay queued and where: the words of
// both `pafs mount` and `pafs unmount`.
func leftMessage(n int, cacheDir string, temporary bool) string {
	if temporary {
		return fmt.Sprintf("pafs: %d %s not uploaded: the demo keeps its queue in a temporary directory (%s), deleted as pafs exits, so they are lost (give the demo a --cache-dir to keep them)",
			n, plural(n, "change was", "changes were"), status.Printable(cacheDir))
	}
	return fmt.Sprintf("pafs: %d %s queued in %s: the next `pafs mount` of this account (with this cache directory) uploads %s",
		n, plural(n, "change stays", "changes stay"), status.Printable(cacheDir), plural(n, "it", "them"))
}

func lastQueueErr(files *vfs.FS) string {
	for _, s := range files.Queue().Snapshot() {
		if s.LastError != "" {
			return s.LastError
		}
	}
	return ""
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
// rewritten in place, elsewhere a line whenever the count changes or a wait
// for the rate limit begins.
func progressPrinter(w io.Writer, client *remote.Client) func(writeback.Progress) {
	tty := isTerminal(w)
	last, lastWaiting := -1, false
	return func(p writeback.Progress) {
		if p.Ops == 0 {
			if last > 0 {
				fmt.Fprintf(w, "\rpafs: all uploads done.%60s\n", "")
			}
			last = 0
			return
		}
		wait := rateWait(familyWaits(client))
		if !tty && p.Ops == last && (wait != "") == lastWaiting {
			return
		}
		last, lastWaiting = p.Ops, wait != ""
		msg := fmt.Sprintf("pafs: uploading before unmount: %d left (%s)", p.Ops, status.Bytes(p.Bytes))
		if wait != "" {
			msg += "; " + wait
		}
		if p.LastError != "" {
			msg += "; last error: " + status.Printable(p.LastError)
		}
		if tty {
			fmt.Fprintf(w, "\r%-120s", msg)
		} else {
			fmt.Fprintln(w, msg)
		}
	}
}

// familyWait is what rateWait needs of an endpoint family.
type familyWait struct {
	family   string
	waiting  int
	nextFree time.Duration
	inWindow int
	limit    int
	window   time.Duration
}

func familyWaits(c *remote.Client) []familyWait {
	if c == nil {
		return nil
	}
	var out []familyWait
	for _, f := range c.Stats() {
		out = append(out, familyWait{f.Family, f.Waiting, f.NextFree, f.InWindow, f.Limit, f.Window})
	}
	return out
}

// rateWait says which family's requests wait for the rate limit and for how
// long ("" when none does): the longest such wait.
func rateWait(fams []familyWait) string {
	var worst *familyWait
	for i, f := range fams {
		if f.waiting > 0 && f.nextFree >= time.Second && (worst == nil || f.nextFree > worst.nextFree) {
			worst = &fams[i]
		}
	}
	if worst == nil {
		return ""
	}
	return fmt.Sprintf("waiting %s for the rate limit (%s: %d of %d requests per %s used)",
		worst.nextFree.Round(time.Second), worst.family, worst.inWindow, worst.limit, worst.window)
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

// plural returns word for one, else its plural: the given one, or word+"s".
func plural(n int, word string, pluralForm ...string) string {
	switch {
	case n == 1:
		return word
	case len(pluralForm) > 0:
		return pluralForm[0]
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
