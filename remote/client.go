package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Version is the client version sent in the User-Agent. The command sets it
// from its own build version at start-up.
var Version = "0.1.0-dev"

// Config configures a Client. Only Username, Token and BaseURL are required.
type Config struct {
	// BaseURL is the host root, e.g. "https://www.pythonanywhere.com" (see
	// RegionURL) or "http://127.0.0.1:8080" for the emulator. The API base is
	// BaseURL + "/api/v0/user/" + Username + "/".
	BaseURL  string
	Username string
	// Token is the API token. It is only ever put in the Authorization header:
	// never logged, never in an error string.
	Token string
	// HTTPClient nil means a client with dial, TLS and response-header
	// timeouts but no overall timeout, so that long downloads and uploads are
	// bounded only by the caller's context.
	HTTPClient *http.Client
	// RateLimit is the number of requests per RateWindow per endpoint family
	// (send_input gets three times as many, like the server). 0 means 40;
	// negative disables client-side limiting.
	RateLimit int
	// RateWindow is the sliding window of RateLimit; 0 (or negative) means
	// one minute.
	RateWindow time.Duration
	// MaxRetries bounds the retries of one call (not counting the first
	// attempt); 0 means 6, negative means no retries.
	MaxRetries int
	// RetryBase is the first backoff delay after a transient failure, doubled
	// at each further retry up to 30 s; 0 means 500 ms. Tests shrink it.
	RetryBase time.Duration
	// Logger receives rate-limit waits over a second, retries and 429s at
	// Info/Warn, and every request at Debug. nil discards.
	Logger *slog.Logger
	// UserAgent is appended to "pafs/<version> (+https://github.com/pafs/pafs)".
	UserAgent string
	// Timeout bounds how long a request may make no progress: the wait for
	// an answer, every wait while sending a body (the server not taking
	// it), and every wait for more bytes of an answer's body (a download
	// stalled half way). The attempt then fails like a dropped connection
	// and is retried. Once a body is sent, the wait for the answer also
	// allows a second per 32 MiB sent: the server may still be storing it.
	// 0 means 30 s; negative turns it off.
	Timeout time.Duration
	// SlowTimeout replaces Timeout, when longer, for the wait for the
	// answer to the calls the server takes long to answer: a web app's
	// reload (the server first pings the app, with its own 20 s timeout),
	// its creation, and certificate requests. 0 means 3 minutes; negative
	// turns it off.
	SlowTimeout time.Duration
}

const (
	defaultRateLimit  = 40
	defaultRateWindow = time.Minute
	defaultMaxRetries = 6
	defaultRetryBase  = 500 * time.Millisecond
	defaultTimeout    = 30 * time.Second
	// defaultSlowTimeout: a reload waits for the app's start (the server's
	// ping alone may take 20 s), and a proxy may hold it longer.
	defaultSlowTimeout = 3 * time.Minute
	// sendInputFactor: send_input is allowed 120/min against 40/min elsewhere.
	sendInputFactor = 3
	// maxJSONBody bounds how much of a JSON answer is read into memory.
	maxJSONBody = 64 << 20
	// maxErrorBody bounds how much of an error answer is read.
	maxErrorBody = 64 << 10
)

// Client is a PythonAnywhere API client. It is safe for concurrent use.
type Client struct {
	site       string // BaseURL without trailing slash, for share links
	apiBase    string // site + "/api/v0/user/{u}/", escaped
	username   string
	token      string
	hc         *http.Client
	userAgent  string
	limit      int // ≤ 0: no client-side limiting
	window     time.Duration
	maxRetries int
	retryBase  time.Duration
	timeout    time.Duration // ≤ 0: none
	slow       time.Duration // Config.SlowTimeout; ≤ 0: none
	log        *slog.Logger

	mu       sync.Mutex // guards families
	families map[string]*family
	adapt    adapter // budgets adapted to a server that counts coarser (adapt.go)
}

