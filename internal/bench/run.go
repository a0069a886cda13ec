package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// Run runs the benchmark: every selected phase on a local disk (baseline),
// on a pafs mount of an emulator, and through the API by a naive client
// against a second emulator (at the same time as the mount, since the two
// servers have separate rate limits; bandwidth-bound phases run alone).
func Run(ctx context.Context, c Config) (*Results, error) {
	c = c.withDefaults()
	if c.Pafs == "" {
		return nil, errors.New("bench: no pafs binary to mount with")
	}
	if err := CheckFUSE(); err != nil {
		return nil, err
	}
	start := time.Now()
	s, err := newSuite(ctx, c)
	if err != nil {
		return nil, err
	}
	defer s.cleanup()
	res := &Results{Machine: thisMachine(), Settings: c.settings(), Started: start}
	out := make([]Phase, len(s.phases))
	for i, p := range s.phases {
		out[i] = p.result()
	}
	s.logf("pafs bench: %s; latency %s; in %s", c.ScaleText(), c.Latency, s.root)
	if err := s.runLocal(ctx, out); err != nil {
		return nil, err
	}
	models := make([]model, len(s.phases))
	naives := make([]*Naive, len(s.phases))
	err = s.runAll(ctx, out, models, naives, res)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Naive = naives[i]
		s.floor(&out[i], s.phases[i], models[i])
		out[i].finish()
	}
	res.Phases = out
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// runAll runs the mount and the naive client side by side. A failed mount
// stops the naive client too: its numbers alone answer nothing.
func (s *suite) runAll(ctx context.Context, out []Phase, models []model, naives []*Naive, res *Results) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ns *server
	if !s.cfg.NoNaive {
		var err error
		if ns, err = startServer(s.emuConfig()); err != nil {
			return err
		}
		defer ns.stop()
		s.seed(ns.emu)
	}
	var wg sync.WaitGroup
	if ns != nil {
		wg.Go(func() { s.runNaive(ctx, ns, naives, false) })
	}
	err := s.runMounted(ctx, out, models, res)
	if err != nil {
		cancel()
	}
	wg.Wait()
	if ns != nil && err == nil {
		s.runNaive(ctx, ns, naives, true)
	}
	return err
}

func (c Config) settings() Settings {
	return Settings{Scale: c.Scale, ScaleText: c.ScaleText(), Limit: c.Limit, WindowSeconds: c.Window().Seconds(),
		LatencyMs: ms(c.Latency), TTLSeconds: c.TTL.Seconds(), WriteBackMs: ms(c.WriteBack), Quick: c.Quick, Sizes: c.Sizes}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (s *suite) emuConfig() emulator.Config {
	return emulator.Config{Username: user, RateLimit: s.cfg.Limit, RateWindow: s.cfg.Window(),
		Latency: s.cfg.Latency, Demo: true}
}

func (s *suite) mountArgs() []string {
	c := s.cfg
	args := []string{"--cache-dir", filepath.Join(s.root, "cache"),
		"--rate-limit", fmt.Sprint(c.Limit), "--rate-window", c.Window().String(),
		"--dir-cache-time", c.TTL.String(), "--write-back", c.WriteBack.String()}
	if c.MountLog != "" {
		args = append(args, "--verbose", "--log-file", c.MountLog)
	}
	if c.Sizes != "" {
		args = append(args, "--sizes", c.Sizes)
	}
	return args
}

func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(s.cfg.Log, format+"\n", args...)
}

