package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Config is one benchmark run.
type Config struct {
	// Pafs is the pafs binary the mount runs as a child process (the
	// command passes os.Executable(); tests build one).
	Pafs string
	// Scale shrinks the API's one-minute rate window: Scale 20 gives 40
	// requests per 3 s. Latency is not scaled.
	Scale   float64
	Limit   int           // requests per window per endpoint family (40)
	Latency time.Duration // added by the emulator to every request (100 ms)
	// TTL is the mount's --dir-cache-time. It is long by default so that the
	// second grep is inside it, as the workload asks, although the first
	// grep takes many windows.
	TTL time.Duration
	// WriteBack is the mount's --write-back; 0 means pafs's default (2 s)
	// divided by Scale, like the window.
	WriteBack time.Duration
	// Only selects workloads ("1", "4") or phases ("4b"); empty runs all.
	Only []string
	// Quick runs lighter workloads (fewer saves, smaller grep tree and
	// stream, no nano) for the package's test.
	Quick bool
	// NoNaive skips the naive client's runs.
	NoNaive bool
	// WorkDir is where the temporary directories go ("" → os.TempDir()).
	WorkDir string
	// Keep leaves the temporary directories behind, for inspection.
	Keep bool
	// MountLog, if set, is where the mount logs every request (pafs mount
	// -v --log-file): which requests a phase made, and how long each took.
	MountLog string
	// Sizes is the mount's --sizes ("" is pafs's default, exact).
	Sizes string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

const (
	realWindow       = time.Minute
	defaultWriteBack = 2 * time.Second
	user             = "bench"
	home             = "/home/" + user
)

// withDefaults fills in the zero fields.
func (c Config) withDefaults() Config {
	if c.Scale <= 0 {
		c.Scale = 20
	}
	if c.Limit == 0 {
		c.Limit = 40
	}
	if c.Latency < 0 {
		c.Latency = 0
	}
	if c.TTL <= 0 {
		c.TTL = 10 * time.Minute
	}
	if c.WriteBack <= 0 {
		c.WriteBack = time.Duration(float64(defaultWriteBack) / c.Scale)
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// lazySizes reports a mount that shows unread files as empty.
func (c Config) lazySizes() bool { return c.Sizes == "lazy" }

// Window is the scaled rate-limit window.
func (c Config) Window() time.Duration {
	return time.Duration(float64(realWindow) / c.Scale).Round(time.Millisecond)
}

// ScaleText says what the scale means, e.g. "40 requests per 3s (20× faster
// than the real 60s)".
func (c Config) ScaleText() string {
	return fmt.Sprintf("%d requests per %gs per endpoint family (%g× faster than the real %gs)",
		c.Limit, c.Window().Seconds(), c.Scale, realWindow.Seconds())
}

// selected reports whether the phase id ("4b", workload "4") is to run.
func (c Config) selected(workload, id string) bool {
	if len(c.Only) == 0 {
		return true
	}
	for _, o := range c.Only {
		o = strings.TrimSpace(o)
		if o == workload || o == id {
			return true
		}
	}
	return false
}

// sizes are the workloads' dimensions.
type sizes struct {
	treeDirs, treeFiles int // workload 1 (and 2 unless quick)
	grepDirs, grepFiles int
	project, changed    int
	saves               int
	editors             []string
	gitFiles            int
	tarFiles            int
	stream              int64
}

func (c Config) sizes() sizes {
	s := sizes{treeDirs: 30, treeFiles: 300, grepDirs: 30, grepFiles: 300, project: 50, changed: 5,
		saves: 10, editors: []string{"vim", "nano", "sed"}, gitFiles: 30, tarFiles: 200, stream: 1 << 30}
	if c.Quick {
		s.grepDirs, s.grepFiles = 6, 60
		s.saves = 3
		s.editors = []string{"vim", "sed"}
		s.stream = 64 << 20
	}
	return s
}