// RegionURL returns the host root of a PythonAnywhere region: "us" (or "www")
// and "eu".
func RegionURL(region string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(region)) {
	case "us", "www":
		return "https://www.pythonanywhere.com", nil
	case "eu":
		return "https://eu.pythonanywhere.com", nil
	}
	return "", fmt.Errorf("remote: unknown region %q (want \"us\" or \"eu\")", region)
}

// New checks cfg and returns a client. It refuses plain http:// unless the
// host is a loopback address, since the token would travel in clear text.
func New(cfg Config) (*Client, error) {
	if cfg.Username == "" {
		return nil, errors.New("remote: username is required")
	}
	if cfg.Token == "" {
		return nil, errors.New("remote: API token is required")
	}
	if strings.ContainsAny(cfg.Token, "\r\n \t") {
		// Error text deliberately does not quote the token.
		return nil, errors.New("remote: API token contains whitespace")
	}
	site, err := checkBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		site:       site,
		apiBase:    site + "/api/v0/user/" + url.PathEscape(cfg.Username) + "/",
		username:   cfg.Username,
		token:      cfg.Token,
		hc:         httpClient(cfg.HTTPClient),
		userAgent:  userAgent(cfg.UserAgent),
		limit:      orDefault(cfg.RateLimit, defaultRateLimit),
		window:     orDefault(max(cfg.RateWindow, 0), defaultRateWindow),
		maxRetries: max(orDefault(cfg.MaxRetries, defaultMaxRetries), 0),
		retryBase:  orDefault(cfg.RetryBase, defaultRetryBase),
		timeout:    orDefault(cfg.Timeout, defaultTimeout),
		slow:       orDefault(cfg.SlowTimeout, defaultSlowTimeout),
		log:        cfg.Logger,
		families:   map[string]*family{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// checkBaseURL validates the host root and returns it without a trailing
// slash.
func checkBaseURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("remote: BaseURL is required (see RegionURL)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("remote: bad BaseURL: %w", err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("remote: bad BaseURL %q: want scheme://host[:port]", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("remote: refusing plain http:// to %q: the API token would travel unencrypted; "+
				"use https:// (http:// is only allowed for loopback hosts: 127.0.0.0/8, ::1, localhost)", u.Host)
		}
	default:
		return "", fmt.Errorf("remote: bad BaseURL %q: scheme must be https (or http for loopback)", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpClient returns the client to use: a copy of the given one (so that the
// redirect policy can be set without touching the caller's), or a default
// with per-phase timeouts.
func httpClient(given *http.Client) *http.Client {
	var hc http.Client
	if given != nil {
		hc = *given
	} else {
		hc.Transport = &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   30 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: 5 * time.Minute, // counted after the upload body is sent; beyond Config.SlowTimeout
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   16,
		}
	}
	if hc.CheckRedirect == nil {
		hc.CheckRedirect = checkRedirect
	}
	return &hc
}

// checkRedirect follows redirects of GETs on the same scheme and host only
// (the token goes along on the same host; never downgrade it to http). A redirected
// POST would turn into a GET and fail quietly (the API doc's warning about
// missing trailing slashes), so any other redirect is returned as is and
// becomes an APIError.
func checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if len(via) >= 5 || via[0].Method != http.MethodGet || req.URL.Host != first.Host || req.URL.Scheme != first.Scheme {
		return http.ErrUseLastResponse
	}
	return nil
}

func userAgent(extra string) string {
	ua := "pafs/" + Version + " (+https://github.com/pafs/pafs)"
	if extra = strings.TrimSpace(extra); extra != "" {
		ua += " " + extra
	}
	return ua
}

// Username returns the account name the client acts for.
func (c *Client) Username() string { return c.username }

// Limits returns the effective per-family rate limit and window (send_input
// is allowed three times the limit). A limit ≤ 0 means client-side limiting
// is off.
func (c *Client) Limits() (limit int, window time.Duration) {
	return c.limit, c.window
}

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
