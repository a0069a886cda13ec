package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pafs/pafs/cache/metastore"
	"github.com/pafs/pafs/internal/status"
	"github.com/pafs/pafs/remote"
)

// Start-up checks against the API: the token, an unreachable API said in plain
// words, and the offline start of a mount that has what an earlier one learnt.

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
