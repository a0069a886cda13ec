package e2e

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// What pafs learnt survives an unmount (docs/semantics.md, "What is kept
// across mounts"): these tests remount inside --dir-cache-time and count
// the requests of the second run.

// startPersist mounts with a long TTL (listings and contents stay fresh
// across the remount) and a short write-back.
func startPersist(t *testing.T, args ...string) *mounttest.Env {
	t.Helper()
	return start(t, append([]string{"--dir-cache-time", "10m"}, args...)...)
}

// statInfo is what git's index and rsync's quick check compare.
type statInfo struct {
	ino          uint64
	mode         uint32
	size         int64
	mtime, ctime time.Time
	uid, gid     uint32
}

func (s statInfo) String() string {
	return fmt.Sprintf("ino %d mode %o size %d mtime %s ctime %s owner %d:%d", s.ino, s.mode, s.size,
		s.mtime.Format(time.RFC3339Nano), s.ctime.Format(time.RFC3339Nano), s.uid, s.gid)
}

// statTree lstats every path below root.
func statTree(t *testing.T, root string) map[string]statInfo {
	t.Helper()
	out := map[string]statInfo{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = statInfo{ino: st.Ino, mode: st.Mode, size: st.Size, uid: st.Uid, gid: st.Gid,
			mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec), ctime: time.Unix(st.Ctim.Sec, st.Ctim.Nsec)}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// direntInos reads a directory with getdents64 and returns each name's
// d_ino (what ls -i and find use without a stat).
func direntInos(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	out := map[string]uint64{}
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.Getdents(fd, buf)
		if err != nil {
			t.Fatalf("getdents %s: %v", dir, err)
		}
		if n == 0 {
			return out
		}
		for b := buf[:n]; len(b) > 0; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			ino, reclen := binary.NativeEndian.Uint64(b), int(binary.NativeEndian.Uint16(b[16:]))
			name, _, _ := strings.Cut(string(b[19:reclen]), "\x00")
			if name != "." && name != ".." {
				out[name] = ino
			}
			b = b[reclen:]
		}
	}
}

// sameStats fails unless both walks saw the same paths with the same stat data.
func sameStats(t *testing.T, what string, got, want map[string]statInfo) {
	t.Helper()
	var diffs []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: missing", p))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s:\n    before %s\n    after  %s", p, w, g))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: new", p))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		if len(diffs) > 10 {
			diffs = append(diffs[:10], "...")
		}
		t.Errorf("%s: stat data differs:\n  %s", what, strings.Join(diffs, "\n  "))
	}
}

// ls -lR of a tree read before, remounted inside the TTL: no request at
// all, and every inode number, mtime, ctime, size and mode as before.
func TestRemountLsLRInsideTTL(t *testing.T) {
	e := startPersist(t)
	seedTree(e, "/home/alice/tree", 4, 3)
	// Some contents read (their sizes known), one file written here (its
	// mtime the write's), one chmod and touch -d kept locally.
	readFile(t, filepath.Join(e.Home, "tree", "dir00", "file00.txt"))
	readFile(t, filepath.Join(e.Home, "tree", "dir01", "file02.txt"))
	writeLocal(t, filepath.Join(e.Home, "tree", "dir02", "mine.txt"), []byte("written here\n"))
	e.MustRun(e.Home, "chmod", "600", "tree/dir03/file01.txt")
	e.MustRun(e.Home, "touch", "-d", "2001-02-03 04:05:06", "tree/dir03/file02.txt")
	waitRemote(t, e, "tree/dir02/mine.txt", "written here\n")
	e.WaitIdle()
	lsBefore := e.MustRun(e.Home, "ls", "-lRi", "--time-style=full-iso", "tree")
	before := statTree(t, filepath.Join(e.Home, "tree"))

	e.Stop()
	e.Remount()
	counts := e.Counts()
	lsAfter := e.MustRun(e.Home, "ls", "-lRi", "--time-style=full-iso", "tree")
	after := statTree(t, filepath.Join(e.Home, "tree"))
	equalCounts(t, "ls -lR after a remount inside the TTL", mounttest.Delta(counts, e.Counts()), map[string]int{})
	sameStats(t, "across the remount", after, before)
	if lsAfter != lsBefore {
		t.Errorf("ls -lRi differs across the remount:\nbefore:\n%s\nafter:\n%s", lsBefore, lsAfter)
	}
	for name, ino := range direntInos(t, filepath.Join(e.Home, "tree", "dir00")) {
		if st := after["dir00/"+name]; st.ino != ino {
			t.Errorf("dir00/%s: readdir's d_ino %d, stat's %d", name, ino, st.ino)
		}
	}
	if st := before["dir02/mine.txt"]; st.size != int64(len("written here\n")) {
		t.Errorf("the file written here: %s", st)
	}
	if st := before["dir03/file02.txt"]; st.mtime.Year() != 2001 {
		t.Errorf("touch -d not kept: %s", st)
	}
}

