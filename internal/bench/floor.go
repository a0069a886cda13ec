package bench

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// step is a group of requests in the cheapest way the API allows to do a
// phase's job: n requests of one "METHOD family", which may only start once
// the step at index after has finished (a listing before the downloads it
// names), and, if serial, one after another (an editor's saves: a human saves
// again only after the last save).
type step struct {
	key    string // "GET files/path"
	n      int
	after  int // index of the step this one waits for; -1: none
	serial bool
}

// model is a phase's minimum: its steps, and how they were derived.
type model struct {
	steps []step
	how   string
}

// free is a step that waits for nothing.
func free(key string, n int) step { return step{key: key, n: n, after: -1} }

// then is a step that starts once step i has finished.
func then(i int, key string, n int) step { return step{key: key, n: n, after: i} }

// counts is the minimum number of requests by "METHOD family".
func (m model) counts() map[string]int {
	out := map[string]int{}
	for _, s := range m.steps {
		if s.n > 0 {
			out[s.key] += s.n
		}
	}
	return out
}

// family is the rate-limit scope of a "METHOD family" key.
func family(key string) string {
	_, f, _ := strings.Cut(key, " ")
	return f
}

// apiFloor is the shortest time the API allows for the steps: every request
// is sent as early as its dependencies and its family's sliding window allow
// (at most limit requests in any window), and takes latency. Greedy earliest
// sending is optimal here because requests are interchangeable within a step
// and steps only ever wait for earlier steps.
func apiFloor(steps []step, limit int, window, latency time.Duration) time.Duration {
	sent := map[string][]time.Duration{} // per family, in sending order
	done := make([]time.Duration, len(steps))
	var end time.Duration
	for i, s := range steps {
		ready := time.Duration(0)
		if s.after >= 0 {
			ready = done[s.after]
		}
		for range s.n {
			t := earliest(sent[family(s.key)], ready, limit, window)
			sent[family(s.key)] = append(sent[family(s.key)], t)
			done[i] = max(done[i], t+latency)
			if s.serial {
				ready = t + latency
			}
		}
		done[i] = max(done[i], ready)
		end = max(end, done[i])
	}
	return end
}

// earliest is when a request ready at ready may be sent, given the family's
// earlier sends: not before the last of them (sends are kept in order), and
// not while limit sends are in the window. The server counts a request sent
// exactly one window after another as outside it.
func earliest(prev []time.Duration, ready time.Duration, limit int, window time.Duration) time.Duration {
	t := ready
	if n := len(prev); n > 0 {
		t = max(t, prev[n-1])
		if limit > 0 && n >= limit {
			t = max(t, prev[n-limit]+window)
		}
	}
	return t
}

// keysText renders request counts as "GET files/path 31, POST files/path 2",
// in a stable order.
func keysText(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		fi, fj := family(keys[i]), family(keys[j])
		if fi != fj {
			return fi < fj
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
