package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/remote"
)

// mountConfig is everything `pafs mount` was told.
type mountConfig struct {
	mountpoint   string
	demo         bool
	username     string
	token        string // never printed
	tokenFile    string
	tokenOnCmd   bool
	region       string
	apiURL       string
	rateLimit    int
	rateWindow   time.Duration
	dirCacheTime time.Duration
	cacheTTL     time.Duration
	cacheDir     string
	cacheMax     int64
	adoptCache   bool // --adopt-cache-dir: unowned queued changes in --cache-dir are this account's
	writeBack    time.Duration
	writeBackMax time.Duration
	tempDelay    time.Duration
	transfers    int
	retries      int
	timeout      time.Duration
	slowTimeout  time.Duration // --slow-timeout: the wait for a reload's answer (remote.Config.SlowTimeout)
	tempNames    []string
	oldTempNames []string // --local-only, the old name of --temp-name
	sizes        string   // --sizes: exact or lazy
	readOnly     bool
	allowOther   bool
	verbose      bool
	debugFUSE    bool
	logFile      string
	options      []string
	nonEmpty     bool // -o nonempty: mount over a non-empty directory
	regionSet    bool // --region was given (else $PYTHONANYWHERE_SITE may decide)
	stopTimeout  time.Duration
	cacheTemp    bool // the cache directory is a temporary one, deleted at exit (--demo)

	// Control folders (package control).
	autoReload      bool          // --auto-reload: reload web apps after uploads to their code
	autoReloadDelay time.Duration // --auto-reload-delay: quiet period before such a reload

	// followInterval (--follow-interval) is the least time between two
	// downloads of followed files (tail -f); 0: a quarter of the files
	// budget (vfs.FollowInterval).
	followInterval time.Duration
}

