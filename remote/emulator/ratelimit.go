package emulator

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// sendInputFamily gets three times the configured limit (120/min on the server).
const sendInputFamily = "consoles/{id}/send_input"

// rateLimiter is DRF's SimpleRateThrottle: a sliding window of the times of the
// requests it let through, per endpoint family (or coarser, see RateScope). The
// emulator has one user, so the scope key alone is the key. Throttled requests are not recorded (DRF only records
// requests it allows).
type rateLimiter struct {
	mu     sync.Mutex
	limit  int // < 0: off
	window time.Duration
	scope  RateScope
	hist   map[string][]time.Time // by scope key, oldest first
}

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	l := &rateLimiter{}
	l.set(limit, window)
	return l
}

// set applies Config semantics (0 → defaults, negative limit → off) and starts
// every window afresh.
func (l *rateLimiter) set(limit int, window time.Duration) {
	if limit == 0 {
		limit = DefaultRateLimit
	}
	if window <= 0 {
		window = DefaultRateWindow
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit, l.window = limit, window
	l.hist = map[string][]time.Time{}
}

// setScope changes what one budget covers and starts every window afresh.
func (l *rateLimiter) setScope(s RateScope) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s != l.scope {
		l.scope = s
		l.hist = map[string][]time.Time{}
	}
}

// scopeKey is the budget a family's requests count against.
func scopeKey(s RateScope, family string) string {
	switch s {
	case ScopeAPI:
		return "api"
	case ScopeKind:
		kind, _, _ := strings.Cut(family, "/")
		return kind
	}
	return family
}

func (l *rateLimiter) get() (int, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit, l.window
}

// allow records a request of family arriving at now, or reports how long until the
// oldest request in the window leaves it.
func (l *rateLimiter) allow(family string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit < 0 {
		return true, 0
	}
	limit := l.limit
	key := scopeKey(l.scope, family)
	if key == sendInputFamily { // only when send_input has a budget of its own
		limit *= 3
	}
	h := l.hist[key]
	cut := 0
	for cut < len(h) && !h[cut].After(now.Add(-l.window)) {
		cut++
	}
	h = h[cut:]
	if len(h) >= limit {
		l.hist[key] = h
		return false, h[0].Add(l.window).Sub(now)
	}
	// Concurrent requests may take the lock out of arrival order; keep h sorted.
	i := len(h)
	for i > 0 && h[i-1].After(now) {
		i--
	}
	l.hist[key] = slices.Insert(h, i, now)
	return true, 0
}
