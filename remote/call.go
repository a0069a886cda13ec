package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// One API call: its attempts with retries and backoff, a body watched for a
// server gone silent, and the answer decoded or turned into an error.

type noRetriesKey struct{}

// WithoutRetries returns a context whose calls are tried once: a failure is
// returned at once instead of being retried (a 429 is still waited out while
// ctx lasts). For a check that has its own deadline, such as the token
// check at start-up, where retry lines would only delay a clear error.
func WithoutRetries(ctx context.Context) context.Context {
	return context.WithValue(ctx, noRetriesKey{}, true)
}

// call describes one API operation for do.
type call struct {
	method string
	ep     endpoint
	query  url.Values
	body   *body  // nil: no body
	accept string // Accept header; "" sends none
	// safe marks the operation idempotent: it may be replayed even when an
	// earlier attempt may have reached the server.
	safe bool
	// stream leaves a 2xx body open for the caller (downloads).
	stream bool
	// check inspects a 2xx answer before its body is read (e.g. ListDir
	// refusing file bytes). Its error is final.
	check func(*http.Response) error
	// timeout replaces the client's Timeout for the wait for the answer
	// (slow calls, see Config.SlowTimeout); 0: the client's, negative:
	// none.
	timeout time.Duration
	// decode handles the body of a 2xx answer. JSON syntax and type errors
	// are retried on safe calls (a truncated answer); other errors are final.
	decode func(resp *http.Response, body []byte) error
}

// display is the endpoint as shown in errors and logs, with the query.
func (cl *call) display() string {
	if len(cl.query) == 0 {
		return cl.ep.raw
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(cl.query)) {
		for _, v := range cl.query[k] {
			parts = append(parts, k+"="+v)
		}
	}
	return cl.ep.raw + "?" + strings.Join(parts, "&")
}

// do runs a call: waits for the family's rate limiter, sends, classifies the
// outcome and retries it as the retry policy allows. On success the returned
// response's body has been consumed and closed, except for stream calls.
func (c *Client) do(ctx context.Context, cl *call) (*http.Response, error) {
	fam := c.family(cl.ep.family)
	var (
		maybeDone bool      // an earlier attempt may have reached the server
		failures  int       // failed attempts other than 429s: they spend the retries
		throttled int       // 429s seen by this call
		since     time.Time // when the first of them came
	)
	for attempt := 0; ; attempt++ {
		r := c.attempt(ctx, fam, cl)
		switch {
		case r.kind == outcomeOK:
			return r.resp, nil
		case cl.method == http.MethodDelete && maybeDone && StatusOf(r.err) == http.StatusNotFound:
			// A previous attempt deleted it and its answer got lost.
			return nil, nil
		}
		delay := backoff(c.retryBase, failures)
		var waited time.Duration // throttled: how long the call will have waited on 429s
		switch r.kind {
		case outcomeTransient:
			maybeDone = true
		case outcomeThrottled:
			// Hold the whole family even if this call gives up: the server
			// has just said its window is full.
			if throttled == 0 {
				since = time.Now()
			}
			throttled++
			delay = c.throttleDelay(r, throttled)
			waited = time.Since(since) + delay
			fam.throttle(delay)
			c.throttled(fam, r.gen, delay)
			c.log.Warn(fmt.Sprintf("rate limit: 429 from server for %s, waiting %s", fam.name, delay.Round(time.Millisecond)),
				"method", cl.method, "endpoint", cl.display(), "wait", delay)
		}
		if ctx.Err() != nil || (r.kind != outcomeThrottled && ctx.Value(noRetriesKey{}) != nil) || !c.retryable(cl, r, failures, waited) {
			fam.failed(r.err)
			return nil, r.err
		}
		if r.kind != outcomeThrottled {
			failures++
		}
		fam.retried()
		c.log.Info("retrying request", "method", cl.method, "endpoint", cl.display(),
			"attempt", attempt+1, "delay", delay, "error", r.err.Error())
		if err := sleep(ctx, delay); err != nil {
			err = fmt.Errorf("%s %s: %w", cl.method, cl.display(), err)
			fam.failed(err)
			return nil, err
		}
	}
}

