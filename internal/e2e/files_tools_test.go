package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
)

const original = "def hello():\n    return 'hello'\n"
const edited = "def hello():\n    return 'goodbye'\n"

// seedEdit puts a file on the server and reads it once, as an editor would.
func seedEdit(t *testing.T, e *mounttest.Env) map[string]int {
	t.Helper()
	e.Emu.WriteFile("/home/alice/app.py", []byte(original))
	if got := readFile(t, filepath.Join(e.Home, "app.py")); got != original {
		t.Fatalf("read %q", got)
	}
	e.WaitIdle()
	return e.Counts()
}

// Saving costs exactly one upload, and the server holds exactly what was saved.
func checkOneSave(t *testing.T, e *mounttest.Env, editor string, before map[string]int, want string) {
	t.Helper()
	checkSave(t, e, editor, before, want, nil)
}

// checkSave: the server holds exactly what was saved, plus the files the
// editor kept (a backup), one upload each.
func checkSave(t *testing.T, e *mounttest.Env, editor string, before map[string]int, want string, kept map[string]string) {
	t.Helper()
	if got := readFile(t, filepath.Join(e.Home, "app.py")); got != want {
		t.Fatalf("%s: local file reads %q", editor, got)
	}
	waitRemote(t, e, "app.py", want)
	for rel, data := range kept {
		waitRemote(t, e, rel, data)
	}
	e.WaitIdle()
	equalCounts(t, editor+" save", mounttest.Delta(before, e.Counts()), map[string]int{"POST files/path": 1 + len(kept)})
	for p := range e.Emu.Files("/home/alice") {
		if _, ok := kept[strings.TrimPrefix(p, "/home/alice/")]; p != "/home/alice/app.py" && !ok {
			t.Errorf("%s left %s on the server", editor, p)
		}
	}
}

func TestVimSave(t *testing.T) {
	e := start(t)
	before := seedEdit(t, e)
	e.MustRun(e.Home, "vim", "-u", "NONE", "-N", "-es", "-c", "%s/hello'/goodbye'/", "-c", "wq", "app.py")
	checkOneSave(t, e, "vim", before, edited)
}

// vim with its defaults (swap file, writebackup): the swap file and the
// backup rename stay local.
func TestVimSaveWithSwapAndBackup(t *testing.T) {
	e := start(t)
	before := seedEdit(t, e)
	e.MustRun(e.Home, "vim", "-u", "NONE", "-N", "-n", "-c", "set swapfile directory=. backup writebackup", "-c", "%s/hello'/goodbye'/", "-c", "wq", "app.py")
	checkOneSave(t, e, "vim", before, edited)
}

func TestSedInPlace(t *testing.T) {
	e := start(t)
	before := seedEdit(t, e)
	e.MustRun(e.Home, "sed", "-i", "s/hello'/goodbye'/", "app.py")
	checkOneSave(t, e, "sed -i", before, edited)
}

