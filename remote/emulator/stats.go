package emulator

import (
	"maps"
	"net/http"
	"sync"
	"time"
)

// Stats counts what the emulator answered. Requests to the /__emulator/ hooks are
// not counted.
type Stats struct {
	// Requests counts answered requests by "METHOD family" ("GET files/path"),
	// including errors, 301s, 429s and injected faults. Requests matching no route
	// count under the family "unmatched".
	Requests map[string]int `json:"requests"`
	// Throttled counts 429s by family (real throttling and ThrottleStorm).
	Throttled map[string]int `json:"throttled"`
	// Faults counts requests whose answer was altered by fault injection: 500/503,
	// dropped connections, slow bodies, malformed JSON and ThrottleStorm 429s.
	Faults int `json:"faults"`
	// FaultKinds breaks faults down: "500", "503", "drop", "slow", "malformed",
	// "storm", plus "spike" (latency spikes, which are not counted in Faults).
	FaultKinds map[string]int `json:"fault_kinds"`
	// FaultFamilies counts faulted requests by family.
	FaultFamilies map[string]int `json:"fault_families"`
	// Abandoned counts, by "METHOD family", requests whose view finished after
	// the client had hung up: the action happened, nobody heard the answer.
	Abandoned map[string]int `json:"abandoned"`
	Total     int            `json:"total"`
	Total429  int            `json:"total_429"`
}

type statsRecorder struct {
	mu sync.Mutex
	s  Stats
}

func newStatsRecorder() *statsRecorder {
	r := &statsRecorder{}
	r.reset()
	return r
}

func (r *statsRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s = Stats{Requests: map[string]int{}, Throttled: map[string]int{},
		FaultKinds: map[string]int{}, FaultFamilies: map[string]int{}, Abandoned: map[string]int{}}
}

// record counts one answered (or dropped) request. status is 0 for a drop.
func (r *statsRecorder) record(key, family string, status int, plan faultPlan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Requests[key]++
	r.s.Total++
	if status == http.StatusTooManyRequests {
		r.s.Total429++
		r.s.Throttled[family]++
	}
	if plan.spike > 0 {
		r.s.FaultKinds["spike"]++
	}
	if !plan.faulted() {
		return
	}
	r.s.Faults++
	r.s.FaultFamilies[family]++
	switch {
	case plan.drop:
		r.s.FaultKinds["drop"]++
	case plan.status == http.StatusInternalServerError:
		r.s.FaultKinds["500"]++
	case plan.status == http.StatusServiceUnavailable:
		r.s.FaultKinds["503"]++
	default:
		if plan.slow != 0 {
			r.s.FaultKinds["slow"]++
		}
		if plan.malformed {
			r.s.FaultKinds["malformed"]++
		}
	}
}

// countFault counts a fault decided outside a plan (ThrottleStorm). The request
// itself is counted by record as usual; this only adds to the fault counters.
func (r *statsRecorder) countFault(kind, family string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Faults++
	r.s.FaultKinds[kind]++
	r.s.FaultFamilies[family]++
}

// countAbandoned counts a request whose client left before the view finished.
func (r *statsRecorder) countAbandoned(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Abandoned[key]++
}

func (r *statsRecorder) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.s
	s.Requests = maps.Clone(r.s.Requests)
	s.Throttled = maps.Clone(r.s.Throttled)
	s.FaultKinds = maps.Clone(r.s.FaultKinds)
	s.FaultFamilies = maps.Clone(r.s.FaultFamilies)
	s.Abandoned = maps.Clone(r.s.Abandoned)
	return s
}

// Stats returns a copy of the counters.
func (e *Emulator) Stats() Stats { return e.stats.snapshot() }

// ResetStats zeroes the counters (not the rate-limit windows).
func (e *Emulator) ResetStats() { e.stats.reset() }

// Count is the number of answered requests with this method and family.
func (e *Emulator) Count(method, family string) int {
	e.stats.mu.Lock()
	defer e.stats.mu.Unlock()
	return e.stats.s.Requests[method+" "+family]
}

// SetFaults replaces the fault configuration and reseeds its RNG.
func (e *Emulator) SetFaults(f Faults) { e.faults.set(f) }

// CurrentFaults returns the fault configuration in force.
func (e *Emulator) CurrentFaults() Faults {
	f, _ := e.faults.get()
	return f
}

// SetLatency sets the latency added to every API request.
func (e *Emulator) SetLatency(d time.Duration) { e.faults.setLatency(d) }

// SetRateLimit changes the limit and window (Config semantics: 0 → defaults,
// negative limit → off) and empties every window.
func (e *Emulator) SetRateLimit(limit int, window time.Duration) { e.limiter.set(limit, window) }

// RateLimit returns the limit and window in force (limit < 0: off).
func (e *Emulator) RateLimit() (int, time.Duration) { return e.limiter.get() }
