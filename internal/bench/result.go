package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Results is one run of the benchmark; WriteJSON stores it.
type Results struct {
	Machine  Machine   `json:"machine"`
	Settings Settings  `json:"settings"`
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"` // the whole run
	// Setup is what mounting and priming cost (one token check, the home
	// listing, ...): requests that belong to no phase.
	Setup  map[string]int `json:"setup_requests"`
	Phases []Phase        `json:"phases"`
}

// Settings are the conditions the numbers hold under.
type Settings struct {
	Scale         float64 `json:"scale"`
	ScaleText     string  `json:"scale_text"`
	Limit         int     `json:"rate_limit"`
	WindowSeconds float64 `json:"rate_window_seconds"`
	LatencyMs     float64 `json:"latency_ms"`
	TTLSeconds    float64 `json:"dir_cache_time_seconds"`
	WriteBackMs   float64 `json:"write_back_ms"`
	Quick         bool    `json:"quick"`
	Sizes         string  `json:"sizes,omitempty"` // the mount's --sizes, if given
}

// Phase is one measured step of a workload.
type Phase struct {
	ID       string   `json:"id"` // "4b"
	Workload string   `json:"workload"`
	Name     string   `json:"name"`
	Commands []string `json:"commands"`
	Skipped  string   `json:"skipped,omitempty"` // why it did not run
	Error    string   `json:"error,omitempty"`

	Requests     map[string]int `json:"requests"` // by "METHOD family"
	Minimum      map[string]int `json:"minimum"`
	MinimumHow   string         `json:"minimum_how"`
	RequestRatio *float64       `json:"request_ratio"` // requests / minimum; null when the minimum is 0
	Expected     bool           `json:"expect_minimum"`
	Throttled    int            `json:"throttled"` // 429s seen by the server

	CommandSeconds  float64  `json:"command_seconds"` // until the commands returned
	ServerSeconds   float64  `json:"server_seconds"`  // until the server held the result
	LocalSeconds    float64  `json:"local_seconds"`   // the same commands on a local disk
	APIFloorSeconds float64  `json:"api_floor_seconds"`
	FloorSeconds    float64  `json:"floor_seconds"` // max(API floor, local)
	FloorHow        string   `json:"floor_how"`
	TimeRatio       *float64 `json:"time_ratio"` // server / floor

	PeakRSS int64   `json:"peak_rss_bytes"` // of the pafs process during the phase
	Bytes   int64   `json:"bytes,omitempty"`
	MiBps   float64 `json:"mib_per_second,omitempty"` // Bytes over the server time (write) or command time (read)

	Naive *Naive `json:"naive,omitempty"`
}

// Naive is the same job done by a client of the API without a cache.
type Naive struct {
	Requests  map[string]int `json:"requests"`
	Seconds   float64        `json:"seconds"`
	Throttled int            `json:"throttled"`
	How       string         `json:"how"`
	Error     string         `json:"error,omitempty"`
}

// RequestsTotal is the phase's number of requests.
func (p Phase) RequestsTotal() int { return total(p.Requests) }

// MinimumTotal is the phase's minimum number of requests.
func (p Phase) MinimumTotal() int { return total(p.Minimum) }

// AtMinimum reports whether pafs made exactly the minimum requests, per
// endpoint and method.
func (p Phase) AtMinimum() bool {
	if len(p.Requests) != len(p.Minimum) {
		return false
	}
	for k, v := range p.Minimum {
		if p.Requests[k] != v {
			return false
		}
	}
	return true
}

// finish computes the ratios from the measured and derived numbers.
func (p *Phase) finish() {
	if p.Skipped != "" {
		return
	}
	if m := p.MinimumTotal(); m > 0 {
		p.RequestRatio = ratio(float64(p.RequestsTotal()), float64(m))
	}
	p.FloorSeconds = max(p.APIFloorSeconds, p.LocalSeconds)
	if p.FloorSeconds > 0 {
		p.TimeRatio = ratio(p.ServerSeconds, p.FloorSeconds)
	}
}

func ratio(a, b float64) *float64 {
	r := a / b
	return &r
}

// WriteJSON writes the results to path, indented.
func (r *Results) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadJSON reads results written by WriteJSON.
func ReadJSON(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
