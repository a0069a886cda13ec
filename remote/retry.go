package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// outcome classifies an attempt for the retry policy (docs/client.md).
type outcome int

const (
	outcomeOK outcome = iota
	// outcomeUnsent: the request surely never reached the server (the
	// connection could not be made). Safe to retry for any method.
	outcomeUnsent
	// outcomeThrottled: 429. The server throttles before running the view,
	// so nothing happened; safe to retry for any method after the wait.
	outcomeThrottled
	// outcomeTransient: a failure after the request may have reached the
	// server (5xx, reset, EOF, timeout, truncated answer). Retried only for
	// idempotent calls.
	outcomeTransient
	// outcomeFinal: not retried (4xx, cancelled context, bad input).
	outcomeFinal
)

const (
	maxBackoff = 30 * time.Second
	// Throttle backoff when the server gives no wait: start at 15 s, cap at
	// 60 s, both scaled down with a shorter window (tests).
	throttleStart = 15 * time.Second
	throttleCap   = 60 * time.Second
)

// throttleWindows bounds how long one call waits out 429s, in rate windows
// (3 minutes at the API's): a server's sliding window frees within one
// window of the burst that filled it, so a throttle lasting three is not
// about our rate (another client spending the whole budget, a broken
// proxy) and fails the call rather than hold a reader for ever.
const throttleWindows = 3

// retryable decides whether to try the call again after r, the failures-th
// failure other than a 429; waited is how long the call will have spent on
// 429s once it has waited the delay before the retry. A 429 does not spend
// a retry: the server throttled before running the view, and waiting as it
// asks is a wait, not a failure (bounded by throttleWindows). No retries at
// all (MaxRetries < 0) means none after a 429 either. The body check comes
// last: for an unseekable upload it waits for the transport to let go of the
// source, which is only worth doing when a retry is on the table.
func (c *Client) retryable(cl *call, r attemptResult, failures int, waited time.Duration) bool {
	var ok bool
	switch r.kind {
	case outcomeUnsent:
		ok = failures < c.maxRetries
	case outcomeThrottled:
		ok = c.maxRetries > 0 && waited <= throttleWindows*c.window
	case outcomeTransient:
		ok = cl.safe && failures < c.maxRetries
	}
	if !ok {
		return false
	}
	return cl.body == nil || cl.body.replayable()
}

// backoff returns the delay before retry number attempt+1: exponential from
// base, capped, with "equal jitter" (half fixed, half random) so that clients
// that failed together do not retry together yet still back off.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for range attempt {
		d *= 2
		if d >= maxBackoff {
			d = maxBackoff
			break
		}
	}
	half := d / 2
	return half + rand.N(half+1)
}

// throttleDelay is the wait after the n-th 429 of a call: what the server
// asked for, else an exponential backoff scaled to the rate window.
func (c *Client) throttleDelay(r attemptResult, n int) time.Duration {
	if r.wait > 0 {
		return r.wait
	}
	d, limit := min(throttleStart, c.window/4), min(throttleCap, c.window)
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// availableRE finds DRF's "Expected available in 37 seconds." (the number
// may have a fraction in other throttles).
var availableRE = regexp.MustCompile(`(?i)available in (\d+(?:\.\d+)?) second`)

// throttleHint reads the wait a 429 asks for: the larger of Retry-After
// (seconds or an HTTP date) and the number in the detail text, 0 if neither.
func throttleHint(retryAfter, message string, now time.Time) time.Duration {
	var d time.Duration
	if v := strings.TrimSpace(retryAfter); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			d = time.Duration(secs * float64(time.Second))
		} else if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now)
		}
	}
	if m := availableRE.FindStringSubmatch(message); m != nil {
		if secs, err := strconv.ParseFloat(m[1], 64); err == nil {
			d = max(d, time.Duration(secs*float64(time.Second)))
		}
	}
	return max(d, 0)
}

// transportFailure classifies an error of http.Client.Do.
func transportFailure(ctx context.Context, cl *call, err error) attemptResult {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		// url.Error repeats the full URL; method and endpoint say enough.
		err = uerr.Err
	}
	wrapped := fmt.Errorf("%s %s: %w", cl.method, cl.display(), err)
	var srcErr *sourceError
	switch {
	case ctx.Err() != nil:
		// Report the context's error even if the transport phrased it
		// differently, so that Errno gives EINTR/ETIMEDOUT.
		if !errors.Is(err, ctx.Err()) {
			wrapped = fmt.Errorf("%s %s: %w (%v)", cl.method, cl.display(), ctx.Err(), err)
		}
		return attemptResult{kind: outcomeFinal, err: wrapped}
	case errors.As(err, &srcErr), isPermanentTLS(err):
		return attemptResult{kind: outcomeFinal, err: wrapped}
	case neverSent(err):
		return attemptResult{kind: outcomeUnsent, err: wrapped}
	}
	return attemptResult{kind: outcomeTransient, err: wrapped}
}

// neverSent reports errors that happen before any byte of the request left:
// DNS failures and refused or unreachable connections.
func neverSent(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// isPermanentTLS reports certificate problems, which no retry will fix.
func isPermanentTLS(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr)
}

// isDecodeError reports malformed or truncated JSON in a 2xx answer.
func isDecodeError(err error) bool {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	return errors.As(err, &syn) || errors.As(err, &typ) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
