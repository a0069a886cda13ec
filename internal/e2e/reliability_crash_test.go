package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// kill -9 at random points of a burst of writes, renames, deletes and
// directory changes, with uploads in flight (latency and spikes on), several
// rounds; each round remounts on the same cache directory and checks what
// pafs promises (docs/semantics.md, "Uploads: the write-back queue"):
//
//   - every operation that returned before the kill — close, fsync, rename,
//     unlink, mkdir, rmdir, truncate — reaches the server once the next
//     mount's queue drains: the server holds exactly the tree the mount
//     showed when it died, deleted things stay deleted;
//   - data written to a file still open at the kill is uploaded as it stood:
//     every write(2) that returned is there;
//   - the one operation the kill interrupted may have landed or not (as on
//     a local file system that crashes mid-call): the server must hold the
//     state from before it or after it (for a create: also the file
//     truncated but not yet written; for the open file: with or without the
//     interrupted write; for any write, with a page-aligned part of its data:
//     the kernel hands a large write(2) to FUSE in page-sized pieces, and a
//     kill between two of them leaves the first applied, as on a local file
//     system). Nothing else is allowed.
//
// CI runs crashDefaultRounds rounds; PAFS_CRASH_ROUNDS=N runs more, PAFS_SEED
// picks the seed.
func TestReliabilityCrashRounds(t *testing.T) {
	rounds := envInt(t, "PAFS_CRASH_ROUNDS", crashDefaultRounds)
	seed := uint64(envInt(t, "PAFS_SEED", 7))
	r := startRig(t, rigOptions{
		Parallel: true,
		Emulator: emulator.Config{Latency: 15 * time.Millisecond,
			Faults: emulator.Faults{Seed: int64(seed), SpikeRate: 0.2, Spike: 200 * time.Millisecond}},
		Args: []string{"--write-back", "30ms", "--retries", "3", "--temp-delay", "100ms"},
	})
	t.Logf("seed %d, %d rounds (reproduce: PAFS_SEED=%d PAFS_CRASH_ROUNDS=%d go test ./internal/e2e -run TestReliabilityCrashRounds -v)",
		seed, rounds, seed, rounds)
	rng := rand.New(rand.NewPCG(seed, 0xc4a5))
	mnt := filepath.Join(r.Home, "crash")
	ref := filepath.Join(t.TempDir(), "crash")
	for _, root := range []string{mnt, ref} {
		for _, d := range []string{"", "a", "b", "a/b", "b/a", "open"} {
			if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	gen := newOpGen(seed)
	gen.maxSize = 32 << 10 // one write(2) is one FUSE write: a kill cannot split it
	total := struct{ ops, accepted, interrupted, pendingAtKill, bytes int }{}
	journal := ""
	for round := 0; round < rounds; round++ {
		m := &modelRun{t: t, mnt: mnt, ref: ref, log: r.Log}
		m.extra = func(rel string) string {
			p := r.remotePath("crash/" + rel)
			b, isFile := r.emu.ReadFile(p)
			return fmt.Sprintf("  server: %s exists %v, dir %v, file %v (%d bytes)\n  journal at the last kill:\n%s",
				p, r.emu.Exists(p), r.emu.IsDir(p), isFile, len(b), journal)
		}
		// The file held open through the burst, written a chunk at a time.
		openRel := fmt.Sprintf("open/w%d", round)
		w, err := os.Create(filepath.Join(mnt, openRel))
		if err != nil {
			t.Fatal(err)
		}
		var openData []byte
		if err := os.WriteFile(filepath.Join(ref, openRel), nil, 0o644); err != nil {
			t.Fatal(err)
		}

		var killed atomic.Bool
		delay := time.Duration(rng.IntN(1500)) * time.Millisecond
		if round%4 == 3 {
			delay = time.Duration(rng.IntN(40)) * time.Millisecond // right after the remount
		}
		killDone := make(chan struct{})
		pending := 0
		time.AfterFunc(delay, func() {
			if st, err := os.ReadFile(filepath.Join(r.Dir, ".pafs", "status.json")); err == nil {
				pending = strings.Count(string(st), `"kind":`)
			}
			killed.Store(true)
			r.Kill()
			close(killDone)
		})

		// The burst: operations until the kill. before/after are the
		// reference trees around the operation the kill interrupted.
		var interrupted *fsOp
		var before, after tree
		var openVariants [][]byte
		ops := 0
		for i := 0; !killed.Load(); i++ {
			if i%4 == 3 {
				chunk := gen.data()
				_, err := w.Write(chunk)
				if killed.Load() {
					openVariants = [][]byte{bytes.Clone(openData), append(bytes.Clone(openData), chunk...)}
					// Or torn at a page boundary (see tornWrites).
					for end := (len(openData)/4096 + 1) * 4096; end < len(openData)+len(chunk); end += 4096 {
						openVariants = append(openVariants, append(bytes.Clone(openData), chunk[:end-len(openData)]...))
					}
					break
				}
				if err != nil {
					t.Fatalf("round %d: write to the open file: %v", round, err)
				}
				openData = append(openData, chunk...)
				continue
			}
			o := gen.next()
			if o.kind == opRead || o.kind == opList || o.kind == opStat || o.kind == opServerWrite {
				continue // the burst is about this mount's changes
			}
			got := o.apply(mnt)
			if killed.Load() {
				o := o
				interrupted = &o
				before, _ = localTree(ref)
				if allowedDifference(o, opResult{errno: syscall.EXDEV}, ref) == "" {
					o.apply(ref)
				}
				after, _ = localTree(ref)
				break
			}
			m.stepWith(ops, o, got)
			ops++
			if t.Failed() {
				m.dumpTrace()
				t.FailNow()
			}
		}
		<-killDone
		w.Close()
		if openVariants == nil {
			openVariants = [][]byte{openData}
		}
		total.ops += ops
		total.accepted += ops
		total.pendingAtKill += pending
		if interrupted != nil {
			total.interrupted++
		}

		journal = journalDump(r.CacheDir)
		if round%2 == 0 {
			refuseOtherAccount(t, r)
		}
		r.Remount()
		r.waitIdle(t, 60*time.Second)
		server := emuTree(r.emu, r.remotePath("crash"))

		// The acceptable final states.
		var candidates []tree
		if interrupted == nil {
			now, _ := localTree(ref)
			candidates = []tree{now}
		} else {
			candidates = []tree{before, after}
			if k := interrupted.kind; k == opCreate || k == opCreateSync || k == opAppend {
				if _, isFile := after.files[interrupted.path]; isFile {
					mid := cloneTree(before)
					if k != opAppend || mid.files[interrupted.path] == nil {
						mid.files[interrupted.path] = []byte{}
					}
					candidates = append(candidates, mid)
				}
			}
			candidates = append(candidates, tornWrites(before, interrupted)...)
		}
		var match *tree
		var diffs []string
		for _, c := range candidates {
			for _, od := range openVariants {
				c := cloneTree(c)
				c.files[openRel] = od
				d := server.diff(c)
				if d == "" {
					match = &c
					break
				}
				diffs = append(diffs, d)
			}
			if match != nil {
				break
			}
		}
		if match == nil {
			m.dumpTrace()
			what := "no operation was interrupted"
			if interrupted != nil {
				what = "the kill interrupted " + interrupted.String()
			}
			t.Fatalf("round %d (kill after %s, %d ops, %s): after remount and drain the server holds none of the acceptable states:\n%s\njournal at the kill:\n%s",
				round, delay, ops, what, strings.Join(diffs, "\n---\n"), journal)
		}
		// Carry on from what the server has (the interrupted operation
		// decided one way or the other).
		setLocalTree(t, ref, *match)
		view, err := localTree(mnt)
		if err != nil {
			t.Fatal(err)
		}
		if d := view.diff(*match); d != "" {
			t.Fatalf("round %d: after remount the mount shows something else than the server:\n%s", round, d)
		}
		total.bytes += int(match.bytes())
		t.Logf("round %d: killed after %s, %d ops accepted, %d queued ops at the kill, interrupted: %v; server matches (%d files, %d bytes)",
			round, delay, ops, pending, interrupted, len(match.files), match.bytes())
	}
	t.Logf("%d crashes survived: %d operations accepted before a kill, %d interrupted by one, %d queued ops at kill time, %d bytes compared",
		rounds, total.accepted, total.interrupted, total.pendingAtKill, total.bytes)
}

const crashDefaultRounds = 4

// stepWith compares an operation's result on the mount (already run) with
// the reference, and applies it there.
func (m *modelRun) stepWith(i int, o fsOp, got opResult) {
	if d := allowedDifference(o, got, m.ref); d != "" {
		m.allowed++
		m.trace = append(m.trace, fmt.Sprintf("%4d %-40s mount %-12s (allowed: %s)", i, o, got, d))
		return
	}
	want := o.apply(m.ref)
	m.trace = append(m.trace, fmt.Sprintf("%4d %-40s mount %-12s ref %s", i, o, got, want))
	if got.errno != want.errno || !bytes.Equal(got.data, want.data) {
		extra := ""
		if m.extra != nil {
			extra = m.extra(o.path)
		}
		m.t.Errorf("op %d %s: mount answered %s, the reference %s\n%s%s", i, o, got, want, m.describe(o.path), extra)
	}
}

// describe shows what the mount and the reference hold around rel.
func (m *modelRun) describe(rel string) string {
	var b strings.Builder
	for _, root := range []string{m.mnt, m.ref} {
		for d := filepath.Dir(filepath.Join(root, rel)); ; d = filepath.Dir(d) {
			ents, err := os.ReadDir(d)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			fmt.Fprintf(&b, "  %s: %v %v\n", d, names, err)
			if d == root {
				break
			}
		}
	}
	return b.String()
}

func cloneTree(tr tree) tree {
	c := tree{files: map[string][]byte{}, dirs: map[string]bool{}}
	for k, v := range tr.files {
		c.files[k] = v
	}
	for k := range tr.dirs {
		c.dirs[k] = true
	}
	return c
}

// setLocalTree makes the directory root hold exactly tr.
func setLocalTree(t *testing.T, root string, tr tree) {
	t.Helper()
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range sortedKeys(tr.dirs) {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, b := range tr.files {
		if err := os.WriteFile(filepath.Join(root, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A directory deleted (rm -r) just before a crash, whose recursive delete the
// next mount cannot send at once (the server fails it for a while), then a
// file created under the same name: the file must not cancel the directory's
// delete as if it were a file's (the journal does not say which it was), or
// the upload lands on a directory (400, refused for good) and the server
// keeps the old directory and its contents.
func TestCrashRecoveredDirectoryDelete(t *testing.T) {
	var failDeletes atomic.Bool
	r := startRig(t, rigOptions{
		Parallel: true,
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.Method == http.MethodDelete && failDeletes.Load() {
					http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
					return
				}
				h.ServeHTTP(w, req)
			})
		},
		Args: []string{"--write-back", "1h", "--retries", "1"},
	})
	r.emu.WriteFile(r.remotePath("d/old.txt"), []byte("old\n"))
	r.MustSh(r.Home, "rm -r d")
	if r.Status().Queue.Pending == 0 {
		t.Fatal("nothing queued")
	}
	r.Kill()
	failDeletes.Store(true)
	r.Remount()
	r.WaitFor("the recovered delete to fail once", 20*time.Second, func() bool {
		q := r.Status().Queue
		return len(q.Ops) > 0 && q.Ops[0].Tries > 0 && !q.Ops[0].InFlight
	})
	writeLocal(t, filepath.Join(r.Home, "d"), []byte("now a file\n"))
	failDeletes.Store(false)
	r.Stop() // uploads what is queued; fails the test if the server refused some of it
	if got, ok := r.emu.ReadFile(r.remotePath("d")); !ok || string(got) != "now a file\n" {
		t.Fatalf("server: d is a file: %v, holds %q; old.txt still there: %v",
			ok, got, r.emu.Exists(r.remotePath("d/old.txt")))
	}
}

// journalDump lists the upload queue's journal (for failure reports).
func journalDump(cacheDir string) string {
	var b strings.Builder
	ents, _ := os.ReadDir(filepath.Join(cacheDir, "queue"))
	for _, e := range ents {
		if !strings.Contains(e.Name(), ".json") {
			continue // the journal's disk reserve
		}
		data, _ := os.ReadFile(filepath.Join(cacheDir, "queue", e.Name()))
		fmt.Fprintf(&b, "  %s %s\n", e.Name(), data)
	}
	return b.String()
}

// mkdir costs a placeholder upload and its delete. A crash between the two,
// then something uploaded into the directory (which makes the recovered
// mkdir needless, so it does not run again): the placeholder must still go,
// or the web editor shows a stray .pafs-keep for ever. Found by
// TestReliabilityCrashRounds.
func TestCrashBetweenPlaceholderUploadAndDelete(t *testing.T) {
	var stall atomic.Bool
	var stalled atomic.Int32
	release := make(chan struct{})
	r := startRig(t, rigOptions{
		Parallel: true,
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.Method == http.MethodDelete && strings.HasSuffix(req.URL.Path, "/.pafs-keep") && stall.Load() {
					stalled.Add(1)
					<-release // the answer never reaches the process that asked
					http.Error(w, "gone", http.StatusServiceUnavailable)
					return
				}
				h.ServeHTTP(w, req)
			})
		},
		Args: []string{"--write-back", "20ms"},
	})
	stall.Store(true)
	if err := os.Mkdir(filepath.Join(r.Home, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.WaitFor("the placeholder's delete to be under way", 10*time.Second, func() bool { return stalled.Load() > 0 })
	r.Kill()
	stall.Store(false)
	close(release)
	r.Remount()
	writeLocal(t, filepath.Join(r.Home, "d", "x"), []byte("inside\n"))
	r.Stop()
	if got, _ := r.emu.ReadFile(r.remotePath("d/x")); string(got) != "inside\n" {
		t.Errorf("d/x on the server: %q", got)
	}
	if r.emu.Exists(r.remotePath("d/.pafs-keep")) {
		t.Error("the placeholder d/.pafs-keep is left on the server")
	}
}

// tornWrites are the states an interrupted write can leave: its data applied
// up to a page boundary of the file, the rest not.
func tornWrites(before tree, o *fsOp) []tree {
	if o.kind != opWrite && o.kind != opAppend && o.kind != opCreate && o.kind != opCreateSync {
		return nil
	}
	old := before.files[o.path]
	off := o.off
	switch o.kind {
	case opAppend:
		off = int64(len(old))
	case opCreate, opCreateSync:
		off, old = 0, nil
	}
	var out []tree
	for end := (off/4096 + 1) * 4096; end < off+int64(len(o.data)); end += 4096 {
		data := append([]byte(nil), old...)
		if need := int(end); len(data) < need {
			data = append(data, make([]byte, need-len(data))...)
		}
		copy(data[off:end], o.data[:end-off])
		t := cloneTree(before)
		t.files[o.path] = data
		out = append(out, t)
	}
	return out
}

// refuseOtherAccount mounts another account (another server) on the cache
// directory a killed mount left with changes queued: pafs must refuse, send
// the other account nothing, and leave the cache directory as it was.
func refuseOtherAccount(t *testing.T, r *rig) {
	t.Helper()
	before := snapshot(t, r.CacheDir)
	bob := emulator.New(emulator.Config{Username: "bob", Token: "bob-token"})
	srv := httptest.NewServer(bob)
	defer srv.Close()
	dir := t.TempDir()
	posts := func() bool { return bob.Stats().Requests["POST files/path"] > 0 }
	out, code := tryMount(t, []string{"API_TOKEN=bob-token"}, posts,
		"--api-url", srv.URL, "--username", "bob", "--cache-dir", r.CacheDir, dir)
	if mounttest.Mounted(dir) {
		syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	if code == 0 {
		t.Fatalf("another account mounted a cache directory with alice's queue: %s", out)
	}
	st := bob.Stats()
	if n := st.Requests["POST files/path"] + st.Requests["DELETE files/path"]; n != 0 {
		t.Fatalf("the other account got %d changes from alice's queue", n)
	}
	sameSnapshot(t, "cache directory after the refused mount", snapshot(t, r.CacheDir), before)
}