// attemptResult is the outcome of one attempt.
type attemptResult struct {
	kind outcome
	resp *http.Response // success only
	err  error
	wait time.Duration // throttled: what the server asked for, 0 if unknown
	gen  uint64        // the generation of the family's budget it was admitted under
}

// attempt sends the call once.
func (c *Client) attempt(ctx context.Context, fam *family, cl *call) attemptResult {
	// actx is the request's own context: cancelled when the server makes no
	// progress for c.timeout (see Config.Timeout), and once the answer is
	// consumed (for streams: when the caller closes the body).
	actx, cancel := context.WithCancel(ctx)
	req, err := c.newRequest(actx, cl)
	if err != nil {
		cancel()
		return attemptResult{kind: outcomeFinal, err: fmt.Errorf("%s %s: %w", cl.method, cl.display(), err)}
	}
	release, gen, err := c.acquire(ctx, fam)
	if err != nil {
		cancel()
		return attemptResult{kind: outcomeFinal, err: fmt.Errorf("%s %s: %w", cl.method, cl.display(), err)}
	}
	fam.sent(cl.method)
	start := time.Now()
	var answer *time.Timer // no progress sending, or no answer
	limit := c.timeout
	if cl.timeout != 0 {
		limit = cl.timeout
	}
	if limit > 0 {
		answer = time.AfterFunc(limit, cancel)
		if req.Body != nil {
			req.Body = &sendingBody{rc: req.Body, timer: answer, limit: limit}
		}
	}
	resp, err := c.hc.Do(req)
	// The answer (or the failure) is here: stamp the slot now, the server has
	// counted the request by this time.
	release()
	if answer != nil && !answer.Stop() && ctx.Err() == nil {
		if err == nil {
			resp.Body.Close()
		}
		err = fmt.Errorf("%w: no answer within %s", errStalled, limit)
	}
	if err != nil {
		cancel()
		c.log.Debug("request failed", "method", cl.method, "endpoint", cl.display(), "duration", time.Since(start), "error", err.Error())
		return transportFailure(ctx, cl, err)
	}
	c.log.Debug("request", "method", cl.method, "endpoint", cl.display(), "status", resp.StatusCode, "duration", time.Since(start))
	resp.Body = c.watch(ctx, resp.Body, cancel)
	var r attemptResult
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		r = c.success(cl, resp)
	} else {
		r = c.failure(cl, resp)
	}
	if r.kind != outcomeOK || !cl.stream {
		cancel() // a stream's body is still being read: closing it cancels
	}
	r.gen = gen
	return r
}

// sendingBody is a request body that pushes the no-progress timer back at
// every read the transport makes of it, and gives the answer more time once
// it is all sent (a second per 32 MiB: the server stores it first).
type sendingBody struct {
	rc    io.ReadCloser
	timer *time.Timer
	limit time.Duration
	sent  int64
}

func (b *sendingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.sent += int64(n)
	if err == io.EOF {
		b.timer.Reset(b.limit + time.Duration(b.sent>>25)*time.Second)
	} else {
		b.timer.Reset(b.limit)
	}
	return n, err
}

func (b *sendingBody) Close() error { return b.rc.Close() }

// errStalled marks an attempt the server made no progress on for the
// configured Timeout.
var errStalled = errors.New("server stalled")

// watch wraps an answer's body so that a read waiting longer than c.timeout
// for bytes fails (by cancelling the request) instead of hanging: a server
// or network that goes silent half way through an answer. Time the reader
// spends between reads does not count. Closing the body cancels the request.
func (c *Client) watch(ctx context.Context, rc io.ReadCloser, cancel context.CancelFunc) io.ReadCloser {
	w := &watchedBody{rc: rc, ctx: ctx, cancel: cancel, limit: c.timeout}
	if c.timeout > 0 {
		w.timer = time.AfterFunc(time.Hour, func() {
			w.stalled.Store(true)
			cancel()
		})
		w.timer.Stop()
	}
	return w
}

type watchedBody struct {
	rc      io.ReadCloser
	ctx     context.Context // the caller's: its end is not a stall
	cancel  context.CancelFunc
	limit   time.Duration
	timer   *time.Timer
	stalled atomic.Bool
}

