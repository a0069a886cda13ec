package e2e

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Changes made on the server (the web editor, a console) while a file is
// open here. What pafs promises (docs/semantics.md, "Consistency"):
//
//   - an open file reads what it read when it was opened: the cached copy,
//     whatever happens on the server meanwhile, even if the file is deleted
//     there;
//   - a local write wins: the upload overwrites the server's newer version,
//     or recreates a file deleted there (last writer wins; the API has no
//     conditional upload to detect the conflict);
//   - a file changed or deleted on the server and not written here shows
//     the server's state once the cache lifetimes have passed
//     (--dir-cache-time and --cache-ttl, and the kernel's one second).
func TestReliabilityServerChangesWhileOpen(t *testing.T) {
	r := startRig(t, rigOptions{Parallel: true,
		Args: []string{"--write-back", "50ms", "--dir-cache-time", "300ms", "--cache-ttl", "300ms"}})
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, read in pieces
	r.emu.WriteFile(r.remotePath("edited.txt"), []byte("version 1\n"))
	r.emu.WriteFile(r.remotePath("deleted.bin"), big)
	r.emu.WriteFile(r.remotePath("written-then-deleted.txt"), []byte("before\n"))
	r.emu.WriteFile(r.remotePath("changed-elsewhere.txt"), []byte("old\n"))
	r.emu.WriteFile(r.remotePath("deleted-elsewhere.txt"), []byte("old\n"))
	for _, n := range []string{"changed-elsewhere.txt", "deleted-elsewhere.txt"} {
		readFile(t, filepath.Join(r.Home, n))
	}

	// Open: a writer and a reader of edited.txt, a reader of deleted.bin,
	// a writer of written-then-deleted.txt.
	w, err := os.OpenFile(filepath.Join(r.Home, "edited.txt"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rd, err := os.Open(filepath.Join(r.Home, "deleted.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	firstHalf := make([]byte, len(big)/2)
	if _, err := io.ReadFull(rd, firstHalf); err != nil {
		t.Fatal(err)
	}
	w2, err := os.OpenFile(filepath.Join(r.Home, "written-then-deleted.txt"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()

	// Meanwhile, on the server.
	r.emu.WriteFile(r.remotePath("edited.txt"), []byte("version 2, from the web editor\n"))
	r.emu.Remove(r.remotePath("deleted.bin"))
	r.emu.Remove(r.remotePath("written-then-deleted.txt"))
	r.emu.WriteFile(r.remotePath("changed-elsewhere.txt"), []byte("new, from a console\n"))
	r.emu.Remove(r.remotePath("deleted-elsewhere.txt"))
	// Every cache lifetime is over: pafs's (300 ms) and the kernel's name
	// cache (a second).
	time.Sleep(1200 * time.Millisecond)

	// The open reader goes on reading the copy it opened.
	rest, err := io.ReadAll(rd)
	if err != nil {
		t.Fatalf("reading on after the file was deleted on the server: %v", err)
	}
	mustEqual(t, "deleted.bin through the open descriptor", append(firstHalf, rest...), big)

	// Local writes win.
	if _, err := w.WriteString("appended here\n"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w2.WriteString("written here\n"); err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	r.waitIdle(t, 20*time.Second)
	for rel, want := range map[string]string{
		"edited.txt":               "version 1\nappended here\n",
		"written-then-deleted.txt": "written here\n",
	} {
		if got, ok := r.emu.ReadFile(r.remotePath(rel)); !ok || string(got) != want {
			t.Errorf("server: %s = %q (exists %v), want the local version %q", rel, got, ok, want)
		}
		if got := readFile(t, filepath.Join(r.Home, rel)); got != want {
			t.Errorf("mount: %s = %q, want %q", rel, got, want)
		}
	}

	// Not written here: the server's state shows.
	if got := readFile(t, filepath.Join(r.Home, "changed-elsewhere.txt")); got != "new, from a console\n" {
		t.Errorf("changed-elsewhere.txt reads %q after the cache lifetime", got)
	}
	for _, n := range []string{"deleted-elsewhere.txt", "deleted.bin"} {
		if _, err := os.Stat(filepath.Join(r.Home, n)); !os.IsNotExist(err) {
			t.Errorf("%s: stat %v, want ENOENT after the cache lifetime", n, err)
		}
		if r.emu.Exists(r.remotePath(n)) {
			t.Errorf("%s came back on the server", n)
		}
	}
}
