package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// cp -r of a 50-file project into the mount costs exactly 50 uploads: no
// mkdir placeholders (uploads create parents), no listings, no deletes.
func TestCpRIsOneUploadPerFile(t *testing.T) {
	e := start(t)
	src := t.TempDir()
	want := map[string]string{}
	for i := 0; i < 50; i++ {
		rel := filepath.Join("proj", []string{"", "app", "app/templates", "static/css"}[i%4], "f"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+strconv.Itoa(i)+".txt")
		data := strings.Repeat(rel+"\n", i+1)
		writeLocal(t, filepath.Join(src, rel), []byte(data))
		want[rel] = data
	}
	e.MustRun(e.Home, "ls")
	before := e.Counts()
	e.MustRun(src, "cp", "-r", "proj", e.Home)
	e.WaitIdle()
	equalCounts(t, "cp -r", mounttest.Delta(before, e.Counts()), map[string]int{"POST files/path": 50})
	for rel, data := range want {
		if got, ok := remote(e, rel); !ok || got != data {
			t.Fatalf("remote %s = %q (%v)", rel, head([]byte(got)), ok)
		}
	}
	// And out again, byte for byte.
	out := t.TempDir()
	e.MustRun(e.Home, "cp", "-r", "proj", out)
	if o, code := e.Run(out, "diff", "-r", filepath.Join(src, "proj"), filepath.Join(out, "proj")); code != 0 {
		t.Errorf("diff after round trip: %s", o)
	}
}

// Editors' swap, backup and lock files stay local: zero requests, and they
// never reach the server.
func TestEditorTempFilesCostNothing(t *testing.T) {
	e := start(t)
	e.MustRun(e.Home, "ls")
	before := e.Counts()
	for _, n := range []string{".x.py.swp", "x.py~", "#x.py#", ".#x.py", "4913", "x.py___jb_tmp___"} {
		p := filepath.Join(e.Home, n)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("scratch")
		if err := f.Sync(); err != nil {
			t.Errorf("fsync %s: %v", n, err)
		}
		f.Close()
		if got := readFile(t, p); got != "scratch" {
			t.Errorf("%s reads %q", n, got)
		}
		if err := os.Remove(p); err != nil {
			t.Errorf("rm %s: %v", n, err)
		}
	}
	time.Sleep(300 * time.Millisecond) // past the write-back delay: nothing may follow
	e.WaitIdle()
	equalCounts(t, "temp files", mounttest.Delta(before, e.Counts()), map[string]int{})
}

// touch, truncate, >> append and > overwrite all land exactly.
func TestTouchTruncateAppend(t *testing.T) {
	e := start(t)
	e.Emu.WriteFile("/home/alice/log.txt", []byte("first\n"))
	e.MustSh(e.Home, "touch new.txt && echo second >> log.txt && printf 'abcdef' > t.txt && truncate -s 3 t.txt && truncate -s 5 log.txt")
	e.WaitIdle()
	for rel, want := range map[string]string{"new.txt": "", "log.txt": "first", "t.txt": "abc"} {
		if got, ok := remote(e, rel); !ok || got != want {
			t.Errorf("remote %s = %q (%v), want %q", rel, got, ok, want)
		}
	}
	if out := e.MustSh(e.Home, "echo more >> log.txt && cat log.txt"); out != "firstmore\n" {
		t.Errorf("append after truncate reads %q", out)
	}
	waitRemote(t, e, "log.txt", "firstmore\n")
}

// mkdir gives an empty directory at once; rmdir of a non-empty directory
// fails with ENOTEMPTY and deletes nothing.
func TestMkdirRmdir(t *testing.T) {
	e := start(t)
	e.Emu.WriteFile("/home/alice/full/keep.txt", []byte("keep"))
	e.MustRun(e.Home, "mkdir", "-p", "a/b/c", "empty")
	if out := e.MustRun(e.Home, "ls", "-A", "empty"); out != "" {
		t.Errorf("new dir lists %q", out)
	}
	e.WaitIdle() // the mkdirs
	before := e.Counts()
	err := os.Remove(filepath.Join(e.Home, "full"))
	if !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir full: %v, want ENOTEMPTY", err)
	}
	if out, code := e.Run(e.Home, "rmdir", "full"); code == 0 || !strings.Contains(out, "not empty") {
		t.Errorf("rmdir full: exit %d %q", code, out)
	}
	e.WaitIdle()
	// The first rmdir lists full; the second finds the listing in the
	// cache showing a file, and asks nothing.
	equalCounts(t, "rmdir full twice", mounttest.Delta(before, e.Counts()), map[string]int{"GET files/path": 1})
	if _, ok := remote(e, "full/keep.txt"); !ok {
		t.Fatal("rmdir of a non-empty directory deleted its content")
	}
	for _, d := range []string{"a/b/c", "empty"} {
		if !e.Emu.IsDir("/home/alice/" + d) {
			t.Errorf("%s is not a directory on the server", d)
		}
	}
	if _, ok := remote(e, "empty/.pafs-keep"); ok {
		t.Error("mkdir placeholder left behind")
	}
	e.MustRun(e.Home, "rmdir", "a/b/c", "a/b", "a", "empty")
	e.WaitIdle()
	if e.Emu.Exists("/home/alice/a") || e.Emu.Exists("/home/alice/empty") {
		t.Error("rmdir did not delete on the server")
	}
}