// runLocal runs every phase on a local disk: the time the programs need
// when no network is involved, one bound on how fast the mount can be.
func (s *suite) runLocal(ctx context.Context, out []Phase) error {
	if err := s.seedMirror(); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(s.mirror, "big.bin"))
	for i, p := range s.phases {
		if p.noLocal || len(missingTools(p)) > 0 {
			continue
		}
		r := &runner{ctx: ctx, home: s.mirror, env: s.env}
		if p.prepare != nil {
			if err := p.prepare(r); err != nil {
				out[i].Error = "local: " + err.Error()
				continue
			}
		}
		start := time.Now()
		if err := p.run(r); err != nil {
			out[i].Error = "local: " + err.Error()
		}
		out[i].LocalSeconds = time.Since(start).Seconds()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// runNaive runs the naive client's version of the phases (the
// bandwidth-bound ones, or the others) against its own server.
func (s *suite) runNaive(ctx context.Context, ns *server, naives []*Naive, bandwidth bool) {
	c, err := remote.New(remote.Config{BaseURL: ns.url, Username: user, Token: ns.emu.Token(),
		RateLimit: s.cfg.Limit, RateWindow: s.cfg.Window()})
	for i, p := range s.phases {
		if p.bandwidth != bandwidth || p.naive == nil || ctx.Err() != nil {
			continue
		}
		nv := &Naive{How: p.naiveHow}
		naives[i] = nv
		if err != nil {
			nv.Error = err.Error()
			continue
		}
		restore := rateOff(ns, p, s.cfg)
		before := ns.emu.Stats()
		start := time.Now()
		if err := p.naive(&naive{ctx: ctx, c: c, emu: ns.emu, s: s}); err != nil {
			nv.Error = err.Error()
		}
		nv.Seconds = time.Since(start).Seconds()
		s.quiesce(ctx, nil, ns, before)
		after := ns.emu.Stats()
		nv.Requests, nv.Throttled = delta(before.Requests, after.Requests), after.Total429-before.Total429
		restore()
	}
}

// rateOff turns the server's rate limit off for a phase that asks for it and
// returns what turns it back on.
func rateOff(srv *server, p *phase, c Config) func() {
	if !p.rateOff {
		return func() {}
	}
	srv.emu.SetRateLimit(-1, c.Window())
	return func() { srv.emu.SetRateLimit(c.Limit, c.Window()) }
}

// quiesce lets a phase's requests leave the rate window before the next
// phase starts, so that every phase starts with the full budget, and so that
// late requests (a delete after an upload) are counted with their phase.
func (s *suite) quiesce(ctx context.Context, m *mount, srv *server, before emulator.Stats) {
	if total(delta(before.Requests, srv.emu.Stats().Requests)) == 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(s.cfg.Window() + 250*time.Millisecond):
	}
	if m != nil {
		m.waitServer(ctx, nil, time.Minute)
	}
}

func delta(before, after map[string]int) map[string]int {
	d := map[string]int{}
	for k, v := range after {
		if n := v - before[k]; n != 0 {
			d[k] = n
		}
	}
	return d
}

// floor sets the phase's minimum and time floor from its model.
func (s *suite) floor(o *Phase, p *phase, m model) {
	c := s.cfg
	o.Minimum, o.MinimumHow = m.counts(), m.how
	limit := c.Limit
	if p.rateOff {
		limit = -1
	}
	api := apiFloor(m.steps, limit, c.Window(), c.Latency)
	how := floorText(m, limit, c.Window(), c.Latency, api)
	if p.bandwidth && total(o.Minimum) > 0 && o.Naive != nil && o.Naive.Error == "" {
		api = time.Duration(o.Naive.Seconds * float64(time.Second))
		how = "the naive client's single request (bound by bytes, not requests)"
	}
	if p.span > api {
		api = p.span + c.Latency
		how = fmt.Sprintf("the last change happens %.2fs in, then one round trip", p.span.Seconds())
	}
	o.APIFloorSeconds = api.Seconds()
	o.FloorHow = fmt.Sprintf("max(API %.2fs: %s; local disk %.2fs)", api.Seconds(), how, o.LocalSeconds)
}

// floorText explains an API floor as whole windows plus round trips.
func floorText(m model, limit int, window, latency, floor time.Duration) string {
	if total(m.counts()) == 0 {
		return "no requests"
	}
	perFamily := map[string]int{}
	for k, n := range m.counts() {
		perFamily[family(k)] += n
	}
	windows := 0
	for _, n := range perFamily {
		if limit > 0 {
			windows = max(windows, (n+limit-1)/limit-1)
		}
	}
	trips := 0
	if latency > 0 {
		trips = int(((floor - time.Duration(windows)*window) + latency/2) / latency)
	}
	var parts []string
	if windows > 0 {
		parts = append(parts, fmt.Sprintf("%d×%s windows", windows, window))
	}
	if trips > 0 {
		parts = append(parts, fmt.Sprintf("%d×%s round trips", trips, latency))
	}
	if len(parts) == 0 {
		return "no waiting"
	}
	return strings.Join(parts, " + ")
}