func mountFlags(c *mountConfig, stderr io.Writer) *pflag.FlagSet {
	fl := pflag.NewFlagSet("pafs mount", pflag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.BoolVar(&c.demo, "demo", false, "mount a built-in demo account served by the embedded emulator")
	fl.StringVar(&c.username, "username", "", "PythonAnywhere username (default $PA_USERNAME)")
	fl.StringVar(&c.tokenFile, "token-file", "", "read the API token from this file instead of $API_TOKEN")
	fl.StringVar(&c.token, "token", "", "API token on the command line (visible to other users: prefer $API_TOKEN)")
	fl.StringVar(&c.region, "region", "us", "account's region: us (www.pythonanywhere.com) or eu (eu.pythonanywhere.com)")
	fl.StringVar(&c.apiURL, "api-url", "", "API host URL instead of --region, e.g. https://HOST (http:// only for loopback)")
	fl.IntVar(&c.rateLimit, "rate-limit", 40, "requests per window per endpoint (the API allows 40 a minute); negative turns client-side pacing off")
	fl.DurationVar(&c.rateWindow, "rate-window", time.Minute, "the rate limit's sliding window")
	fl.DurationVar(&c.dirCacheTime, "dir-cache-time", 30*time.Second, "how long directory listings are trusted before fetching again")
	fl.DurationVar(&c.cacheTTL, "cache-ttl", 0, "how long a downloaded file is served locally (default: --dir-cache-time)")
	fl.StringVar(&c.cacheDir, "cache-dir", "", "where file contents and the upload queue live (default $XDG_CACHE_HOME/pafs/USER@HOST)")
	fl.BoolVar(&c.adoptCache, "adopt-cache-dir", false, "changes queued in --cache-dir by a pafs that did not record their account are this account's: upload them")
	fl.String("cache-max-size", "5G", "evict cached (already uploaded) file contents beyond this size")
	fl.DurationVar(&c.writeBack, "write-back", 2*time.Second, "delay between close and upload; 0 uploads during close and returns its error")
	fl.DurationVar(&c.writeBackMax, "write-back-max", vfs.DefaultWriteBackMax, "upload a file that keeps being written (or stays open) at the latest this long after its first unsent change")
	fl.IntVar(&c.transfers, "transfers", 4, "uploads and deletes in flight at once")
	fl.IntVar(&c.retries, "retries", 6, "retries of one request after a network error or a 5xx (a 429 is waited out without spending one); 0 turns retries and 429 waits off. Failed uploads are also requeued")
	fl.DurationVar(&c.stopTimeout, "stop-timeout", time.Minute, "at stop (Ctrl-C, SIGTERM, unmount), give up when uploads keep failing and none has succeeded for this long; what is left stays queued for the next mount")
	fl.DurationVar(&c.timeout, "timeout", 30*time.Second, "a request the server makes no progress on for this long fails and is retried (no answer to a read, a download gone silent)")
	fl.DurationVar(&c.slowTimeout, "slow-timeout", 3*time.Minute, "how long a web app reload, a web app creation or a certificate request waits for its answer; after that a reload is probably done")
	fl.StringSliceVar(&c.tempNames, "temp-name", nil, "extra glob patterns of temp file names, uploaded only if still there after --temp-delay (editor temp files are built in)")
	// --local-only was its name while such files were never uploaded;
	// kept so that fstab lines and scripts go on working.
	fl.StringSliceVar(&c.oldTempNames, "local-only", nil, "")
	_ = fl.MarkDeprecated("local-only", "use --temp-name (such files are uploaded after --temp-delay)")
	fl.DurationVar(&c.tempDelay, "temp-delay", vfs.DefaultTempDelay, "delay between close and upload for editors' temp, swap, lock and backup files (names like x~, .x.swp, #x#, 4913)")
	fl.StringVar(&c.sizes, "sizes", "exact", "exact: a file's size is fetched (one download) the first time it is stat'ed; lazy: files not read yet show as empty, which tar c, git add and rsync store as empty files")
	fl.BoolVar(&c.readOnly, "read-only", false, "mount read-only")
	fl.BoolVar(&c.allowOther, "allow-other", false, "let other users access the mount (needs user_allow_other in /etc/fuse.conf)")
	fl.BoolVarP(&c.verbose, "verbose", "v", false, "log every API request")
	fl.BoolVar(&c.debugFUSE, "debug-fuse", false, "log every FUSE request")
	fl.StringVar(&c.logFile, "log-file", "", "write the log to this file instead of stderr")
	fl.StringArrayVarP(&c.options, "option", "o", nil, "mount options, comma separated: ro, rw, allow_other, nonempty, any flag as name=value (token_file=FILE); others go to the kernel")
	fl.BoolVar(&c.autoReload, "auto-reload", false, "reload a web app by itself after uploads under its source directory or to its WSGI file")
	fl.DurationVar(&c.autoReloadDelay, "auto-reload-delay", 1500*time.Millisecond, "with --auto-reload: the quiet period after the last upload before reloading")
	fl.DurationVar(&c.followInterval, "follow-interval", 0, "least time between two downloads of files being followed (tail -f), all of them together; default: a quarter of the rate limit (6s at 40 a minute)")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pafs mount [flags] MOUNTPOINT\n"+
			"       pafs USERNAME MOUNTPOINT -o OPTIONS   (the form mount(8) uses for fstab's fuse.pafs; runs in the background)\n\n"+
			"Mounts a PythonAnywhere account at MOUNTPOINT and serves it in the foreground;\n"+
			"Ctrl-C or SIGTERM uploads what is pending (see --stop-timeout), then unmounts.\n"+
			"The token comes from $API_TOKEN (or --token-file); the username from --username or $PA_USERNAME.\n\nFlags:\n")
		fl.PrintDefaults()
	}
	return fl
}

