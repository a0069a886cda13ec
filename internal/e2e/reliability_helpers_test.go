package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// rig is a test mount whose API requests go to an emulator of the test's own
// (emu, also Env.Emu), optionally through an HTTP wrapper (to forge answers)
// and a TCP proxy (to take the server away): the test decides what sits
// between pafs and the emulator (mounttest.Options.APIURL).
type rig struct {
	*mounttest.Env
	emu   *emulator.Emulator
	api   *httptest.Server // serves emu (through wrap)
	proxy *tcpProxy        // nil unless rigOptions.Proxy
	url   string           // what pafs talks to
}

type rigOptions struct {
	Emulator emulator.Config                 // Token and Username are filled in
	Wrap     func(http.Handler) http.Handler // optional: sits in front of the emulator
	Proxy    bool                            // put a switchable TCP proxy in front
	Args     []string                        // pafs mount flags
	Env      []string                        // extra environment for pafs
	Parallel bool                            // call t.Parallel first
	Start    func(*rig)                      // optional: runs before the mount starts
}

func startRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	if o.Parallel {
		t.Parallel()
	}
	mounttest.RequireFUSE(t)
	cfg := o.Emulator
	if cfg.Token == "" {
		cfg.Token = emulator.NewToken()
	}
	if cfg.Username == "" {
		cfg.Username = "alice"
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = -1
	}
	r := &rig{emu: emulator.New(cfg)}
	var h http.Handler = r.emu
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	r.api = httptest.NewServer(h)
	t.Cleanup(r.api.Close)
	r.url = r.api.URL
	if o.Proxy {
		r.proxy = newTCPProxy(t, r.api.Listener.Addr().String())
		r.url = "http://" + r.proxy.addr
	}
	if o.Start != nil {
		o.Start(r)
	}
	r.Env = mounttest.Start(t, mounttest.Options{
		// The token, user and rate limit set pafs's environment and
		// --rate-limit; pafs talks to r.url.
		Emulator: emulator.Config{Token: cfg.Token, Username: cfg.Username, RateLimit: cfg.RateLimit, RateWindow: cfg.RateWindow},
		Emu:      r.emu,
		APIURL:   r.url,
		Args:     o.Args,
		Env:      o.Env,
	})
	// Cleanups run last-in first-out: this one runs before the mount is
	// stopped, so that its final upload is not held up by a test's faults.
	t.Cleanup(func() {
		r.emu.SetFaults(emulator.Faults{})
		if r.proxy != nil {
			r.proxy.set(proxyPass)
		}
	})
	return r
}

// remotePath is the emulator path of a path relative to the home directory.
func (r *rig) remotePath(rel string) string { return "/home/" + r.User + "/" + rel }

// tcpProxy forwards TCP connections to target. It can be switched to refuse
// connections (the listener is closed, every open connection reset: a server
// that went down), to a blackhole (connections are accepted and open ones
// kept, but no byte moves either way: a network that went away), and back.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	mode  proxyMode
	ln    net.Listener
	conns map[net.Conn]bool
	cond  *sync.Cond // broadcast at every switch
}

type proxyMode int

const (
	proxyPass proxyMode = iota
	proxyRefuse
	proxyBlackhole
)

func (m proxyMode) String() string {
	return [...]string{"pass", "refuse", "blackhole"}[m]
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, target: target, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	go p.accept(ln)
	t.Cleanup(func() { p.set(proxyRefuse) })
	return p
}

func (p *tcpProxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns[c] = true
		mode := p.mode
		p.mu.Unlock()
		go p.serve(c, mode)
	}
}

func (p *tcpProxy) serve(c net.Conn, mode proxyMode) {
	defer p.drop(c)
	if mode == proxyBlackhole {
		// Hold it open without a byte moving until the proxy is switched;
		// then drop it (the client sees a reset, as after a real outage).
		p.waitSwitch(mode)
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.conns[up] = true
	p.mu.Unlock()
	defer p.drop(up)
	done := make(chan struct{}, 2)
	go func() { p.pump(up, c); done <- struct{}{} }()
	go func() { p.pump(c, up); done <- struct{}{} }()
	<-done
}

// pump copies src to dst, stalling (not closing) while the proxy is a blackhole.
func (p *tcpProxy) pump(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.mode == proxyBlackhole {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if tc, ok := dst.(*net.TCPConn); ok && errors.Is(err, io.EOF) {
				tc.CloseWrite()
				continue
			}
			return
		}
	}
}

func (p *tcpProxy) waitSwitch(mode proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.mode == mode {
		p.cond.Wait()
	}
}