func TestNanoSave(t *testing.T) {
	for _, tool := range []string{"nano", "script"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	// The lock file nano keeps while it runs (.app.py.swp, closed) is
	// deleted before the temp delay is out: it costs nothing.
	e := start(t, "--temp-delay", "8s")
	before := seedEdit(t, e)
	// nano runs in a pseudo-terminal made by script(1). Keys are paced so
	// that nano, which drops typeahead while it starts, sees each of them:
	// ^\ replace hello' with goodbye' (All), ^O write (Enter), ^X exit; -B
	// makes nano write a backup file app.py~, which it keeps: after the
	// temp delay, it is on the server too (a file still there once its
	// editor is done with it is a real file).
	keys := `sleep 1; printf '\034'; sleep .3; printf "hello'\r"; sleep .3; printf "goodbye'\r"; sleep .3; ` +
		`printf A; sleep .3; printf '\017'; sleep .3; printf '\r'; sleep .5; printf '\030'; sleep .5`
	e.MustSh(e.Home, "("+keys+") | TERM=xterm script -qec 'nano -B app.py' /dev/null >/dev/null")
	checkSave(t, e, "nano", before, edited, map[string]string{"app.py~": original})
}

func TestEmacsSave(t *testing.T) {
	if _, err := exec.LookPath("emacs"); err != nil {
		t.Skip("emacs not installed")
	}
	e := start(t)
	seedEdit(t, e)
	emacs := func(from, to string) {
		e.MustRun(e.Home, "emacs", "--batch", "-Q", "app.py",
			"--eval", "(setq make-backup-files t)",
			"--eval", "(progn (goto-char (point-min)) (replace-string \""+from+"'\" \""+to+"'\") (save-buffer))")
	}
	// The first run lists / once (emacs looks for project files up the
	// tree); measure a save after that.
	emacs("hello", "hi")
	waitRemote(t, e, "app.py", strings.Replace(original, "'hello'", "'hi'", 1))
	e.WaitIdle()
	before := e.Counts()
	emacs("hi", "goodbye")
	checkOneSave(t, e, "emacs", before, edited)
}

// git clone into the mount, then git status and git diff there.
func TestGitCloneStatusDiff(t *testing.T) {
	e := start(t)
	files := map[string]string{}
	for i, name := range []string{"README.md", "app/main.py", "app/util.py", "tests/test_main.py"} {
		files[name] = strings.Repeat("line\n", i+1)
	}
	git, repo := cloneRepo(t, e, files)
	if out := git(repo, "status", "--porcelain"); out != "" {
		t.Errorf("git status after clone: %q", out)
	}
	writeLocal(t, filepath.Join(repo, "app/main.py"), []byte("changed\n"))
	if out := git(repo, "status", "--porcelain"); out != " M app/main.py\n" {
		t.Errorf("git status after edit: %q", out)
	}
	if out := git(repo, "diff"); !strings.Contains(out, "+changed") {
		t.Errorf("git diff: %q", out)
	}
	git(repo, "commit", "-qam", "second")
	if out := git(repo, "log", "--oneline"); len(strings.Split(strings.TrimSpace(out), "\n")) != 2 {
		t.Errorf("git log: %q", out)
	}
	e.WaitIdle()
	if got, ok := remote(e, "repo/app/main.py"); !ok || got != "changed\n" {
		t.Errorf("server copy of main.py: %q", got)
	}
	if _, ok := remote(e, "repo/.git/HEAD"); !ok {
		t.Error("no .git/HEAD on the server")
	}
	for p := range e.Emu.Files("/home/alice/repo/.git") {
		if strings.HasSuffix(p, ".lock") {
			t.Errorf("lock file reached the server: %s", p)
		}
	}
}

// tar x into the mount keeps contents, modes and mtimes (as seen locally).
func TestTarExtract(t *testing.T) {
	e := start(t)
	src := t.TempDir()
	for i := 0; i < 30; i++ {
		writeLocal(t, filepath.Join(src, "pkg", "d"+strconv.Itoa(i%4), "f"+strconv.Itoa(i)), []byte(strings.Repeat("t", i*10)))
	}
	os.Chmod(filepath.Join(src, "pkg", "d0", "f0"), 0o755)
	archive := filepath.Join(t.TempDir(), "a.tar")
	e.MustRun(src, "tar", "cf", archive, "pkg")
	e.MustRun(e.Home, "ls")
	before := e.Counts()
	e.MustRun(e.Home, "tar", "xf", archive)
	e.WaitIdle()
	equalCounts(t, "tar x", mounttest.Delta(before, e.Counts()), map[string]int{"POST files/path": 30})
	if o, code := e.Run(src, "diff", "-r", "pkg", filepath.Join(e.Home, "pkg")); code != 0 {
		t.Errorf("diff: %s", o)
	}
	st, err := os.Stat(filepath.Join(e.Home, "pkg", "d0", "f0"))
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("mode after tar x: %v %v", st.Mode(), err)
	}
	// cp -p preserves mode and times too.
	e.MustRun(e.Home, "cp", "-p", filepath.Join(src, "pkg", "d0", "f0"), "copied")
	a, _ := os.Stat(filepath.Join(src, "pkg", "d0", "f0"))
	b, _ := os.Stat(filepath.Join(e.Home, "copied"))
	if !a.ModTime().Equal(b.ModTime()) || a.Mode() != b.Mode() {
		t.Errorf("cp -p: %v %v vs %v %v", a.Mode(), a.ModTime(), b.Mode(), b.ModTime())
	}
}

