package remote

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
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