// rm -r of a tree costs one recursive delete, and two listings per
// directory: each rmdir lists its directory afresh (the API's delete is
// recursive: a cached listing may miss a file added on the server since),
// and the delete lists the tree again when it runs, for what was added
// after the rmdir. The deletes rm queues collapse into one if rm is done
// before the first of them is due (the write-back delay): rm's rmdirs now
// wait for a listing each.
func TestRmRIsOneDelete(t *testing.T) {
	e := start(t, "--write-back", "1s")
	seedTree(e, "/home/alice/junk", 5, 6)
	e.MustRun(e.Home, "ls", "-R", "junk")
	before := e.Counts()
	e.MustRun(e.Home, "rm", "-r", "junk")
	if _, err := os.Stat(filepath.Join(e.Home, "junk")); !os.IsNotExist(err) {
		t.Errorf("junk still there: %v", err)
	}
	e.WaitIdle()
	equalCounts(t, "rm -r", mounttest.Delta(before, e.Counts()), map[string]int{"GET files/path": 2 * 6, "DELETE files/path": 1})
	if e.Emu.Exists("/home/alice/junk") {
		t.Error("junk still on the server")
	}
}

// mv of an uploaded file: upload under the new name, then delete the old.
// mv of a file whose upload is pending: the upload is retargeted.
func TestMoveFile(t *testing.T) {
	e := start(t)
	e.Emu.WriteFile("/home/alice/old.txt", []byte("old content\n"))
	e.MustRun(e.Home, "ls")
	before := e.Counts()
	e.MustRun(e.Home, "mv", "old.txt", "new.txt")
	if got := readFile(t, filepath.Join(e.Home, "new.txt")); got != "old content\n" {
		t.Errorf("new.txt reads %q", got)
	}
	e.WaitIdle()
	equalCounts(t, "mv uploaded", mounttest.Delta(before, e.Counts()),
		map[string]int{"GET files/path": 1, "POST files/path": 1, "DELETE files/path": 1})
	if _, ok := remote(e, "old.txt"); ok {
		t.Error("old.txt still on the server")
	}
	waitRemote(t, e, "new.txt", "old content\n")

	// Slow write-back so the upload is still pending when mv runs.
	before = e.Counts()
	e.MustSh(e.Home, "echo pending > p1.txt && mv p1.txt p2.txt && mkdir sub && mv p2.txt sub/p3.txt")
	e.WaitIdle()
	equalCounts(t, "mv pending", mounttest.Delta(before, e.Counts()), map[string]int{"POST files/path": 1})
	waitRemote(t, e, "sub/p3.txt", "pending\n")
}

// Directory rename answers EXDEV, so mv falls back to copy and delete.
func TestMoveDirectoryFallsBackToCopy(t *testing.T) {
	e := start(t)
	e.Emu.WriteFile("/home/alice/d1/x.txt", []byte("x\n"))
	err := os.Rename(filepath.Join(e.Home, "d1"), filepath.Join(e.Home, "d2"))
	if !errors.Is(err, syscall.EXDEV) {
		t.Fatalf("rename(dir) = %v, want EXDEV", err)
	}
	e.MustRun(e.Home, "mv", "d1", "d2")
	e.WaitIdle()
	if got, ok := remote(e, "d2/x.txt"); !ok || got != "x\n" {
		t.Errorf("d2/x.txt = %q %v", got, ok)
	}
	if e.Emu.Exists("/home/alice/d1") {
		t.Error("d1 still on the server")
	}
}

// An overwriting rename is atomic to readers: they see old or new content,
// never a missing file.
func TestOverwritingRenameIsAtomic(t *testing.T) {
	e := start(t)
	target := filepath.Join(e.Home, "target.txt")
	writeLocal(t, target, []byte("version 0\n"))
	stop := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(target)
			if err != nil || !strings.HasPrefix(string(b), "version ") {
				errs <- errors.Join(err, errors.New("read "+string(b)))
				return
			}
		}
	}()
	for i := 1; i <= 30; i++ {
		tmp := filepath.Join(e.Home, ".target.tmp")
		writeLocal(t, tmp, []byte("version "+strconv.Itoa(i)+"\n"))
		if err := os.Rename(tmp, target); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-errs; err != nil {
		t.Fatalf("a reader saw a gap: %v", err)
	}
	waitRemote(t, e, "target.txt", "version 30\n")
	e.WaitIdle()
	if _, ok := remote(e, ".target.tmp"); ok {
		t.Error("temp file reached the server")
	}
}

