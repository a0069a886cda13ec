package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

// phase is one measured step of a workload: real programs run in a home
// directory, either the mount's or a local mirror of it (for the local
// baseline), and the same job done through the API without a cache (naive).
type phase struct {
	id, workload, name string
	after              string   // the phase this one builds on (it runs first)
	cmds               []string // shown in the results
	tools              []string // programs it needs
	// prepare runs untimed before run (on each side).
	prepare func(r *runner) error
	run     func(r *runner) error
	// done reports whether the server holds the result; nil: nothing to
	// wait for beyond an empty upload queue.
	done func(emu *emulator.Emulator) bool
	// check verifies the server's copy after the phase, untimed (for checks
	// too costly to poll).
	check func(emu *emulator.Emulator) error
	// min derives the minimum the API allows (called after the phase ran,
	// so it may look at the server).
	min func(emu *emulator.Emulator) model
	// expect: pafs is expected to make exactly the minimum (the test
	// asserts it).
	expect   bool
	naive    func(n *naive) error
	naiveHow string
	noLocal  bool                    // no local-disk equivalent (control folders)
	avail    func(mnt string) string // why it cannot run on this mount ("" if it can)
	bytes    int64                   // bytes written or read, for throughput
	read     bool                    // throughput over the command time, not the server time
	rateOff  bool                    // the server's rate limit is off (streaming)
	// bandwidth: the floor is the naive client's time for the same single
	// request (the job is bound by bytes, not by requests).
	bandwidth bool
	// remount: the mount is stopped and started again (same cache
	// directory) before the phase, untimed: what a mount learnt must
	// serve the next one.
	remount bool
	// span: the job takes at least this long whatever the requests (a
	// server-side change to wait for); the floor is at least that.
	span time.Duration
}

// result is the phase's entry in the results, before it runs.
func (p *phase) result() Phase {
	return Phase{ID: p.id, Workload: p.workload, Name: p.name, Commands: p.cmds, Expected: p.expect, Bytes: p.bytes}
}

// runner runs a phase's programs in one home directory.
type runner struct {
	ctx  context.Context
	home string // the mount's files/home/bench, or the local mirror
	root string // the mount point ("" for the local mirror)
	env  []string
	emu  *emulator.Emulator // the mount's server; nil on the local side
	// wait waits until the server holds what done checks (on the mount).
	wait func(done func(*emulator.Emulator) bool) error
	busy time.Duration // time spent in commands
}

// sh runs a shell script in the home directory and returns its output; a
// non-zero exit is an error carrying the output.
func (r *runner) sh(script string) (string, error) { return r.shIn(r.home, script) }

// shIn runs a shell script in dir.
func (r *runner) shIn(dir, script string) (string, error) {
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = r.env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	r.busy += time.Since(start)
	if err != nil {
		return string(out), fmt.Errorf("%s: %v\n%s", script, err, tail(string(out), 2000))
	}
	return string(out), nil
}

// settle waits, on the mount, until the server holds what done checks: a
// phase made of several steps that each must reach the server (saves).
func (r *runner) settle(done func(*emulator.Emulator) bool) error {
	if r.wait == nil {
		return nil
	}
	return r.wait(done)
}

// shAll runs scripts in order and stops at the first failure.
func (r *runner) shAll(scripts ...string) error {
	for _, s := range scripts {
		if _, err := r.sh(s); err != nil {
			return err
		}
	}
	return nil
}

// commandEnv is the environment of the programs: a private HOME (git and
// editors read their settings there), the C locale, a fixed git identity.
func commandEnv(homeDir string) []string {
	env := []string{"HOME=" + homeDir, "LC_ALL=C", "TERM=xterm",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com",
		"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com"}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "PATH" || k == "TMPDIR" {
			env = append(env, kv)
		}
	}
	return env
}

// naive does a phase's job through the API client alone, the way a script
// using the official library would: no cache, one request per directory
// listed, per file read and per file written.
type naive struct {
	ctx context.Context
	c   *remote.Client
	emu *emulator.Emulator
	s   *suite
}

// missingTools lists the programs of p that are not installed.
func missingTools(p *phase) []string {
	var out []string
	for _, t := range p.tools {
		if _, err := exec.LookPath(t); err != nil {
			out = append(out, t)
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