// git status in a repository cloned through an earlier mount: git compares
// its index's stat data (inode, mtime, ctime, size, mode, owner) and reads
// .git's small files, all cached: no download, no listing, nothing else.
func TestRemountGitStatusDownloadsNothing(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	e := startPersist(t)
	files := map[string]string{}
	for i := 0; i < 12; i++ {
		files[fmt.Sprintf("pkg%d/m%02d.py", i%3, i)] = fmt.Sprintf("print(%d)\n", i)
	}
	git, repo := cloneRepo(t, e, files)
	cloned := time.Now()
	// Files written in the same second as the index are "racily clean":
	// git checks their content at every status, until a status in a later
	// second rewrites the index (on a local disk too). Wait for that
	// second, as a user's status some time after the clone would.
	e.WaitFor("the second after the clone", 5*time.Second, func() bool {
		return time.Now().Truncate(time.Second).After(cloned)
	})
	git(repo, "status", "--porcelain")
	e.WaitIdle()
	waitRemote(t, e, "repo/pkg0/m00.py", "print(0)\n")
	before := statTree(t, repo)

	e.Stop()
	e.Remount()
	counts := e.Counts()
	if out := git(repo, "status", "--porcelain"); out != "" {
		t.Errorf("git status after a remount: %q", out)
	}
	e.WaitIdle()
	equalCounts(t, "git status after a remount", mounttest.Delta(counts, e.Counts()), map[string]int{})
	sameStats(t, "the work tree across the remount", statTree(t, repo), before)
}

// rsync -a from the mount to a local backup, run again after a remount:
// nothing transferred or touched (rsync -i itemizes nothing), no download.
func TestRemountRsyncAgainTransfersNothing(t *testing.T) {
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed")
	}
	e := startPersist(t)
	seedTree(e, "/home/alice/site", 3, 4)
	backup := t.TempDir()
	// Read first, so that every size is known whatever --sizes does.
	e.MustRun(e.Home, "grep", "-rq", "line", "site")
	e.MustRun(e.Home, "rsync", "-a", "site/", backup)

	e.Stop()
	e.Remount()
	counts := e.Counts()
	if out := e.MustRun(e.Home, "rsync", "-ai", "site/", backup); out != "" {
		t.Errorf("second rsync -a after a remount itemized changes:\n%s", out)
	}
	equalCounts(t, "rsync -a again after a remount", mounttest.Delta(counts, e.Counts()), map[string]int{})
	if d := localTreeOrFail(t, backup).diff(emuTree(e.Emu, "/home/alice/site")); d != "" {
		t.Errorf("backup differs from the server:\n%s", d)
	}
}