// Symlinks and hard links fail with a clear errno; chmod, chown to self and
// utimes are kept locally so cp -p, rsync -a and tar work.
func TestLinksModesTimes(t *testing.T) {
	e := start(t)
	p := filepath.Join(e.Home, "f.txt")
	writeLocal(t, p, []byte("f\n"))
	if err := os.Symlink("f.txt", filepath.Join(e.Home, "link")); !errors.Is(err, syscall.ENOTSUP) {
		t.Errorf("symlink: %v, want ENOTSUP", err)
	}
	if err := os.Link(p, filepath.Join(e.Home, "hard")); !errors.Is(err, syscall.ENOTSUP) {
		t.Errorf("link: %v, want ENOTSUP", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || !st.ModTime().Equal(mt) {
		t.Errorf("mode %v mtime %v", st.Mode(), st.ModTime())
	}
	if err := os.Chown(p, os.Getuid(), os.Getgid()); err != nil {
		t.Errorf("chown to self: %v", err)
	}
}

// statfs reports plenty of free space.
func TestStatfs(t *testing.T) {
	e := start(t)
	for _, dir := range []string{e.Home, e.Dir, filepath.Join(e.Dir, "webapps"), filepath.Join(e.Dir, ".pafs")} {
		var s syscall.Statfs_t
		if err := syscall.Statfs(dir, &s); err != nil {
			t.Fatal(err)
		}
		if free := s.Bavail * uint64(s.Bsize); free < 1<<40 {
			t.Errorf("%s: free space %d", dir, free)
		}
	}
	if out := e.MustRun(e.Home, "df", "-h", "."); !strings.Contains(out, "pafs") {
		t.Errorf("df: %s", out)
	}
}

// With --write-back 0, close uploads synchronously and returns its error.
func TestWriteBackZeroReportsErrors(t *testing.T) {
	e := start(t, "--write-back", "0")
	e.MustRun(e.Home, "ls")
	before := e.Counts()
	writeLocal(t, filepath.Join(e.Home, "sync.txt"), []byte("now\n"))
	// No waiting: the upload happened inside close.
	if got, ok := remote(e, "sync.txt"); !ok || got != "now\n" {
		t.Errorf("after close the server has %q %v", got, ok)
	}
	equalCounts(t, "sync write", mounttest.Delta(before, e.Counts()), map[string]int{"POST files/path": 1})
	// Creating outside the writable trees fails at once.
	if _, err := os.Create(filepath.Join(e.Dir, "files", "denied.txt")); !errors.Is(err, syscall.EACCES) {
		t.Errorf("create outside the writable trees = %v, want EACCES", err)
	}
	// The server refuses uploads over its limit: close must fail with
	// EFBIG, and the status file must say why.
	e.Emu.SetQuirks(emulator.Quirks{MaxUpload: 4096})
	before = e.Counts()
	f, err := os.Create(filepath.Join(e.Home, "denied.bin"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(strings.Repeat("data", 2000))
	if err := f.Close(); !errors.Is(err, syscall.EFBIG) {
		t.Errorf("close = %v, want EFBIG from the refused upload", err)
	}
	st := e.Status()
	if len(st.Refused) != 1 || st.Refused[0].Status != 413 || len(st.Queue.Ops) != 0 {
		t.Errorf("status does not show the refusal: %+v %+v", st.Refused, st.Queue)
	}
	if len(st.Errors) == 0 || !strings.Contains(st.Errors[len(st.Errors)-1].Message, "413") {
		t.Errorf("status has no last error: %+v", st.Errors)
	}
	// The data is kept, in .pafs/failed/, not retried.
	if got := readFile(t, filepath.Join(e.Dir, ".pafs", "failed", "home%2Falice%2Fdenied.bin")); got != strings.Repeat("data", 2000) {
		t.Errorf("refused file kept as %d bytes", len(got))
	}
	e.WaitIdle()
	if got, ok := remote(e, "denied.bin"); ok {
		t.Errorf("the server holds the refused denied.bin (%d bytes)", len(got))
	}
	if n := mounttest.Delta(before, e.Counts())["POST files/path"]; n != 1 {
		t.Errorf("%d uploads of the refused file, want 1 (not retried)", n)
	}
}

// --read-only refuses every change with EROFS and costs no request.
func TestReadOnlyMount(t *testing.T) {
	e := start(t, "--read-only")
	e.Emu.WriteFile("/home/alice/ro.txt", []byte("keep\n"))
	if got := readFile(t, filepath.Join(e.Home, "ro.txt")); got != "keep\n" {
		t.Errorf("read %q", got)
	}
	before := e.Counts()
	for _, script := range []string{"echo x > ro.txt", "echo x > new.txt", "rm ro.txt", "mkdir d", "mv ro.txt r2.txt", "touch ro.txt"} {
		out, code := e.Sh(e.Home, script)
		if code == 0 || !strings.Contains(out, "Read-only file system") {
			t.Errorf("%s: exit %d %q", script, code, out)
		}
	}
	equalCounts(t, "refused changes", mounttest.Delta(before, e.Counts()), map[string]int{})
}