func (w *watchedBody) Read(p []byte) (int, error) {
	if w.timer != nil {
		w.timer.Reset(w.limit)
	}
	n, err := w.rc.Read(p)
	if w.timer != nil {
		w.timer.Stop()
	}
	if err != nil && err != io.EOF && w.stalled.Load() && w.ctx.Err() == nil {
		err = fmt.Errorf("%w: no data for %s", errStalled, w.limit)
	}
	return n, err
}

func (w *watchedBody) Close() error {
	if w.timer != nil {
		w.timer.Stop()
	}
	err := w.rc.Close()
	w.cancel()
	return err
}

// success handles a 2xx answer.
func (c *Client) success(cl *call, resp *http.Response) attemptResult {
	if cl.stream {
		return attemptResult{kind: outcomeOK, resp: resp}
	}
	defer resp.Body.Close()
	if cl.check != nil {
		if err := cl.check(resp); err != nil {
			return attemptResult{kind: outcomeFinal, err: fmt.Errorf("%s %s: %w", cl.method, cl.display(), err)}
		}
	}
	body, err := readBody(resp.Body, maxJSONBody)
	if err != nil {
		kind := outcomeTransient // cut off: try again
		if errors.Is(err, errTooLarge) {
			kind = outcomeFinal
		}
		return attemptResult{kind: kind, err: fmt.Errorf("%s %s: reading response: %w", cl.method, cl.display(), err)}
	}
	if cl.decode != nil {
		if err := cl.decode(resp, body); err != nil {
			var apiErr *APIError
			if errors.As(err, &apiErr) {
				return attemptResult{kind: outcomeFinal, err: err}
			}
			kind := outcomeFinal
			if isDecodeError(err) {
				kind = outcomeTransient
			}
			return attemptResult{kind: kind, err: fmt.Errorf("%s %s: decoding response: %w", cl.method, cl.display(), err)}
		}
	}
	return attemptResult{kind: outcomeOK, resp: resp}
}

// failure turns a non-2xx answer into an APIError and classifies it.
func (c *Client) failure(cl *call, resp *http.Response) attemptResult {
	body, _ := readBody(resp.Body, maxErrorBody) // a cut error body still says enough
	resp.Body.Close()
	apiErr := newAPIError(cl.method, cl.display(), resp.StatusCode, resp.Header.Get("Content-Type"), c.redact(body))
	r := attemptResult{kind: outcomeFinal, err: apiErr}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		r.kind = outcomeThrottled
		r.wait = throttleHint(resp.Header.Get("Retry-After"), apiErr.Message, time.Now())
	case resp.StatusCode >= 500:
		r.kind = outcomeTransient
	}
	return r
}

// redact removes the token from a server answer before it can reach an error
// string, in case a server (or a proxy) ever echoes the Authorization header.
func (c *Client) redact(body []byte) []byte {
	s := string(body)
	if !strings.Contains(s, c.token) {
		return body
	}
	return []byte(strings.ReplaceAll(s, c.token, "[REDACTED]"))
}

var errTooLarge = errors.New("response too large")

// readBody reads up to limit bytes; more is an error.
func readBody(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, err
	}
	if int64(len(b)) > limit {
		return b[:limit], fmt.Errorf("%w (over %d bytes)", errTooLarge, limit)
	}
	return b, nil
}

// get fetches a JSON resource into out.
func (c *Client) get(ctx context.Context, e endpoint, out any) error {
	_, err := c.do(ctx, &call{method: http.MethodGet, ep: e, accept: jsonType, safe: true, decode: decoder(out)})
	return err
}

// send sends in (nil: no body) as JSON and decodes the answer into out (nil:
// the answer is ignored). safe marks the operation idempotent.
func (c *Client) send(ctx context.Context, method string, e endpoint, in, out any, safe bool) (*http.Response, error) {
	cl := &call{method: method, ep: e, accept: jsonType, safe: safe}
	if in != nil {
		b, err := jsonBody(in)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encoding request: %w", method, e.raw, err)
		}
		cl.body = b
	}
	if out != nil {
		cl.decode = decoder(out)
	}
	return c.do(ctx, cl)
}

// del deletes a resource.
func (c *Client) del(ctx context.Context, e endpoint) error {
	_, err := c.send(ctx, http.MethodDelete, e, nil, nil, true)
	return err
}