// cloneRepo commits files (path → content) in a repository on local disk
// and clones it into the mount's home as repo. It returns a runner of git
// commands (failing the test on a non-zero exit) and the clone's path.
func cloneRepo(t *testing.T, e *mounttest.Env, files map[string]string) (git func(dir string, args ...string) string, repo string) {
	t.Helper()
	src := t.TempDir()
	for name, data := range files {
		writeLocal(t, filepath.Join(src, name), []byte(data))
	}
	git = func(dir string, args ...string) string {
		return e.MustRun(dir, "git", append([]string{"-c", "user.name=t", "-c", "user.email=t@e", "-c", "init.defaultBranch=main"}, args...)...)
	}
	git(src, "init", "-q")
	git(src, "add", ".")
	git(src, "commit", "-qm", "first")
	git(e.Home, "clone", "-q", src, "repo")
	return git, filepath.Join(e.Home, "repo")
}

func localTreeOrFail(t *testing.T, root string) tree {
	t.Helper()
	tr, err := localTree(root)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// The API is unreachable when the mount starts (connections refused, or a
// network that answers nothing), and an earlier mount left what it learnt:
// the mount starts offline, serves the tree and the contents it cached,
// fails other reads at once, queues a write, says "offline since" in
// .pafs/status, and uploads the write once the API answers.
func TestOfflineStart(t *testing.T) {
	t.Parallel()
	for _, mode := range []proxyMode{proxyRefuse, proxyBlackhole} {
		t.Run(mode.String(), func(t *testing.T) { offlineStart(t, mode) })
	}
}

func offlineStart(t *testing.T, down proxyMode) {
	r := startRig(t, rigOptions{Proxy: true, Parallel: true,
		Args: []string{"--dir-cache-time", "1s", "--write-back", "100ms"}})
	r.emu.WriteFile(r.remotePath("site/a.txt"), []byte("cached a\n"))
	r.emu.WriteFile(r.remotePath("site/sub/b.txt"), []byte("cached b\n"))
	r.emu.WriteFile(r.remotePath("other/unread.txt"), []byte("never read\n"))
	site := filepath.Join(r.Home, "site")
	readFile(t, filepath.Join(site, "a.txt"))
	readFile(t, filepath.Join(site, "sub", "b.txt"))
	lsBefore := r.MustRun(site, "ls", "-lRi", "--time-style=full-iso")
	unread := filepath.Join(r.Home, "other", "unread.txt")
	if names := r.MustRun(r.Home, "ls", "other"); names != "unread.txt\n" {
		t.Fatalf("ls other: %q", names)
	}

	r.Stop()
	r.proxy.set(down)
	start := time.Now()
	r.Remount()
	t.Logf("mounted offline in %s", time.Since(start).Round(time.Millisecond))
	if lsAfter := r.MustRun(site, "ls", "-lRi", "--time-style=full-iso"); lsAfter != lsBefore {
		t.Errorf("offline ls -lRi (listings older than the TTL, served as last seen):\n%s\nwant:\n%s", lsAfter, lsBefore)
	}
	if got := readFile(t, filepath.Join(site, "sub", "b.txt")); got != "cached b\n" {
		t.Errorf("cached file reads %q offline", got)
	}
	var err error
	took := timed(func() { _, err = os.ReadFile(unread) })
	if errnoOf(err) != syscall.EIO || took > 2*time.Second {
		t.Errorf("reading a file never cached, offline: %v after %s, want EIO at once", err, took)
	}
	st := r.Status()
	if st.OfflineSince == nil {
		t.Error(".pafs/status.json has no offline_since")
	}
	text := readFile(t, filepath.Join(r.Dir, ".pafs", "status"))
	if !strings.Contains(text, "Offline since") || !strings.Contains(text, "unread.txt") {
		t.Errorf(".pafs/status does not say offline, or not which read failed:\n%s", text)
	}
	writeLocal(t, filepath.Join(site, "sub", "new.txt"), []byte("written offline\n"))
	if got := readFile(t, filepath.Join(site, "sub", "new.txt")); got != "written offline\n" {
		t.Errorf("the file written offline reads %q", got)
	}
	if _, ok := r.emu.ReadFile(r.remotePath("site/sub/new.txt")); ok {
		t.Fatal("the emulator got the file through a refusing proxy")
	}

	r.proxy.set(proxyPass)
	r.WaitFor("the file written offline on the server", 60*time.Second, func() bool {
		b, ok := r.emu.ReadFile(r.remotePath("site/sub/new.txt"))
		return ok && string(b) == "written offline\n"
	})
	r.WaitFor("the status to say online", 30*time.Second, func() bool { return r.Status().OfflineSince == nil })
	if got := readFile(t, unread); got != "never read\n" {
		t.Errorf("back online, the uncached file reads %q", got)
	}
	r.emu.WriteFile(r.remotePath("site/later.txt"), []byte("x"))
	r.WaitFor("a listing revalidated once online", 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(site, "later.txt"))
		return err == nil
	})
}

