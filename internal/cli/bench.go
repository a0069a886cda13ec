package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/pafs/pafs/internal/bench"
)

// runBench is `pafs bench`: the workloads of docs/performance.md against an
// in-process emulator, mounted by this same binary in a child process.
func runBench(args []string, stdout, stderr io.Writer) int {
	c, jsonPath, err := parseBenchArgs(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pafs bench: %v\n", err)
		return 2
	}
	if c.Pafs, err = os.Executable(); err != nil {
		fmt.Fprintf(stderr, "pafs bench: cannot find the pafs binary: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c.Log = stderr
	res, err := bench.Run(ctx, c)
	if err != nil {
		fmt.Fprintf(stderr, "pafs bench: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout)
	if err := res.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "pafs bench: %v\n", err)
		return 1
	}
	if err := res.WriteJSON(jsonPath); err != nil {
		fmt.Fprintf(stderr, "pafs bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "pafs bench: results written to %s\n", jsonPath)
	return benchExit(res)
}

// benchExit is 1 when a phase failed or the server answered a 429: the
// numbers of such a run do not mean what they say.
func benchExit(res *bench.Results) int {
	for _, p := range res.Phases {
		if p.Error != "" || p.Throttled > 0 || (p.Naive != nil && (p.Naive.Error != "" || p.Naive.Throttled > 0)) {
			return 1
		}
	}
	return 0
}

func parseBenchArgs(args []string, stderr io.Writer) (bench.Config, string, error) {
	var c bench.Config
	var jsonPath string
	fl := pflag.NewFlagSet("pafs bench", pflag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Float64Var(&c.Scale, "scale", 20, "shrink the API's one-minute rate window by this factor (20: 40 requests per 3 s)")
	fl.IntVar(&c.Limit, "rate-limit", 40, "requests per window per endpoint family")
	fl.DurationVar(&c.Latency, "latency", 100*time.Millisecond, "latency the emulator adds to every request")
	fl.DurationVar(&c.TTL, "dir-cache-time", 10*time.Minute, "the mount's --dir-cache-time (long, so that the second grep is inside it)")
	fl.DurationVar(&c.WriteBack, "write-back", 0, "the mount's --write-back (default: pafs's 2s divided by --scale)")
	fl.StringSliceVar(&c.Only, "only", nil, "run only these workloads (1-9) or phases (e.g. 4b), comma separated")
	fl.BoolVar(&c.Quick, "quick", false, "lighter workloads: smaller grep tree and stream, 3 saves, no nano")
	fl.BoolVar(&c.NoNaive, "no-naive", false, "skip the naive client's runs")
	fl.StringVar(&jsonPath, "json", "bench-results.json", "write the results as JSON to this file")
	fl.StringVar(&c.WorkDir, "work-dir", "", "where the temporary mount, cache and sources go (default $TMPDIR)")
	fl.BoolVar(&c.Keep, "keep", false, "keep the temporary directory")
	fl.StringVar(&c.MountLog, "mount-log", "", "log every request the mount makes to this file (pafs mount -v --log-file)")
	fl.StringVar(&c.Sizes, "sizes", "", "the mount's --sizes (exact or lazy; default pafs's, exact)")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pafs bench [flags]\n\n"+
			"Runs the workloads of docs/performance.md against an emulator with latency and a scaled-down\n"+
			"rate limit, on a pafs mount (a child process), on a local disk and through a naive API client;\n"+
			"prints requests and times against the minimum the API allows, and writes them as JSON.\n"+
			"Needs FUSE (/dev/fuse, and root or fusermount3) and vim, nano, script, git, rsync, tar.\n\nFlags:\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return c, "", err
	}
	if fl.NArg() > 0 {
		return c, "", fmt.Errorf("unexpected arguments %q (see pafs bench --help)", fl.Args())
	}
	if c.Scale <= 0 || c.Limit <= 0 || c.Latency < 0 {
		return c, "", errors.New("--scale and --rate-limit must be positive, --latency not negative")
	}
	return c, jsonPath, nil
}