func (p *tcpProxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// set switches the proxy's mode.
func (p *tcpProxy) set(mode proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == mode {
		return
	}
	prev := p.mode
	p.mode = mode
	p.cond.Broadcast()
	switch {
	case mode == proxyRefuse:
		if p.ln != nil {
			p.ln.Close()
			p.ln = nil
		}
		for c := range p.conns {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST, not FIN
			}
			c.Close()
		}
	case prev == proxyRefuse:
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			p.t.Errorf("proxy: listen again on %s: %v", p.addr, err)
			return
		}
		p.ln = ln
		go p.accept(ln)
	}
}

// tree is a snapshot of a directory tree: files (with content) and
// directories, by slash-separated path relative to its root.
type tree struct {
	files map[string][]byte
	dirs  map[string]bool
}

// localTree reads a local directory tree (the reference, or the mount).
func localTree(root string) (tree, error) {
	tr := tree{files: map[string][]byte{}, dirs: map[string]bool{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			tr.dirs[rel] = true
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		tr.files[rel] = b
		return nil
	})
	return tr, err
}

// emuTree reads the emulator's tree below root (an absolute remote path).
func emuTree(e *emulator.Emulator, root string) tree {
	tr := tree{files: map[string][]byte{}, dirs: map[string]bool{}}
	for p, b := range e.Files(root) {
		tr.files[strings.TrimPrefix(p, root+"/")] = b
	}
	for _, d := range e.Dirs(root) {
		tr.dirs[strings.TrimPrefix(d, root+"/")] = true
	}
	return tr
}

// bytes is the total size of the tree's files.
func (tr tree) bytes() int64 {
	var n int64
	for _, b := range tr.files {
		n += int64(len(b))
	}
	return n
}

// diff describes how got differs from want ("" if equal).
func (tr tree) diff(want tree) string {
	var out []string
	for _, p := range sortedKeys(want.files) {
		g, ok := tr.files[p]
		switch {
		case !ok && tr.dirs[p]:
			out = append(out, fmt.Sprintf("%s: a directory, want a file of %d bytes", p, len(want.files[p])))
		case !ok:
			out = append(out, fmt.Sprintf("%s: missing, want a file of %d bytes", p, len(want.files[p])))
		case !bytes.Equal(g, want.files[p]):
			w := want.files[p]
			at := 0
			for at < min(len(g), len(w)) && g[at] == w[at] {
				at++
			}
			out = append(out, fmt.Sprintf("%s: %d bytes %s, want %d bytes %s (first difference at byte %d: %q vs %q)",
				p, len(g), digest(g), len(w), digest(w), at, head(g[at:]), head(w[at:])))
		}
	}
	for _, p := range sortedKeys(tr.files) {
		if _, ok := want.files[p]; !ok && !want.dirs[p] {
			out = append(out, fmt.Sprintf("%s: a file of %d bytes that should not exist", p, len(tr.files[p])))
		}
	}
	for _, p := range sortedKeys(want.dirs) {
		if !tr.dirs[p] && tr.files[p] == nil {
			out = append(out, fmt.Sprintf("%s/: directory missing", p))
		}
	}
	for _, p := range sortedKeys(tr.dirs) {
		if !want.dirs[p] {
			out = append(out, fmt.Sprintf("%s/: a directory that should not exist", p))
		}
	}
	return strings.Join(out, "\n")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// digest shows a short, comparable view of some bytes.
func digest(b []byte) string {
	var h uint32 = 2166136261
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return fmt.Sprintf("fnv:%08x", h)
}

// errnoOf extracts the errno of an error from the os package (0 for nil).
func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	return syscall.Errno(0xffff) // not a system error: shows up as a mismatch
}

// noEINTR repeats a raw system call interrupted by a signal (Go's runtime
// sends them; the os package hides them, raw syscalls do not).
func noEINTR(fn func() error) error {
	for {
		if err := fn(); err != syscall.EINTR {
			return err
		}
	}
}

// envInt reads a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// timed runs fn and returns how long it took.
func timed(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}

// waitIdle waits for the upload queue to drain, and on failure shows the
// queue as .pafs/status has it.
func (r *rig) waitIdle(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		q := r.Status().Queue
		if q.Pending == 0 && q.InFlight == 0 {
			return
		}
		if time.Now().After(deadline) {
			st, _ := os.ReadFile(filepath.Join(r.Dir, ".pafs", "status"))
			t.Fatalf("the upload queue did not drain within %s:\n%s\npafs log:\n%s", d, st, r.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
