package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/pafs/pafs/remote/emulator"
	"github.com/spf13/pflag"
)

// emulatorOptions is the parsed command line of `pafs emulator`.
type emulatorOptions struct {
	listen         string
	listenPublic   bool // --listen-public: a non-loopback --listen is meant
	username       string
	token          string
	tokenGenerated bool // token was made up here, so it must be shown once
	rateLimit      int  // <= 0: off
	rateWindow     time.Duration
	latency        time.Duration
	failRate       float64
	seed           int64
	demo           bool
}

// runEmulator serves the emulator until SIGINT or SIGTERM, then exits 0.
func runEmulator(args []string, stdout, stderr io.Writer) int {
	opts, code := parseEmulatorFlags(args, os.Getenv, stdout, stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serveEmulator(ctx, opts, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "pafs emulator: %v\n", err)
		return 1
	}
	return 0
}

// parseEmulatorFlags parses args. It returns an exit code >= 0 when the command
// is done (after --help or a usage error), else -1 and the options.
func parseEmulatorFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (emulatorOptions, int) {
	var o emulatorOptions
	var noDemo bool
	fs := pflag.NewFlagSet("pafs emulator", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard) // errors and usage are printed below, to the right stream
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "address to listen on (host:port; port 0 picks a free one); loopback unless --listen-public")
	fs.BoolVar(&o.listenPublic, "listen-public", false, "allow a --listen address other hosts can reach (the /__emulator/ hooks need no token)")
	fs.StringVar(&o.username, "username", emulator.DefaultUsername, "the account's user name (URLs are /api/v0/user/USERNAME/...)")
	fs.StringVar(&o.token, "token", "", "API token clients must send (default $API_TOKEN; if unset, a random one is generated and printed)")
	fs.IntVar(&o.rateLimit, "rate-limit", emulator.DefaultRateLimit,
		"requests per window per endpoint family (send_input gets 3x); 0 or negative turns rate limiting off")
	fs.DurationVar(&o.rateWindow, "rate-window", emulator.DefaultRateWindow, "length of the sliding rate-limit window")
	fs.DurationVar(&o.latency, "latency", 0, "latency added to every API request (e.g. 50ms)")
	fs.Float64Var(&o.failRate, "fail-rate", 0, "fraction (0..1) of API requests answered with a 500 or 503 instead")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the random choices of --fail-rate, for reproducible runs")
	fs.BoolVar(&noDemo, "no-demo", false, "start with an empty account instead of the demo data")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: pafs emulator [flags]\n\n"+
			"Serve the PythonAnywhere API emulator over HTTP until interrupted (SIGINT/SIGTERM).\n"+
			"Test hooks (stats, faults, console start, ...) are under /__emulator/; see docs/emulator.md.\n\n"+
			"Flags:\n%s", fs.FlagUsages())
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		usage(stdout)
		return o, 0
	case err != nil:
		fmt.Fprintf(stderr, "pafs emulator: %v\n\n", err)
		usage(stderr)
		return o, 2
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "pafs emulator: unexpected argument %q\n", fs.Arg(0))
		return o, 2
	case o.failRate < 0 || o.failRate > 1 || o.failRate != o.failRate:
		fmt.Fprintln(stderr, "pafs emulator: --fail-rate must be between 0 and 1")
		return o, 2
	case o.rateWindow <= 0:
		fmt.Fprintln(stderr, "pafs emulator: --rate-window must be positive")
		return o, 2
	case o.username == "":
		fmt.Fprintln(stderr, "pafs emulator: --username must not be empty")
		return o, 2
	}
	o.demo = !noDemo
	if o.token == "" {
		o.token = getenv("API_TOKEN")
	}
	if o.token == "" {
		o.token, o.tokenGenerated = emulator.NewToken(), true
	}
	return o, -1
}

// serveEmulator listens, prints where it serves, and serves until ctx is done.
// The token is printed only when it was generated here.
func serveEmulator(ctx context.Context, o emulatorOptions, stdout, stderr io.Writer) error {
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	tcp, _ := ln.Addr().(*net.TCPAddr)
	public := tcp == nil || !tcp.IP.IsLoopback()
	if public && !o.listenPublic {
		// Checked on the address bound, so that a host name counts for
		// what it resolved to. Nothing was served on it.
		ln.Close()
		return fmt.Errorf("--listen %s is reachable from other hosts (%s), and the emulator's /__emulator/ hooks change its state without a token: listen on loopback, or pass --listen-public to mean it",
			o.listen, ln.Addr())
	}
	limit, limitText := o.rateLimit, fmt.Sprintf("%d/%s", o.rateLimit, o.rateWindow)
	if limit <= 0 {
		limit, limitText = -1, "off"
	}
	e := emulator.New(emulator.Config{Username: o.username, Token: o.token, RateLimit: limit,
		RateWindow: o.rateWindow, Latency: o.latency, Demo: o.demo,
		Faults: emulator.Faults{Seed: o.seed, ErrorRate: o.failRate}})
	addr := boundAddr(o.listen, ln.Addr())
	fmt.Fprintf(stdout, "pafs emulator: serving http://%s for user %s (rate limit %s)\n", addr, o.username, limitText)
	if public {
		fmt.Fprintf(stderr, "pafs emulator: --listen-public: anyone who reaches %s can use the API with the token, and the /__emulator/ hooks without one\n", addr)
	}
	if o.tokenGenerated {
		fmt.Fprintf(stdout, "pafs emulator: generated API token %s (set API_TOKEN or --token to choose one)\n", o.token)
	}
	err = e.Serve(ctx, ln)
	s := e.Stats()
	fmt.Fprintf(stderr, "pafs emulator: stopped after %d requests (%d throttled, %d faults)\n", s.Total, s.Total429, s.Faults)
	return err
}

// boundAddr is the address served, as host:port. A wildcard listener keeps
// the wildcard asked for (Go reports 0.0.0.0 as [::] on dual-stack hosts).
func boundAddr(asked string, addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	host, _, _ := net.SplitHostPort(asked)
	if host == "" {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}