// parseMountArgs parses and checks the command line. Nothing is created or
// contacted yet: a mistake in the flags is reported before any side effect.
func parseMountArgs(args []string, stderr io.Writer) (*mountConfig, error) {
	c := &mountConfig{}
	fl := mountFlags(c, stderr)
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if fl.NArg() != 1 {
		return nil, errors.New("need exactly one MOUNTPOINT (see pafs mount --help)")
	}
	var err error
	c.mountpoint, err = filepath.Abs(fl.Arg(0))
	if err != nil {
		return nil, err
	}
	// -o options pafs understands itself become flags; the rest go to the kernel.
	var kernel []string
	for _, o := range c.options {
		for _, opt := range strings.Split(o, ",") {
			opt = strings.TrimSpace(opt)
			name, value, hasValue := strings.Cut(opt, "=")
			switch {
			case opt == "":
			case opt == "ro":
				c.readOnly = true
			case opt == "rw":
				c.readOnly = false
			case opt == "allow_other":
				c.allowOther = true
			case opt == "nonempty":
				c.nonEmpty = true
			case ignoredOptions[opt]:
			case name == "token":
				return nil, errors.New("-o token=...: a token in mount options ends up in /etc/fstab or the process list; use token_file=FILE (a file only you can read)")
			case name != "option" && fl.Lookup(strings.ReplaceAll(name, "_", "-")) != nil:
				// Any flag as an option, for fstab: token_file=/etc/pafs/alice.token.
				if !hasValue {
					value = "true"
				}
				if err := fl.Set(strings.ReplaceAll(name, "_", "-"), value); err != nil {
					return nil, fmt.Errorf("-o %s: %w", opt, err)
				}
			default:
				kernel = append(kernel, opt)
			}
		}
	}
	c.options = kernel
	size, err := parseSize(fl.Lookup("cache-max-size").Value.String())
	if err != nil {
		return nil, fmt.Errorf("--cache-max-size: %w", err)
	}
	c.cacheMax = size
	c.tempNames = append(c.tempNames, c.oldTempNames...)
	c.tokenOnCmd = fl.Changed("token")
	c.regionSet = fl.Changed("region")
	if c.writeBack < 0 || c.writeBackMax <= 0 || c.tempDelay <= 0 || c.dirCacheTime <= 0 || c.rateWindow <= 0 || c.timeout <= 0 || c.stopTimeout <= 0 {
		return nil, errors.New("--write-back, --write-back-max, --temp-delay, --dir-cache-time, --rate-window, --timeout and --stop-timeout must be positive (write-back may be 0)")
	}
	if c.demo {
		// The demo serves its own account: these would be silently ignored.
		for _, name := range []string{"api-url", "token", "token-file", "region"} {
			if fl.Changed(name) {
				return nil, fmt.Errorf("--demo serves a built-in account: it takes no --%s (drop --demo to mount a real account)", name)
			}
		}
	}
	if c.apiURL != "" {
		if c.apiURL, err = checkAPIURL(c.apiURL); err != nil {
			return nil, err
		}
	}
	if _, err := remote.RegionURL(c.region); err != nil {
		return nil, fmt.Errorf("--region %q: PythonAnywhere has the regions us (www.pythonanywhere.com) and eu (eu.pythonanywhere.com)", c.region)
	}
	if c.sizes != "exact" && c.sizes != "lazy" {
		return nil, fmt.Errorf("--sizes %q: want exact or lazy", c.sizes)
	}
	if c.followInterval < 0 {
		return nil, errors.New("--follow-interval must not be negative")
	}
	if c.username == "" {
		c.username = os.Getenv("PA_USERNAME")
	}
	return c, nil
}

// ignoredOptions are generic mount options that mean nothing to pafs:
// fstab's (mount.fuse3 drops most of them, not when pafs is run by hand),
// and dev and suid, which mount.fuse3 adds unless nodev and nosuid are
// given. pafs mounts nodev,nosuid always: its files come from a web API.
var ignoredOptions = map[string]bool{
	"defaults": true, "auto": true, "noauto": true, "user": true, "users": true, "nouser": true,
	"nofail": true, "_netdev": true, "dev": true, "suid": true, "async": true,
	"atime": true, "noatime": true, "relatime": true, "strictatime": true, "nodiratime": true, "diratime": true,
}

// checkAPIURL checks --api-url and returns it without a trailing slash, with
// a hint for the usual slips (a missing scheme).
func checkAPIURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		// 127.0.0.1:8080 and localhost:8080 parse as no host at all.
		host := strings.TrimPrefix(raw, "//")
		return "", fmt.Errorf("--api-url %q is not an API address: give its scheme, https://%s (or http://%s for an emulator on this machine)", raw, host, host)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("--api-url %q: the scheme must be https (or http for an emulator on this machine)", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--api-url %q: give only scheme://host[:port]", raw)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "", fmt.Errorf("refusing plain http:// to %s: the API token would travel unencrypted; use https:// (http:// is only for loopback hosts: 127.0.0.1, ::1, localhost)", u.Host)
	}
	return strings.TrimRight(raw, "/"), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseSize reads sizes like 512M, 5G, 100k, 1048576.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for suffix, m := range map[string]int64{"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40} {
		if strings.HasSuffix(s, suffix) || strings.HasSuffix(s, suffix+"B") || strings.HasSuffix(s, suffix+"IB") {
			s = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(s, "IB"), "B"), suffix)
			mult = m
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	return int64(n * float64(mult)), nil
}