// Offline start needs what an earlier mount learnt: without it, and with
// a refused token whatever is cached, the mount fails with a clear error.
func TestOfflineStartRefusals(t *testing.T) {
	t.Parallel()
	mounttest.RequireFUSE(t)
	emu := emulator.New(emulator.Config{Username: "alice", RateLimit: -1})
	cache := t.TempDir()
	mountDir := t.TempDir()
	run := func(url, token string) (string, error) {
		cmd := exec.Command(mounttest.Binary(t), "mount", "--api-url", url, "--username", "alice",
			"--cache-dir", cache, mountDir)
		cmd.Env = append(os.Environ(), "API_TOKEN="+token)
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			<-done
			if mounttest.Mounted(mountDir) {
				syscall.Unmount(mountDir, syscall.MNT_DETACH)
			}
			t.Fatalf("pafs mount neither failed nor stopped:\n%s", out)
		}
		return string(out), err
	}
	down := "http://127.0.0.1:1"
	if out, err := run(down, emu.Token()); err == nil || !strings.Contains(out, "cannot reach the API") {
		t.Errorf("no store, API down: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(cache, "meta.db")); err == nil {
		t.Error("a failed start left a metadata store (a later start would go offline on nothing)")
	}
	// A store from an earlier mount, and a wrong token: refused, not offline.
	os.WriteFile(filepath.Join(cache, "meta.db"), nil, 0o600)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	out, err := run(srv.URL, "wrong-token")
	if err == nil || !strings.Contains(out, "401") || strings.Contains(out, "offline") {
		t.Errorf("wrong token with a store present: %v\n%s", err, out)
	}
}

// kill -9 in the middle of a stream of metadata updates (creates, writes,
// chmod, touch -d, renames, deletes), several rounds: each remount opens the
// metadata store as it is (nothing set aside, nothing in the status), and
// once the upload queue has drained the mount shows exactly the server's
// tree, every file with the server's size and content, no two paths sharing
// an inode number, and the files that were there before the stream with
// the inode numbers they had.
func TestKillDuringMetadataStream(t *testing.T) {
	e := startPersist(t)
	for i := 0; i < 12; i++ {
		e.Emu.WriteFile(fmt.Sprintf("/home/alice/s/f%02d", i), []byte(strings.Repeat("x", i+1)))
	}
	dir := filepath.Join(e.Home, "s")
	e.MustRun(dir, "sh", "-c", "cat * >/dev/null") // every size known, whatever --sizes does
	inos := statTree(t, dir)
	script := `i=0; while :; do i=$((i+1))
		echo "$i" > n$((i%5)) || exit 1
		chmod 6$((i%2))0 f$(printf %02d $((i%12))) 2>/dev/null
		touch -d @$((1000000000+i)) f$(printf %02d $(((i+5)%12)))
		mv n$((i%5)) m$((i%3)) 2>/dev/null
		[ $((i%4)) = 0 ] && rm -f m$((i%3))
		done`
	for round := 0; round < 3; round++ {
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(300+200*round) * time.Millisecond)
		e.Kill()
		cmd.Process.Kill()
		cmd.Wait()
		e.Remount()
		if bad, _ := filepath.Glob(filepath.Join(e.CacheDir, "meta.db.bad-*")); len(bad) > 0 {
			t.Fatalf("round %d: the store was set aside after kill -9: %v\n%s", round, bad, e.Log())
		}
		if strings.Contains(e.Log(), "metadata store") {
			t.Errorf("round %d: the log mentions the metadata store:\n%s", round, e.Log())
		}
		e.WaitIdle()
		shown := statTree(t, dir)
		server := emuTree(e.Emu, "/home/alice/s")
		mounted := localTreeOrFail(t, dir)
		if d := mounted.diff(server); d != "" {
			t.Fatalf("round %d: the mount differs from the server after kill -9 and a remount:\n%s", round, d)
		}
		owner := map[uint64]string{}
		for p, st := range shown {
			if o, dup := owner[st.ino]; dup {
				t.Errorf("round %d: %s and %s share inode %d", round, o, p, st.ino)
			}
			owner[st.ino] = p
			if was, ok := inos[p]; ok && was.ino != st.ino {
				t.Errorf("round %d: %s: inode %d, was %d before the kill", round, p, st.ino, was.ino)
			}
			if b, ok := server.files[p]; ok && st.size != int64(len(b)) {
				t.Errorf("round %d: %s: stat says %d bytes, the server holds %d\npafs log:\n%s", round, p, st.size, len(b), e.Log())
			}
		}
		t.Logf("round %d: %d files", round, len(server.files))
	}
}

