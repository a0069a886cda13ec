package emulator

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults configures injected failures. Rates are fractions in [0, 1] of the API
// requests that pass authentication and throttling. All random choices come from
// one RNG seeded with Seed, so a sequential test sees the same faults every run.
type Faults struct {
	Seed          int64
	ErrorRate     float64       // fraction of API requests answered 500 or 503 (half each)
	DropRate      float64       // fraction whose connection is closed without an answer
	SlowBodyRate  float64       // fraction whose body is sent slowly (SlowBodyDelay between chunks)
	SlowBodyDelay time.Duration // 0 → 100ms
	MalformedRate float64       // fraction of JSON answers that are truncated/malformed (still 200)
	SpikeRate     float64       // fraction of requests that get Spike extra latency
	Spike         time.Duration
	ThrottleStorm bool // while true, every API request gets 429 with Retry-After: 1
}

// slowChunks is how many pieces a slow body is cut into.
const slowChunks = 8

// faultPlan is what will be done to one request.
type faultPlan struct {
	spike     time.Duration
	status    int // 500 or 503: answer that instead of running the view
	drop      bool
	slow      time.Duration // delay between body chunks; 0: normal
	malformed bool
}

// faulted reports whether the plan alters the answer (spikes only delay it).
func (p faultPlan) faulted() bool { return p.status != 0 || p.drop || p.slow != 0 || p.malformed }

type faultInjector struct {
	mu      sync.Mutex
	f       Faults
	latency time.Duration
	rng     *rand.Rand
}

func newFaultInjector(f Faults, latency time.Duration) *faultInjector {
	fi := &faultInjector{latency: latency}
	fi.set(f)
	return fi
}

// set replaces the configuration and reseeds the RNG.
func (fi *faultInjector) set(f Faults) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.f = f
	fi.rng = rand.New(rand.NewPCG(uint64(f.Seed), 0x9e3779b97f4a7c15))
}

func (fi *faultInjector) get() (Faults, time.Duration) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return fi.f, fi.latency
}

func (fi *faultInjector) setLatency(d time.Duration) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.latency = d
}

func (fi *faultInjector) stormOn() bool {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return fi.f.ThrottleStorm
}

// plan draws the faults for one request. It always draws the same number of
// values so that changing one rate does not shift the others' sequence.
func (fi *faultInjector) plan() faultPlan {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	f := fi.f
	spike, errDraw, drop, slow, bad := fi.rng.Float64(), fi.rng.Float64(), fi.rng.Float64(), fi.rng.Float64(), fi.rng.Float64()
	var p faultPlan
	if spike < f.SpikeRate {
		p.spike = f.Spike
	}
	switch {
	case errDraw < f.ErrorRate/2:
		p.status = http.StatusInternalServerError
	case errDraw < f.ErrorRate:
		p.status = http.StatusServiceUnavailable
	}
	p.drop = drop < f.DropRate
	if slow < f.SlowBodyRate {
		p.slow = f.SlowBodyDelay
		if p.slow <= 0 {
			p.slow = 100 * time.Millisecond
		}
	}
	p.malformed = bad < f.MalformedRate
	return p
}

// delay is the added latency for a request with plan p.
func (fi *faultInjector) delay(p faultPlan) time.Duration {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return fi.latency + p.spike
}

// sleepCtx waits d, or less if ctx ends first; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dropConnection closes the connection without answering. The client sees EOF or
// a reset, as when a proxy dies mid-request.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot be hijacked; aborting the handler resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close() // the fault is the closed connection
}

// write sends resp, garbling or dribbling it if the plan says so.
func (e *Emulator) write(w http.ResponseWriter, r *http.Request, resp response, plan faultPlan) {
	body := resp.body
	if plan.malformed && resp.isJSON && resp.status < 300 && len(body) > 0 {
		body = body[:len(body)/2] // half a JSON object or array is never valid JSON
	}
	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	if resp.ctype != "" {
		h.Set("Content-Type", resp.ctype)
	}
	if resp.status != http.StatusNoContent && resp.status != http.StatusNotModified {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(resp.status)
	if r.Method == http.MethodHead || len(body) == 0 {
		return
	}
	if plan.slow == 0 {
		_, _ = w.Write(body)
		return
	}
	writeSlowly(r.Context(), w, body, plan.slow)
}

// writeSlowly sends body in slowChunks pieces with delay between them, flushing
// each so the client really receives it piecemeal.
func writeSlowly(ctx context.Context, w http.ResponseWriter, body []byte, delay time.Duration) {
	rc := http.NewResponseController(w)
	size := (len(body) + slowChunks - 1) / slowChunks
	for start := 0; start < len(body); start += size {
		if start > 0 && !sleepCtx(ctx, delay) {
			return
		}
		end := min(start+size, len(body))
		if _, err := w.Write(body[start:end]); err != nil {
			return
		}
		_ = rc.Flush()
	}
}
