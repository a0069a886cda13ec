package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pafs/pafs/remote/emulator"
)

// serverTimeout bounds the wait for the server to hold a phase's result.
const serverTimeout = 10 * time.Minute

// runMounted mounts an emulator with pafs and runs the phases on the mount.
func (s *suite) runMounted(ctx context.Context, out []Phase, models []model, res *Results) (err error) {
	srv, err := startServer(s.emuConfig())
	if err != nil {
		return err
	}
	defer srv.stop()
	s.seed(srv.emu)
	mnt := filepath.Join(s.root, "mnt")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return err
	}
	m, err := startMount(ctx, s.cfg.Pafs, srv, mnt, s.mountArgs())
	if err != nil {
		return err
	}
	defer func() {
		if serr := m.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	if res.Setup, err = s.prime(ctx, srv, m); err != nil {
		return err
	}
	for i, p := range s.phases {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p.remount {
			if m, err = s.remount(ctx, srv, m); err != nil {
				return err
			}
		}
		s.mountedPhase(ctx, srv, m, p, &out[i])
		models[i] = p.min(srv.emu)
		s.logf("%-3s %-34s %s", p.id, p.name, progressText(out[i]))
	}
	return nil
}

// prime does what a user has done before the workloads: the home directory
// and edit/ were listed once. Its requests (and the mount's token check)
// are reported apart.
func (s *suite) prime(ctx context.Context, srv *server, m *mount) (map[string]int, error) {
	before := emulator.Stats{Requests: map[string]int{}}
	r := s.mountRunner(ctx, srv, m)
	if _, err := r.sh("ls >/dev/null && ls edit >/dev/null"); err != nil {
		return nil, fmt.Errorf("the mount does not work: %w", err)
	}
	s.quiesce(ctx, m, srv, before)
	return srv.emu.Stats().Requests, nil
}

// remount stops the mount (it uploads what is pending first) and mounts
// again on the same cache directory.
func (s *suite) remount(ctx context.Context, srv *server, m *mount) (*mount, error) {
	if err := m.stop(); err != nil {
		return m, err
	}
	n, err := startMount(ctx, s.cfg.Pafs, srv, m.dir, s.mountArgs())
	if err != nil {
		return m, fmt.Errorf("remount: %w", err)
	}
	return n, nil
}

func (s *suite) mountRunner(ctx context.Context, srv *server, m *mount) *runner {
	return &runner{ctx: ctx, home: filepath.Join(m.dir, "files", "home", user), root: m.dir, env: s.env, emu: srv.emu,
		wait: func(done func(*emulator.Emulator) bool) error {
			return m.waitServer(ctx, func() bool { return done(srv.emu) }, serverTimeout)
		}}
}

// mountedPhase runs one phase on the mount and measures it: the time until
// the commands returned, until the server held the result, the requests the
// server saw, its 429s and the mount's peak memory.
func (s *suite) mountedPhase(ctx context.Context, srv *server, m *mount, p *phase, o *Phase) {
	if missing := missingTools(p); len(missing) > 0 {
		o.Skipped = "not installed: " + strings.Join(missing, ", ")
		return
	}
	if p.avail != nil {
		if why := p.avail(m.dir); why != "" {
			o.Skipped = why
			return
		}
	}
	r := s.mountRunner(ctx, srv, m)
	if p.prepare != nil {
		if err := p.prepare(r); err != nil {
			o.Error = err.Error()
			return
		}
	}
	defer rateOff(srv, p, s.cfg)()
	before := srv.emu.Stats()
	m.resetPeak()
	start := time.Now()
	err := p.run(r)
	if err == nil {
		err = r.wait(func(e *emulator.Emulator) bool { return p.done == nil || p.done(e) })
	}
	o.ServerSeconds = time.Since(start).Seconds()
	o.CommandSeconds = r.busy.Seconds()
	o.PeakRSS = m.peakRSS()
	if err == nil && p.check != nil {
		err = p.check(srv.emu)
	}
	if err != nil {
		o.Error = err.Error()
	}
	o.MiBps = throughput(p, o)
	s.quiesce(ctx, m, srv, before)
	after := srv.emu.Stats()
	o.Requests, o.Throttled = delta(before.Requests, after.Requests), after.Total429-before.Total429
}

// throughput is a streaming phase's MiB/s: over the time until the server
// had it for a write, over the command's time for a read.
func throughput(p *phase, o *Phase) float64 {
	secs := o.ServerSeconds
	if p.read {
		secs = o.CommandSeconds
	}
	if p.bytes == 0 || secs <= 0 {
		return 0
	}
	return float64(p.bytes) / (1 << 20) / secs
}

// progressText is the one-line progress report of a phase.
func progressText(p Phase) string {
	switch {
	case p.Skipped != "":
		return "skipped: " + p.Skipped
	case p.Error != "":
		return "FAILED: " + firstLine(p.Error)
	}
	return fmt.Sprintf("%d requests, command %.2fs, server %.2fs", p.RequestsTotal(), p.CommandSeconds, p.ServerSeconds)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
