package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/remote/emulator"
)

// The randomized model test. A seeded generator produces a sequence of file
// operations (create, write, append, truncate, rename, delete, mkdir, rmdir,
// read, list, stat, fsync) over a small set of names, so that operations
// collide: files become directories, renames land on existing names, rmdir
// meets non-empty directories. Some names are editors' temp names (x~,
// .y.swp), which pafs uploads later than others but must never drop, and
// some steps change the server behind the mount's back (a file written
// there, as the web editor or a task would), after which the mount must show
// the change and later operations (an rmdir of that directory, say) must
// respect it. Each operation runs through the mount and then
// on a local reference directory; the results (success or errno, and what a
// read or a listing returned) must be the same, except for the differences
// pafs documents (allowedDifference). Meanwhile the emulator answers ~10% of
// requests with 500/503, drops ~5% of connections, truncates ~3% of JSON
// answers, sends some bodies slowly, adds latency spikes, and every so often
// answers everything with 429 for a while (a throttle storm). At the end,
// once the upload queue has drained, the server must hold exactly the
// reference tree, byte for byte, and the mount must show it.
//
// CI runs two seeds of modelDefaultOps operations each. Longer runs:
//
//	PAFS_RELIABILITY_OPS=5000 go test ./internal/e2e -run TestReliabilityModel -v
//	PAFS_SEED=1234 go test ./internal/e2e -run TestReliabilityModel -v   # one seed
//
// The operation sequence and the emulator's fault draws are functions of the
// seed; which request meets which fault also depends on timing (uploads run
// in parallel), so a failing seed reproduces the same operations and the same
// fault rates, not necessarily the same interleaving.
func TestReliabilityModel(t *testing.T) {
	ops := envInt(t, "PAFS_RELIABILITY_OPS", modelDefaultOps)
	seeds := []uint64{1, 2}
	if s := os.Getenv("PAFS_SEED"); s != "" {
		seeds = []uint64{uint64(envInt(t, "PAFS_SEED", 1))}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			runModel(t, seed, ops)
		})
	}
}

const modelDefaultOps = 200

// modelFaults are the faults injected during the model test.
func modelFaults(seed uint64) emulator.Faults {
	return emulator.Faults{
		Seed:          int64(seed),
		ErrorRate:     0.10,
		DropRate:      0.05,
		MalformedRate: 0.03,
		SlowBodyRate:  0.03,
		SlowBodyDelay: 5 * time.Millisecond,
		SpikeRate:     0.05,
		Spike:         150 * time.Millisecond,
	}
}