// A damaged metadata store is set aside with a message in the log and the
// status, and the mount goes on from the server; nothing queued is lost.
func TestDamagedStoreSetAside(t *testing.T) {
	e := startPersist(t, "--write-back", "1h")
	e.Emu.WriteFile("/home/alice/d/a.txt", []byte("a\n"))
	readFile(t, filepath.Join(e.Home, "d", "a.txt"))
	writeLocal(t, filepath.Join(e.Home, "d", "queued.txt"), []byte("queued\n"))
	e.Kill()
	db := filepath.Join(e.CacheDir, "meta.db")
	if err := os.WriteFile(db, []byte(strings.Repeat("not a store ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	e.Remount()
	if bad, _ := filepath.Glob(db + ".bad-*"); len(bad) != 1 || !strings.Contains(e.Log(), "moved it to") {
		t.Errorf("damaged store: set aside %v; log:\n%s", bad, e.Log())
	}
	if st := e.Status(); st.ErrorCount == 0 || !strings.Contains(st.Errors[0].Message, "damaged") {
		t.Errorf("status errors: %+v", st.Errors)
	}
	if got := readFile(t, filepath.Join(e.Home, "d", "a.txt")); got != "a\n" {
		t.Errorf("a.txt reads %q", got)
	}
	if got := readFile(t, filepath.Join(e.Home, "d", "queued.txt")); got != "queued\n" {
		t.Errorf("queued.txt reads %q", got)
	}
	e.Stop() // uploads what is queued
	if got, _ := remote(e, "d/queued.txt"); got != "queued\n" {
		t.Errorf("server: queued.txt = %q", got)
	}
}

// A file read by an earlier mount, overwritten here without being read
// (O_TRUNC), then kill -9 with its upload queued; the server's copy changes
// meanwhile: the replay keeps both versions. The base of the change is the
// content the earlier mount saw, kept in the metadata store.
func TestReplayKeepsServerVersionSeenByEarlierMount(t *testing.T) {
	e := startPersist(t, "--write-back", "1h")
	e.Emu.WriteFile("/home/alice/f.txt", []byte("version 0\n"))
	readFile(t, filepath.Join(e.Home, "f.txt"))
	e.Stop()
	e.Remount()
	writeLocal(t, filepath.Join(e.Home, "f.txt"), []byte("mine\n"))
	e.Kill()
	e.Emu.WriteFile("/home/alice/f.txt", []byte("theirs\n"))
	e.Remount()
	e.WaitIdle()
	checkKeptBoth(t, e, "f.txt", "theirs\n", "mine\n")
}