// Sharing through extended attributes.
func TestShareXattr(t *testing.T) {
	if _, err := exec.LookPath("getfattr"); err != nil {
		t.Skip("attr tools not installed")
	}
	e := start(t)
	e.Emu.WriteFile("/home/alice/share.py", []byte("x"))
	if out, code := e.Run(e.Home, "getfattr", "--only-values", "-n", "user.pafs.share_url", "share.py"); code == 0 {
		t.Errorf("unshared file has a share URL: %q", out)
	}
	e.MustRun(e.Home, "setfattr", "-n", "user.pafs.share", "-v", "1", "share.py")
	url := e.MustRun(e.Home, "getfattr", "--only-values", "-n", "user.pafs.share_url", "share.py")
	if !strings.HasPrefix(url, "http") || !strings.Contains(url, "/user/alice/shares/") {
		t.Errorf("share url %q", url)
	}
	if e.Emu.Shares()["/home/alice/share.py"] == "" {
		t.Error("not shared on the server")
	}
	e.MustRun(e.Home, "setfattr", "-x", "user.pafs.share", "share.py")
	if len(e.Emu.Shares()) != 0 {
		t.Errorf("still shared: %v", e.Emu.Shares())
	}
}

// A second rsync into the mount with 3 of 20 files changed. After rsync -a
// (times kept) the second rsync skips unchanged files itself: 3 uploads.
// After cp -r (times not kept, so every file's time differs from its
// source) rsync rewrites every file, with -a or -r, and each rewrite is
// uploaded: pafs skips no upload of content it remembers the server holding,
// since the server may hold something else by now (docs/reliability.md,
// hole 4). The sources are dated an hour back so that no file's time can
// match by chance.
func TestRsyncUploadsOnlyChanges(t *testing.T) {
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed")
	}
	for _, first := range [][]string{{"rsync", "-a", "site/"}, {"cp", "-r", "site/."}} {
		for _, again := range []string{"-a", "-r"} {
			if first[0] == "rsync" && again == "-r" {
				continue
			}
			t.Run(first[0]+" then rsync "+again, func(t *testing.T) { rsyncAgain(t, first, again) })
		}
	}
}

func rsyncAgain(t *testing.T, first []string, again string) {
	e := start(t)
	src := t.TempDir()
	file := func(i int) string { return filepath.Join("site", "f"+strconv.Itoa(i)+".txt") }
	old := time.Now().Add(-time.Hour)
	for i := 0; i < 20; i++ {
		writeLocal(t, filepath.Join(src, file(i)), []byte(strings.Repeat("x", i+1)))
		if err := os.Chtimes(filepath.Join(src, file(i)), old, old); err != nil {
			t.Fatal(err)
		}
	}
	e.MustRun(e.Home, "ls")
	e.MustRun(src, first[0], append(first[1:], filepath.Join(e.Home, "site"))...)
	e.WaitIdle()
	before := e.Counts()
	for i := 0; i < 3; i++ {
		writeLocal(t, filepath.Join(src, file(i)), []byte("changed "+strconv.Itoa(i)))
	}
	e.MustRun(src, "rsync", again, "site/", filepath.Join(e.Home, "site"))
	e.WaitIdle()
	want := 3 // the files changed
	if first[0] == "cp" {
		want = 20 // every file rewritten
	}
	if d := mounttest.Delta(before, e.Counts()); d["POST files/path"] != want || d["DELETE files/path"] != 0 {
		t.Errorf("second rsync: %v, want %d uploads and no delete", d, want)
	}
	if o, code := e.Run(src, "diff", "-r", "site", filepath.Join(e.Home, "site")); code != 0 {
		t.Errorf("diff: %s", o)
	}
	for i := 0; i < 20; i++ {
		if got, _ := remote(e, file(i)); got != readFile(t, filepath.Join(src, file(i))) {
			t.Errorf("%s on the server: %q", file(i), got)
		}
	}
}
