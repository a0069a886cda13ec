package cache

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newContent(t *testing.T, max int64) *Content {
	t.Helper()
	c, err := OpenContent(ContentOptions{Dir: t.TempDir(), MaxBytes: max, TTL: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A reader waits for the bytes it asks for while a download fills the item.
func TestItemStreamsWhileFilling(t *testing.T) {
	c := newContent(t, 0)
	it, err := c.New("/f", false)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go it.Fill(pr, 10)
	got := make(chan string)
	go func() {
		buf := make([]byte, 4)
		n, _ := it.ReadAt(buf, 6)
		got <- string(buf[:n])
	}()
	pw.Write([]byte("012345"))
	select {
	case s := <-got:
		t.Fatalf("read returned %q before its bytes arrived", s)
	case <-time.After(20 * time.Millisecond):
	}
	pw.Write([]byte("6789"))
	pw.Close()
	if s := <-got; s != "6789" {
		t.Errorf("read %q", s)
	}
	if sz, ok := it.Size(); !ok || sz != 10 {
		t.Errorf("size %d %v", sz, ok)
	}
}

// A download shorter than announced fails the item; readers see the error
// and the next lookup does not serve it.
func TestShortDownloadFails(t *testing.T) {
	c := newContent(t, 0)
	it, _ := c.New("/f", false)
	if err := it.Fill(strings.NewReader("abc"), 10); !errors.Is(err, ErrDownload) {
		t.Errorf("fill: %v", err)
	}
	if _, err := it.ReadAt(make([]byte, 5), 0); err == nil {
		t.Error("read of a failed item succeeded")
	}
	it.Release()
	if _, ok := c.Lookup("/f"); ok {
		t.Error("failed item served")
	}
}

// Local data is never replaced by a download, nor evicted.
func TestDirtyItemsStay(t *testing.T) {
	c := newContent(t, 10)
	d, _ := c.New("/dirty", true)
	d.WriteAt([]byte(strings.Repeat("d", 100)), 0)
	d.Release()
	if _, err := c.New("/dirty", false); !errors.Is(err, ErrBusy) {
		t.Errorf("download over local data: %v", err)
	}
	clean, _ := c.New("/clean", false)
	clean.Fill(strings.NewReader("clean"), -1)
	clean.Release()
	if _, ok := c.Lookup("/dirty"); !ok {
		t.Error("dirty item evicted")
	}
	if _, ok := c.Peek("/clean"); ok {
		t.Error("clean item kept beyond the cap")
	}
}

// Rename moves an item and detaches what it replaces; the replaced item's
// file goes when its last reader releases it.
func TestRenameDetaches(t *testing.T) {
	c := newContent(t, 0)
	a, _ := c.New("/a", true)
	a.WriteAt([]byte("A"), 0)
	b, _ := c.New("/b", true)
	b.WriteAt([]byte("B"), 0)
	b.Ref() // a reader still holds b
	c.Rename("/a", "/b")
	buf := make([]byte, 1)
	if n, _ := b.ReadAt(buf, 0); n != 1 || buf[0] != 'B' {
		t.Error("the open reader lost its data")
	}
	got, _ := c.Lookup("/b")
	if got != a {
		t.Error("/b is not the renamed item")
	}
	files, _ := os.ReadDir(c.Dir())
	b.Release()
	b.Release()
	after, _ := os.ReadDir(c.Dir())
	if len(after) != len(files)-1 {
		t.Errorf("replaced item's file not removed: %d → %d files", len(files), len(after))
	}
}

// Adopt takes over an item file left by an earlier run; other files in the
// directory are removed at open.
func TestAdoptAndSweep(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "keepme"), []byte("queued data"), 0o600)
	os.WriteFile(filepath.Join(dir, "stale"), []byte("old"), 0o600)
	c, err := OpenContent(ContentOptions{Dir: dir, TTL: time.Hour}, func(id string) bool { return id == "keepme" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stale")); !os.IsNotExist(err) {
		t.Error("stale file kept")
	}
	it, err := c.Adopt("/p", "keepme")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 20)
	n, _ := it.ReadAt(buf, 0)
	if string(buf[:n]) != "queued data" {
		t.Errorf("adopted item reads %q", buf[:n])
	}
	if dirty, _ := it.Dirty(); !dirty {
		t.Error("adopted item is not dirty")
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v", st.Mode())
	}
}

// A clean item expires after the TTL; a dirty one does not.
func TestTTL(t *testing.T) {
	now := time.Now()
	c, _ := OpenContent(ContentOptions{Dir: t.TempDir(), TTL: time.Minute, Now: func() time.Time { return now }}, nil)
	clean, _ := c.New("/clean", false)
	clean.Fill(strings.NewReader("x"), 1)
	clean.Release()
	dirty, _ := c.New("/dirty", true)
	dirty.Release()
	now = now.Add(2 * time.Minute)
	if _, ok := c.Lookup("/clean"); ok {
		t.Error("expired clean item served")
	}
	if _, ok := c.Lookup("/dirty"); !ok {
		t.Error("dirty item expired")
	}
}

// A clean shutdown's index keeps the clean copies for the next open, with
// their fetch times; a start after a run that died (no index) removes them.
func TestIndexKeepsCleanCopies(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	o := ContentOptions{Dir: dir, TTL: time.Hour, Now: func() time.Time { return now }}
	c, err := OpenContent(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	it, err := c.New("/clean", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.Fill(strings.NewReader("served again"), -1); err != nil {
		t.Fatal(err)
	}
	it.Release()
	d, _ := c.New("/dirty", true)
	d.WriteAt([]byte("local"), 0)
	d.Release()
	if err := c.SaveIndex(); err != nil {
		t.Fatal(err)
	}

	now = now.Add(30 * time.Minute)
	c, err = OpenContent(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	it, ok := c.Lookup("/clean")
	if !ok {
		t.Fatal("the clean copy is not cached after a clean shutdown")
	}
	buf := make([]byte, 40)
	n, _ := it.ReadAt(buf, 0)
	if string(buf[:n]) != "served again" {
		t.Errorf("restored copy reads %q", buf[:n])
	}
	it.Release()
	if _, ok := c.Peek("/dirty"); ok {
		t.Error("an item the upload queue does not own was restored dirty")
	}
	now = now.Add(31 * time.Minute)
	if it, ok := c.Lookup("/clean"); ok {
		it.Release()
		t.Error("the TTL does not count from the copy's download")
	}

	// No SaveIndex: as after kill -9.
	c, err = OpenContent(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Peek("/clean"); ok {
		t.Error("a copy was kept without an index")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left: %v", ents)
	}
}

// A slow disk write through an item never stalls questions about it: vfs
// asks an item's size under the lock every lookup needs, so a size that
// waited for the write would stall the whole mount behind one slow pwrite.
func TestSizeDoesNotWaitForDiskWrite(t *testing.T) {
	c := newContent(t, 1<<30)
	it, err := c.New("/f", true)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Release()
	entered, release := make(chan struct{}), make(chan struct{})
	diskIOHook = func() { close(entered); <-release }
	defer func() { diskIOHook = func() {} }()
	go it.WriteAt([]byte("slow"), 0)
	<-entered
	answered := make(chan struct{})
	go func() {
		it.Size()
		it.Dirty()
		close(answered)
	}()
	select {
	case <-answered:
	case <-time.After(5 * time.Second):
		t.Error("Size waited for a disk write in progress")
	}
	close(release)
	<-answered
}
