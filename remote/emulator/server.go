// Package emulator is an in-memory PythonAnywhere API server for tests, benchmarks
// and `pafs mount --demo`. It speaks the wire format of
// docs/api.md (routes, status codes, JSON shapes and the
// API's error-body quirks), throttles like the real server, and can inject faults.
//
// It deliberately shares no code or types with the pafs client (package remote):
// a field name or status code that one side gets wrong makes a test fail instead of
// agreeing with itself.
package emulator

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults applied by New to a zero Config.
const (
	DefaultUsername   = "demo"
	DefaultRateLimit  = 40
	DefaultRateWindow = time.Minute
)

// Config configures an Emulator. The zero value (plus a Token) is a quiet server
// with the real rate limits and no demo data.
type Config struct {
	Username   string        // default "demo"
	Token      string        // API token; New generates one (see Token) when empty
	RateLimit  int           // requests per window per family; 0 → 40; negative → rate limiting off
	RateWindow time.Duration // 0 → 1 minute
	Latency    time.Duration // added to every API request
	Demo       bool          // load demo data
	Faults     Faults
	BaseURL    string // optional; used for absolute URLs in listings; default from the request Host
	Quirks     Quirks // real-server behaviours that are off by default (quirks.go); SetQuirks changes them
}

// Emulator is an http.Handler serving one PythonAnywhere account.
type Emulator struct {
	user    string
	token   string
	baseURL string

	limiter *rateLimiter
	faults  *faultInjector
	stats   *statsRecorder

	qmu    sync.Mutex // guards quirks; never held while taking mu
	quirks Quirks

	// mu guards all account state below. Handlers never hold it while reading a
	// request body or writing a response.
	mu            sync.Mutex
	root          *node
	consoles      map[int]*consoleState
	alwaysOn      map[int]*AlwaysOnTask
	schedule      map[int]*ScheduledTask
	webapps       map[string]*webappState
	students      []string
	shares        map[string]string
	account       Account
	nextID        map[string]int
	webappLimit   int // 0: unlimited
	scheduleLimit int // 0: unlimited
}

// New returns an emulator for cfg. It never fails: an empty Token is replaced by a
// random one (read it back with Token), an empty Username by "demo".
func New(cfg Config) *Emulator {
	if cfg.Username == "" {
		cfg.Username = DefaultUsername
	}
	if cfg.Token == "" {
		cfg.Token = NewToken()
	}
	e := &Emulator{
		user:    cfg.Username,
		token:   cfg.Token,
		baseURL: strings.TrimSuffix(cfg.BaseURL, "/"),
		limiter: newRateLimiter(cfg.RateLimit, cfg.RateWindow),
		faults:  newFaultInjector(cfg.Faults, cfg.Latency),
		stats:   newStatsRecorder(),
	}
	e.SetQuirks(cfg.Quirks)
	e.initState()
	if cfg.Demo {
		e.loadDemo()
	}
	return e
}

// NewToken returns a random token in the real format: 40 lowercase hex digits.
func NewToken() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Username is the account's user name.
func (e *Emulator) Username() string { return e.user }

// Token is the API token the emulator accepts.
func (e *Emulator) Token() string { return e.token }

const (
	apiPrefix  = "/api/v0/user/"
	hookPrefix = "/__emulator/"
	// familyUnmatched is the stats family of requests that match no API route.
	familyUnmatched = "unmatched"
)

// call is one API request on its way to a handler.
type call struct {
	r    *http.Request
	args []string // decoded variable segments of the route, in order
	// rawFile is the still-escaped file path of a files/path request ("/home/u/x").
	rawFile string
}

// ServeHTTP answers one request. The order of checks follows nginx + Django +
// DRF: the body size limit (413), URL resolution (404, 301 for a missing slash, any method), then authentication (401),
// permission (403), throttling (429), and only then the method check (405) and the
// view itself. Injected latency applies to every API request; other faults only to
// requests that got through to the view.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrival := time.Now()
	if strings.HasPrefix(r.URL.Path, hookPrefix) {
		e.serveHook(w, r)
		return
	}
	t := e.resolve(r)
	key := r.Method + " " + t.family
	resp, reached := e.gate(r, t, arrival)
	var plan faultPlan
	if reached {
		plan = e.faults.plan()
	}
	if !sleepCtx(r.Context(), e.faults.delay(plan)) {
		return // the client went away while we were "slow"
	}
	if reached {
		if plan.drop {
			e.stats.record(key, t.family, 0, plan)
			dropConnection(w)
			return
		}
		if plan.status != 0 {
			resp = serverError(plan.status)
		} else {
			resp = e.dispatch(&call{r: r, args: t.args, rawFile: t.rawFile}, t)
			if r.Context().Err() != nil {
				e.stats.countAbandoned(key) // the view finished after the client left
			}
		}
	}
	// Record before writing, so a client that has read the answer sees it counted.
	e.stats.record(key, t.family, resp.status, plan)
	e.write(w, r, resp, plan)
}

// gate runs the checks that come before the view. It returns the answer when the
// request stops here, or reached=true when it may go on to the view.
func (e *Emulator) gate(r *http.Request, t target, arrival time.Time) (resp response, reached bool) {
	switch {
	case r.ContentLength > e.maxUpload():
		return entityTooLarge(), false // the front proxy refuses it before Django sees it
	case t.family == familyUnmatched:
		return djangoNotFound(), false
	case t.redirect != "":
		// Production Django (DEBUG off) redirects every method; only DEBUG
		// raises an error for POST/PUT/PATCH. A client that repeats a DELETE at
		// the Location (Python's requests does) succeeds; a POST turned into a
		// GET is not applied.
		return redirectTo(t.redirect), false
	}
	if resp, ok := e.authenticate(r, t.user); !ok {
		return resp, false
	}
	if e.faults.stormOn() {
		e.stats.countFault("storm", t.family)
		return throttled(time.Second), false
	}
	if ok, wait := e.limiter.allow(t.family, arrival); !ok {
		return throttled(wait), false
	}
	return response{}, true
}

// authenticate implements DRF's TokenAuthentication plus the "URL names another
// user" permission check.
func (e *Emulator) authenticate(r *http.Request, urlUser string) (response, bool) {
	h := strings.Fields(r.Header.Get("Authorization"))
	if len(h) == 0 || !strings.EqualFold(h[0], "Token") {
		return unauthorized("Authentication credentials were not provided."), false
	}
	switch {
	case len(h) == 1:
		return unauthorized("Invalid token header. No credentials provided."), false
	case len(h) > 2:
		return unauthorized("Invalid token header. Token string should not contain spaces."), false
	case subtle.ConstantTimeCompare([]byte(h[1]), []byte(e.token)) != 1:
		return unauthorized("Invalid token."), false
	case urlUser != e.user:
		return permissionDenied(), false
	}
	return response{}, true
}

// dispatch picks the handler for the method; HEAD is served as GET (Django does).
func (e *Emulator) dispatch(c *call, t target) response {
	m := c.r.Method
	if m == http.MethodHead {
		m = http.MethodGet
	}
	if m == http.MethodOptions {
		return optionsResponse(t.methods)
	}
	h, ok := t.methods[m]
	if !ok {
		return methodNotAllowed(c.r.Method, t.methods)
	}
	return e.writeAnswer(c, t.family, h(e, c))
}
