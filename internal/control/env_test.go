package control_test

// The control folders driven the way fs/ drives them (Dir, File, Handle),
// against the emulator over real HTTP, without FUSE. errnos are what fs.Errno
// makes of the errors: what a program would see through the mount.

import (
	"context"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/fs"
	"github.com/pafs/pafs/internal/control"
	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/internal/status"
	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

const (
	user      = "alice"
	testToken = "0123456789abcdef0123456789abcdef01234567"
	appA      = "alice.pythonanywhere.com"
	appB      = "www.example.com"
	pid       = 4242 // the process the tests' requests come from
)

type env struct {
	t      *testing.T
	emu    *emulator.Emulator
	client *remote.Client
	ctl    *control.Control
	errs   *status.Errors
	ctx    context.Context
	// nodes are the nodes looked up so far by path, kept as long as they
	// show the same thing, as the kernel keeps inodes (fs.childInode):
	// folders keep their editors' files, files their open handles.
	nodes   map[string]control.Node
	nodesOf *control.Control
}

// start serves an empty account (no rate limit) and a Control for it;
// mods change its configuration.
func start(t *testing.T, mods ...func(*control.Config)) *env {
	t.Helper()
	return startWith(t, emulator.Config{}, nil, mods...)
}

// startWith is start with the emulator's configuration ecfg (its account,
// token and rate limit are start's) and the client's changed by cmod.
func startWith(t *testing.T, ecfg emulator.Config, cmod func(*remote.Config), mods ...func(*control.Config)) *env {
	t.Helper()
	ecfg.Username, ecfg.Token, ecfg.RateLimit = user, testToken, -1
	emu := emulator.New(ecfg)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	ccfg := remote.Config{BaseURL: srv.URL, Username: user, Token: testToken,
		RateLimit: -1, RetryBase: time.Millisecond, MaxRetries: 2}
	if cmod != nil {
		cmod(&ccfg)
	}
	client, err := remote.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	errs := status.NewErrors(50)
	cfg := control.Config{Client: client, Errors: errs, TTL: time.Hour, WebHost: "https://example.test"}
	for _, m := range mods {
		m(&cfg)
	}
	return &env{t: t, emu: emu, client: client, ctl: control.New(cfg), errs: errs, ctx: context.Background()}
}

// newControl is a fresh Control over e's account (empty caches): what a
// new mount sees.
func newControl(e *env) *control.Control {
	return control.New(control.Config{Client: e.client, Errors: e.errs, TTL: time.Hour})
}

// addApp adds a web app with its code in /home/alice/SRC.
func (e *env) addApp(domain, src string) {
	e.emu.AddWebapp(emulator.Webapp{DomainName: domain, PythonVersion: "3.10",
		SourceDirectory: "/home/alice/" + src, WorkingDirectory: "/home/alice/", Enabled: true}, "")
}

// lookup walks path ("webapps/D/python_version") from the top folders.
func (e *env) lookup(path string) (control.Node, error) {
	if e.nodesOf != e.ctl {
		e.nodes, e.nodesOf = map[string]control.Node{}, e.ctl
		for _, d := range e.ctl.Folders() {
			e.nodes[d.Path()] = d
		}
	}
	segs := strings.Split(path, "/")
	n := e.nodes[segs[0]]
	if n == nil {
		return nil, syscall.ENOENT
	}
	for i, s := range segs[1:] {
		d, ok := n.(*control.Dir)
		if !ok {
			return nil, syscall.ENOTDIR
		}
		ent, err := d.Lookup(e.ctx, s)
		if err != nil {
			return nil, err
		}
		p := strings.Join(segs[:i+2], "/")
		if n = e.nodes[p]; n == nil || n.Key() != ent.Key {
			n = ent.New()
			e.nodes[p] = n
		}
	}
	return n, nil
}

func (e *env) dir(path string) *control.Dir {
	e.t.Helper()
	n, err := e.lookup(path)
	if err != nil {
		e.t.Fatalf("lookup %s: %v", path, err)
	}
	d, ok := n.(*control.Dir)
	if !ok {
		e.t.Fatalf("%s is a %T, not a folder", path, n)
	}
	return d
}

func (e *env) file(path string) *control.File {
	e.t.Helper()
	n, err := e.lookup(path)
	if err != nil {
		e.t.Fatalf("lookup %s: %v", path, err)
	}
	f, ok := n.(*control.File)
	if !ok {
		e.t.Fatalf("%s is a %T, not a file", path, n)
	}
	return f
}

// names lists a folder.
func (e *env) names(path string) []string {
	e.t.Helper()
	ents, err := e.dir(path).List(e.ctx)
	if err != nil {
		e.t.Fatalf("ls %s: %v", path, err)
	}
	var out []string
	for _, ent := range ents {
		out = append(out, ent.Name)
	}
	return out
}

// readAll reads what h holds, as cat does.
func readAll(h interface{ Read([]byte, int64) int }) string {
	var b strings.Builder
	buf := make([]byte, 7) // small, to cross reads
	for off := int64(0); ; {
		n := h.Read(buf, off)
		if n == 0 {
			return b.String()
		}
		b.Write(buf[:n])
		off += int64(n)
	}
}

// read is cat of path.
func (e *env) read(path string) (string, error) {
	n, err := e.lookup(path)
	if err != nil {
		return "", err
	}
	if s, ok := n.(*control.Scratch); ok {
		return readAll(s), nil
	}
	f, ok := n.(*control.File)
	if !ok {
		return "", syscall.EISDIR
	}
	h, err := f.Open(e.ctx, false, pid)
	if err != nil {
		return "", err
	}
	defer h.Release()
	return readAll(h), nil
}

func (e *env) cat(path string) string {
	e.t.Helper()
	s, err := e.read(path)
	if err != nil {
		e.t.Fatalf("cat %s: %v", path, err)
	}
	return s
}

// write is `printf %s content > path` as a shell does it: open, the
// kernel's truncating SETATTR without the handle, a flush (the shell's
// dup2), the write, and close: flush and release. The error is the
// write's, else the close's (which a shell would ignore).
func (e *env) write(path, content string) error {
	f, err := e.fileOrErr(path)
	if err != nil {
		return err
	}
	h, err := f.Open(e.ctx, true, pid)
	if err != nil {
		return err
	}
	defer h.Release()
	zero := uint64(0)
	if err := f.Setattr(e.ctx, nil, pid, control.SetAttr{Size: &zero}); err != nil {
		return err
	}
	if err := h.Flush(e.ctx); err != nil {
		return err
	}
	if content != "" {
		if _, err := h.Write(e.ctx, []byte(content), 0); err != nil {
			return err
		}
	}
	return h.Flush(e.ctx)
}

func (e *env) fileOrErr(path string) (*control.File, error) {
	n, err := e.lookup(path)
	if err != nil {
		return nil, err
	}
	f, ok := n.(*control.File)
	if !ok {
		return nil, syscall.EISDIR
	}
	return f, nil
}

// must fails the test on err.
func (e *env) must(what string, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v (errno %v)", what, err, fs.Errno(err))
	}
}

// wantErrno fails the test unless err maps to want.
func (e *env) wantErrno(what string, err error, want syscall.Errno) {
	e.t.Helper()
	if got := fs.Errno(err); got != want {
		e.t.Errorf("%s: %v (errno %v), want %v", what, err, got, want)
	}
}

// changes counts the requests that change something (not GETs).
func (e *env) changes() map[string]int {
	out := map[string]int{}
	for k, v := range e.emu.Stats().Requests {
		if !strings.HasPrefix(k, "GET ") {
			out[k] = v
		}
	}
	return out
}

// counts are the emulator's request counts.
func (e *env) counts() map[string]int { return e.emu.Stats().Requests }

// delta is what changed between two counts.
var delta = mounttest.Delta

// waitFor polls cond until it holds, failing the test after 10 s.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lastErrors is the status file's last errors, one a line.
func (e *env) lastErrors() string {
	var b strings.Builder
	evs, _ := e.errs.List()
	for _, ev := range evs {
		b.WriteString(ev.Op + " " + ev.Path + ": " + ev.Message + "\n")
	}
	return b.String()
}