func runModel(t *testing.T, seed uint64, n int) {
	r := startRig(t, rigOptions{
		Emulator: emulator.Config{Latency: 2 * time.Millisecond},
		Args: []string{
			"--write-back", "40ms",
			// Short listing and content lifetimes: listings are fetched
			// again while uploads are under way, which is where the overlay
			// must keep local changes from vanishing.
			"--dir-cache-time", "400ms", "--cache-ttl", "400ms",
			// Enough retries that a request meeting 9 faults in a row (about
			// 1e-7 at these rates) never happens: the model then allows no EIO.
			"--retries", "8",
			// Temp-named files go up a little after the others, so the
			// queue holds both kinds at once.
			"--temp-delay", "150ms",
		},
	})
	t.Logf("seed %d, %d operations (reproduce: PAFS_SEED=%d PAFS_RELIABILITY_OPS=%d go test ./internal/e2e -run 'TestReliabilityModel' -v)",
		seed, n, seed, n)
	mnt := filepath.Join(r.Home, "model")
	ref := filepath.Join(t.TempDir(), "model")
	for _, d := range []string{mnt, ref} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Start from a few directories, so that paths of every depth exist.
	for _, d := range []string{"a", "b", "a/b", "b/a"} {
		for _, root := range []string{mnt, ref} {
			if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.WaitIdle()

	gen := newOpGen(seed)
	m := &modelRun{t: t, mnt: mnt, ref: ref, log: r.Log}
	m.server = func(rel string, data []byte) {
		// Between steps: nothing of the mount's is in flight, so what
		// follows is a change made elsewhere, not a conflict with one.
		r.waitIdle(t, 60*time.Second)
		r.emu.WriteFile(r.remotePath("model/"+rel), data)
	}
	faults := modelFaults(seed)
	r.emu.SetFaults(faults)
	storms := 0
	for i := 0; i < n; i++ {
		if i%50 == 25 {
			// A throttle storm: every request answered 429 for 300 ms,
			// whatever the test is doing meanwhile.
			storm := faults
			storm.Seed, storm.ThrottleStorm = int64(seed)+int64(i), true
			r.emu.SetFaults(storm)
			calm := faults
			calm.Seed = int64(seed) + int64(i) + 1
			time.AfterFunc(300*time.Millisecond, func() { r.emu.SetFaults(calm) })
			storms++
		}
		m.step(i, gen.next())
		if t.Failed() {
			m.dumpTrace()
			t.FailNow()
		}
	}
	time.Sleep(350 * time.Millisecond) // the last storm is over
	r.emu.SetFaults(emulator.Faults{})

	r.waitIdle(t, 60*time.Second)
	want, err := localTree(ref)
	if err != nil {
		t.Fatal(err)
	}
	server := emuTree(r.emu, r.remotePath("model"))
	if d := server.diff(want); d != "" {
		m.dumpTrace()
		t.Fatalf("seed %d: after the queue drained, the server differs from the reference:\n%s", seed, d)
	}
	view, err := localTree(mnt)
	if err != nil {
		t.Fatal(err)
	}
	if d := view.diff(want); d != "" {
		m.dumpTrace()
		t.Fatalf("seed %d: the mount shows something else than the reference:\n%s", seed, d)
	}
	stats := r.emu.Stats()
	q := r.Status().Queue
	t.Logf("seed %d: %d operations (%d allowed differences, %d server-side writes), %d requests, %d faults injected %v, %d storms (%d 429s), "+
		"%d uploads/deletes done with %d failed attempts; compared %d bytes in reads and %d bytes (%d files, %d dirs) at the end",
		seed, n, m.allowed, m.serverWrites, stats.Total, stats.Faults, stats.FaultKinds, storms, stats.Total429,
		q.Done, q.Failures, m.readBytes, want.bytes(), len(want.files), len(want.dirs))
}

// modelRun runs operations on the mount and the reference and compares.
type modelRun struct {
	t         *testing.T
	mnt, ref  string
	trace     []string
	allowed   int
	readBytes int64
	log       func() string           // the mount's log
	extra     func(rel string) string // more to say about a path on failure
	// server, if set, writes a file on the server behind the mount's back.
	server       func(rel string, data []byte)
	serverWrites int
}

func (m *modelRun) step(i int, o fsOp) {
	if o.kind == opServerWrite {
		m.serverWrite(i, o)
		return
	}
	got := o.apply(m.mnt)
	var want opResult
	if d := allowedDifference(o, got, m.ref); d != "" {
		m.allowed++
		m.trace = append(m.trace, fmt.Sprintf("%4d %-40s mount %-12s (allowed: %s)", i, o, got, d))
		return
	}
	want = o.apply(m.ref)
	m.trace = append(m.trace, fmt.Sprintf("%4d %-40s mount %-12s ref %s", i, o, got, want))
	if got.errno != want.errno {
		m.t.Errorf("op %d %s: mount answered %s, the reference %s", i, o, got, want)
		return
	}
	if !bytes.Equal(got.data, want.data) {
		m.t.Errorf("op %d %s: mount returned %d bytes %s, the reference %d bytes %s (%q vs %q)",
			i, o, len(got.data), digest(got.data), len(want.data), digest(want.data), head(got.data), head(want.data))
		return
	}
	m.readBytes += int64(len(got.data))
}

// serverWrite changes the server behind the mount's back, then waits (with
// a deadline: listings and contents expire after the lifetimes the test
// sets) until the mount shows the change, and applies it to the reference.
// A write the API could not make (over a directory, below a file) is skipped.
func (m *modelRun) serverWrite(i int, o fsOp) {
	if m.server == nil || !serverCanWrite(m.ref, o.path) {
		m.trace = append(m.trace, fmt.Sprintf("%4d %-40s skipped", i, o))
		return
	}
	m.server(o.path, o.data)
	p := filepath.Join(m.mnt, filepath.FromSlash(o.path))
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Equal(b, o.data) {
			break
		}
		if time.Now().After(deadline) {
			m.t.Errorf("op %d %s: the mount never showed the server's change (read: %d bytes %s, %v)", i, o, len(b), digest(b), err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	rp := filepath.Join(m.ref, filepath.FromSlash(o.path))
	if err := os.MkdirAll(filepath.Dir(rp), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(rp, o.data, 0o644); err != nil {
		m.t.Fatal(err)
	}
	m.serverWrites++
	m.trace = append(m.trace, fmt.Sprintf("%4d %-40s seen by the mount", i, o))
}

// serverCanWrite reports whether the API could upload a file at rel below
// root: not over a directory, and with no file where a parent would be.
func serverCanWrite(root, rel string) bool {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if st, err := os.Lstat(p); err == nil && st.IsDir() {
		return false
	}
	for d := filepath.Dir(p); d != root && len(d) > len(root); d = filepath.Dir(d) {
		if st, err := os.Lstat(d); err == nil && !st.IsDir() {
			return false
		}
	}
	return true
}

func (m *modelRun) dumpTrace() {
	from := max(0, len(m.trace)-60)
	if os.Getenv("PAFS_TRACE_ALL") != "" {
		from = 0
	}
	m.t.Logf("last operations:\n%s", strings.Join(m.trace[from:], "\n"))
	if m.log != nil {
		lines := strings.Split(m.log(), "\n")
		m.t.Logf("end of the pafs log:\n%s", strings.Join(lines[max(0, len(lines)-80):], "\n"))
	}
}

// allowedDifference reports (with the reason) when the mount's answer to o
// legitimately differs from what a local file system would do. In that case
// the operation is not applied to the reference.
//
//   - Renaming a directory answers EXDEV: the API has no rename, and mv falls
//     back to copy and delete (docs/semantics.md, "Rename"). The kernel's
//     own checks still come first (ENOENT, ENOTDIR, EINVAL for a move into
//     itself), so those still have to match.
func allowedDifference(o fsOp, got opResult, ref string) string {
	if o.kind == opRename && got.errno == syscall.EXDEV {
		if st, err := os.Lstat(filepath.Join(ref, o.path)); err == nil && st.IsDir() {
			return "directory rename is EXDEV"
		}
	}
	return ""
}

type opKind int

const (
	opCreate      opKind = iota // open(O_CREAT|O_TRUNC), write, close
	opCreateSync                // the same with fsync before close
	opWrite                     // open(O_WRONLY), pwrite at off, close
	opAppend                    // open(O_WRONLY|O_APPEND[|O_CREAT]), write, close
	opTruncate                  // truncate(path, off)
	opRename                    // rename(path, to)
	opUnlink                    // unlink(path)
	opMkdir                     // mkdir(path)
	opRmdir                     // rmdir(path)
	opRead                      // read the whole file
	opList                      // readdir
	opStat                      // stat: the type
	opServerWrite               // a file written on the server behind the mount's back
)

var opNames = [...]string{"create", "create+fsync", "write", "append", "truncate", "rename", "unlink", "mkdir", "rmdir", "read", "list", "stat", "server write"}

// fsOp is one generated operation; paths are relative to the test root.
type fsOp struct {
	kind   opKind
	path   string
	to     string
	off    int64
	data   []byte
	create bool
}

func (o fsOp) String() string {
	s := opNames[o.kind] + " " + o.path
	switch o.kind {
	case opRename:
		s += " → " + o.to
	case opTruncate:
		s += fmt.Sprintf(" to %d", o.off)
	case opWrite:
		s += fmt.Sprintf(" %dB@%d", len(o.data), o.off)
	case opCreate, opCreateSync, opAppend, opServerWrite:
		s += fmt.Sprintf(" %dB", len(o.data))
		if o.create {
			s += " (O_CREAT)"
		}
	}
	return s
}

// opResult is what an operation returned: its errno (0 for success), the
// call that failed, and what a read, listing or stat produced.
type opResult struct {
	errno syscall.Errno
	step  string
	data  []byte
}

func (r opResult) String() string {
	if r.errno == 0 {
		return "ok"
	}
	return r.step + ":" + errnoName(r.errno)
}

func errnoName(e syscall.Errno) string {
	names := map[syscall.Errno]string{
		syscall.ENOENT: "ENOENT", syscall.EEXIST: "EEXIST", syscall.ENOTDIR: "ENOTDIR",
		syscall.EISDIR: "EISDIR", syscall.ENOTEMPTY: "ENOTEMPTY", syscall.EXDEV: "EXDEV",
		syscall.EINVAL: "EINVAL", syscall.EIO: "EIO", syscall.EACCES: "EACCES",
		syscall.ENAMETOOLONG: "ENAMETOOLONG", syscall.EINTR: "EINTR", syscall.ENOTCONN: "ENOTCONN",
		syscall.ECONNABORTED: "ECONNABORTED", syscall.EBUSY: "EBUSY",
	}
	if n, ok := names[e]; ok {
		return n
	}
	return fmt.Sprintf("errno(%d)", int(e))
}

func fail(step string, err error) opResult { return opResult{errno: errnoOf(err), step: step} }

// apply runs o below root.
func (o fsOp) apply(root string) opResult {
	p := filepath.Join(root, filepath.FromSlash(o.path))
	switch o.kind {
	case opCreate, opCreateSync:
		return writeFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, -1, o.data, o.kind == opCreateSync)
	case opWrite:
		return writeFile(p, os.O_WRONLY, o.off, o.data, false)
	case opAppend:
		flags := os.O_WRONLY | os.O_APPEND
		if o.create {
			flags |= os.O_CREATE
		}
		return writeFile(p, flags, -1, o.data, false)
	case opTruncate:
		if err := os.Truncate(p, o.off); err != nil {
			return fail("truncate", err)
		}
	case opRename:
		if err := os.Rename(p, filepath.Join(root, filepath.FromSlash(o.to))); err != nil {
			return fail("rename", err)
		}
	case opUnlink:
		if err := noEINTR(func() error { return syscall.Unlink(p) }); err != nil {
			return fail("unlink", err)
		}
	case opMkdir:
		if err := os.Mkdir(p, 0o755); err != nil {
			return fail("mkdir", err)
		}
	case opRmdir:
		if err := noEINTR(func() error { return syscall.Rmdir(p) }); err != nil {
			return fail("rmdir", err)
		}
	case opRead:
		b, err := os.ReadFile(p)
		if err != nil {
			return fail("read", err)
		}
		return opResult{data: b}
	case opList:
		ents, err := os.ReadDir(p)
		if err != nil {
			return fail("readdir", err)
		}
		var names []string
		for _, e := range ents {
			n := e.Name()
			if e.IsDir() {
				n += "/"
			}
			names = append(names, n)
		}
		sort.Strings(names)
		return opResult{data: []byte(strings.Join(names, " "))}
	case opStat:
		st, err := os.Stat(p)
		if err != nil {
			return fail("stat", err)
		}
		if st.IsDir() {
			return opResult{data: []byte("dir")}
		}
		return opResult{data: []byte("file")}
	}
	return opResult{}
}

func writeFile(p string, flags int, off int64, data []byte, sync bool) opResult {
	f, err := os.OpenFile(p, flags, 0o644)
	if err != nil {
		return fail("open", err)
	}
	if off >= 0 {
		_, err = f.WriteAt(data, off)
	} else {
		_, err = f.Write(data)
	}
	if err != nil {
		f.Close()
		return fail("write", err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fail("fsync", err)
		}
	}
	if err := f.Close(); err != nil {
		return fail("close", err)
	}
	return opResult{}
}

// opGen generates operations over a small name space: parents "", a, b, a/b,
// b/a and names x, y, z, x~, .y.swp (mostly files; the last two are editors'
// temp names) and a, b (mostly directories), so that files and directories
// collide, and renames go to and from temp names.
type opGen struct {
	rng     *rand.Rand
	n       int
	maxSize int // if > 0, data sizes are capped at this
}

func newOpGen(seed uint64) *opGen {
	return &opGen{rng: rand.New(rand.NewPCG(seed, 0x5eed))}
}

var (
	genParents   = []string{"", "a", "b", "a/b", "b/a"}
	genFileNames = []string{"x", "y", "z", "x~", ".y.swp"}
	genDirNames  = []string{"a", "b"}
)

// path draws a path; dirLike makes a directory name likely, else a file name.
func (g *opGen) path(dirLike bool) string {
	parent := genParents[g.rng.IntN(len(genParents))]
	names := genFileNames
	if dirLike != (g.rng.IntN(6) == 0) {
		names = genDirNames
	}
	name := names[g.rng.IntN(len(names))]
	if parent == "" {
		return name
	}
	return parent + "/" + name
}

// size draws a data size: mostly small, sometimes up to 1 MiB.
func (g *opGen) size() int {
	switch x := g.rng.IntN(100); {
	case x < 10:
		return 0
	case x < 50:
		return 1 + g.rng.IntN(200)
	case x < 85:
		return 200 + g.rng.IntN(8<<10)
	case x < 97:
		return 8<<10 + g.rng.IntN(120<<10)
	default:
		return 128<<10 + g.rng.IntN(900<<10)
	}
}

func (g *opGen) data() []byte {
	g.n++
	size := g.size()
	if g.maxSize > 0 {
		size = min(size, g.maxSize)
	}
	b := make([]byte, size)
	// Text with the op number, so that a wrong file is recognisable.
	tag := fmt.Sprintf("<op %d>", g.n)
	for i := range b {
		if i%64 < len(tag) {
			b[i] = tag[i%64]
		} else {
			b[i] = byte('a' + g.rng.IntN(26))
		}
	}
	return b
}

// next draws an operation; it never looks at the file system, so the
// sequence is a function of the seed alone.
func (g *opGen) next() fsOp {
	weights := []struct {
		k opKind
		w int
	}{
		{opCreate, 18}, {opCreateSync, 2}, {opWrite, 8}, {opAppend, 8}, {opTruncate, 6},
		{opRename, 12}, {opUnlink, 9}, {opMkdir, 11}, {opRmdir, 7}, {opRead, 12}, {opList, 5}, {opStat, 2},
		{opServerWrite, 3},
	}
	total := 0
	for _, w := range weights {
		total += w.w
	}
	x := g.rng.IntN(total)
	var k opKind
	for _, w := range weights {
		if x < w.w {
			k = w.k
			break
		}
		x -= w.w
	}
	o := fsOp{kind: k, path: g.path(k == opMkdir || k == opRmdir || k == opList)}
	switch k {
	case opCreate, opCreateSync, opServerWrite:
		o.data = g.data()
	case opWrite:
		o.data = g.data()
		o.off = int64(g.rng.IntN(4 << 10))
	case opAppend:
		o.data = g.data()
		o.create = g.rng.IntN(2) == 0
	case opTruncate:
		o.off = int64(g.rng.IntN(16 << 10))
	case opRename:
		o.to = g.path(false)
	case opList:
		if g.rng.IntN(3) == 0 {
			o.path = genParents[g.rng.IntN(len(genParents))]
		}
	}
	return o
}
