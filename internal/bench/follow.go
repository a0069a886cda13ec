package bench

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/remote/emulator"
)

// followLog is seeded (seedFiles) with "line 0": created now, its
// directory would be missing from the home listing the mount has cached.
const (
	followRel = "logs/follow.log"
	followLog = home + "/" + followRel
)

// followWindows is how long workload 9 follows the log, in rate windows (2:
// two minutes at the real scale).
const followWindows = 2

// followPhases is workload 9: tail -f on a log that a web app appends to on
// the server, for two (scaled) minutes: what following costs per minute
// against its cap of a quarter of the files budget (one download per
// --follow-interval, 4 × window / limit), and nothing once tail exits.
func followPhases(s *suite) []*phase {
	window := s.cfg.Window()
	interval := vfs.FollowInterval(s.cfg.Limit, window)
	span := followWindows * window
	appends := 8
	capN := int(span/interval) + 1 // the most the cap allows over the span
	var measured, atEnd int
	return []*phase{{
		id: "9a", workload: "9", name: fmt.Sprintf("tail -f a log for %d min", followWindows),
		cmds:  []string{fmt.Sprintf("tail -f logs/follow.log  # the server appends %d lines meanwhile; tail's 1 s poll scaled too", appends)},
		tools: []string{"tail"}, noLocal: true,
		// The last line is appended this long after tail starts: no
		// number of requests shows it sooner.
		span: span * time.Duration(appends) / time.Duration(appends+1),
		run: func(r *runner) error {
			before := r.emu.Stats().Requests
			err := r.follow(span, appends)
			atEnd = r.emu.Stats().Requests["GET files/path"]
			measured = atEnd - before["GET files/path"]
			return err
		},
		min: func(e *emulator.Emulator) model {
			perMin := float64(measured) / followWindows
			after := "none"
			if n := e.Stats().Requests["GET files/path"] - atEnd; n > 0 {
				after = fmt.Sprint(n)
			}
			return model{steps: []step{free("GET files/path", 1+appends)},
				how: fmt.Sprintf("one download per version of the log (the open's and %d appends): the API has no change feed "+
					"and no ranged read. Following may spend up to a quarter of the files budget, one download per "+
					"--follow-interval (%s here, 6 s at the real scale): at most %d in the %d minutes (scaled); "+
					"pafs made %d, %.1f a minute against the cap of %d, and %s after tail exited",
					appends, interval, capN, followWindows, measured, perMin, s.cfg.Limit/4, after)}
		},
		naive:    func(n *naive) error { return n.follow(span) },
		naiveHow: "download the log every (scaled) second, as tail -f polls, as far as the rate limit allows",
	}}
}

// follow runs tail -f on the log for span while the server appends lines
// at even intervals, then waits for tail to print the last one and stops
// it.
func (r *runner) follow(span time.Duration, appends int) error {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	var out lockedBuffer
	// tail polls every second, scaled like the rate window.
	sleep := fmt.Sprintf("%g", (span / followWindows / 60).Seconds())
	cmd := exec.CommandContext(ctx, "tail", "-f", "-s", sleep, followRel)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = r.home, r.env, &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
		r.busy += time.Since(start)
	}()
	content := "line 0\n"
	for i := 1; i <= appends; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(start.Add(span * time.Duration(i) / time.Duration(appends+1)))):
		}
		content += fmt.Sprintf("line %d\n", i)
		r.emu.WriteFile(followLog, []byte(content))
	}
	last := fmt.Sprintf("line %d\n", appends)
	deadline := start.Add(span + span/2)
	for !strings.Contains(out.String(), last) {
		if time.Now().After(deadline) {
			return fmt.Errorf("tail -f printed %q, not %q, within %s", tail(out.String(), 200), last, span+span/2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// follow downloads the log every (scaled) second for span: a script
// following a file through the API, as tail -f polls one.
func (n *naive) follow(span time.Duration) error {
	every := n.s.cfg.Window() / 60
	for end := time.Now().Add(span); time.Now().Before(end); time.Sleep(every) {
		d, err := n.c.Download(n.ctx, followLog)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, d.Body)
		d.Body.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
