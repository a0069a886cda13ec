package cache

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pafs/pafs/cache/metastore"
)

func has(l *Listing, name string) bool { _, ok := l.Entries[name]; return ok }

func openStore(t testing.TB, path string) *metastore.Store {
	t.Helper()
	s, err := metastore.Open(path, metastore.Options{Account: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func storeMeta(t testing.TB, path string, o MetaOptions) *Meta {
	t.Helper()
	o.Store = openStore(t, path)
	m := NewMeta(o)
	t.Cleanup(func() { m.Close() })
	return m
}

func closeMeta(t testing.TB, m *Meta) {
	t.Helper()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// What a mount learnt is there after a remount: listings with their fetch
// time (the TTL counts from it, whichever mount fetched), attributes, and
// inode numbers; and a new path gets a number no earlier path had.
func TestMetaStoreSurvivesRemount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { return now }
	m := storeMeta(t, path, MetaOptions{TTL: time.Minute, Now: clock})
	m.PutListing("/d", &Listing{Entries: map[string]bool{"f": false}, Fetched: now})
	m.UpdateAttr("/d/f", func(a *Attr) { a.Size, a.Mode = 12, 0o600 })
	inoF, inoD := m.Ino("/d/f"), m.Ino("/d")
	if inoF == inoD || inoF < metastore.FirstIno || inoD < metastore.FirstIno {
		t.Fatalf("inodes %d %d", inoF, inoD)
	}
	closeMeta(t, m)

	now = now.Add(30 * time.Second)
	m = storeMeta(t, path, MetaOptions{TTL: time.Minute, Now: clock})
	if l, ok := m.Listing("/d"); !ok || len(l.Entries) != 1 {
		t.Errorf("listing fetched 30s ago by the last mount: %+v %v, want it fresh", l, ok)
	}
	if a, ok := m.Attr("/d/f"); !ok || a.Size != 12 || a.Mode != 0o600 || a.Ino != inoF {
		t.Errorf("attributes after remount: %+v %v", a, ok)
	}
	if m.Ino("/d/f") != inoF || m.Ino("/d") != inoD {
		t.Error("inode numbers changed across a remount")
	}
	if n := m.Ino("/new"); n <= inoF || n <= inoD {
		t.Errorf("new path got inode %d, not above the earlier %d and %d", n, inoF, inoD)
	}
	now = now.Add(31 * time.Second)
	if _, ok := m.Listing("/d"); ok {
		t.Error("listing fetched 61s ago served as fresh with a 1 min TTL")
	}
}

// The listings of a mount that died (no clean Close) are kept but not
// trusted: they may lack what its last moments changed. Those of a clean
// unmount are fresh for the rest of their TTL.
func TestMetaStoreUncleanListingsNotFresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { return now }
	st := openStore(t, path)
	m := NewMeta(MetaOptions{TTL: time.Hour, Now: clock, Store: st})
	m.PutListing("/d", &Listing{Entries: map[string]bool{"f": false}, Fetched: now})
	ino := m.Ino("/d/f")
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	st.Close() // as after kill -9: no clean Close

	now = now.Add(time.Second)
	m = storeMeta(t, path, MetaOptions{TTL: time.Hour, Now: clock})
	if _, ok := m.Listing("/d"); ok {
		t.Error("a listing left by a mount that died is served as fresh")
	}
	if l, ok := m.PeekListing("/d"); !ok || !has(l, "f") {
		t.Errorf("the listing left by a mount that died is gone: %+v %v", l, ok)
	}
	if m.Ino("/d/f") != ino {
		t.Error("inode number lost")
	}
	m.PutListing("/d", &Listing{Entries: map[string]bool{"f": false}, Fetched: now})
	closeMeta(t, m)

	now = now.Add(time.Second)
	m = storeMeta(t, path, MetaOptions{TTL: time.Hour, Now: clock})
	if _, ok := m.Listing("/d"); !ok {
		t.Error("a listing committed by a clean unmount is not fresh")
	}
}

// The first content seen of a path is no change: it keeps the mtime it was
// shown with since it was first seen, unless its size was known and
// differs, or it differs from the hash the caller knew (prior).
func TestMetaSawContentFirstSight(t *testing.T) {
	now := time.Unix(1700000000, 0)
	m := NewMeta(MetaOptions{TTL: time.Hour, Now: func() time.Time { return now }})
	for _, p := range []string{"/f", "/h", "/i"} {
		m.Ino(p)
	}
	m.UpdateAttr("/g", func(a *Attr) { a.Size = 5 })
	first := now
	now = now.Add(time.Hour)
	if a, changed := m.SawContent("/f", 10, [32]byte{1}, nil); changed || !a.Mtime.Equal(first) || !a.HasHash || a.Size != 10 {
		t.Errorf("first content of a path seen an hour ago: %+v, changed %v; want mtime %v", a, changed, first)
	}
	if a, changed := m.SawContent("/g", 6, [32]byte{1}, nil); !changed || !a.Mtime.Equal(now) {
		t.Errorf("first content of another size than the one known: mtime %v (changed %v), want %v", a.Mtime, changed, now)
	}
	if a, changed := m.SawContent("/h", 6, [32]byte{1}, &[32]byte{2}); !changed || !a.Mtime.Equal(now) {
		t.Errorf("content other than the prior hash: mtime %v (changed %v), want %v", a.Mtime, changed, now)
	}
	if a, changed := m.SawContent("/i", 6, [32]byte{1}, &[32]byte{1}); changed || !a.Mtime.Equal(first) {
		t.Errorf("content equal to the prior hash: mtime %v (changed %v), want %v", a.Mtime, changed, first)
	}
}

// With a tiny LRU, records live in pending and then in the store; reads
// never see an older value, during and after flushes.
func TestMetaStoreReadThrough(t *testing.T) {
	m := storeMeta(t, filepath.Join(t.TempDir(), "meta.db"),
		MetaOptions{TTL: time.Hour, MaxAttrs: 2, MaxDirs: 2, FlushInterval: time.Millisecond, FlushRecords: 7})
	for round := range 3 {
		for i := range 100 {
			p := fmt.Sprintf("/f%d", i)
			m.UpdateAttr(p, func(a *Attr) { a.Size = int64(round*1000 + i) })
			m.PutListing(p, &Listing{Entries: map[string]bool{fmt.Sprint(round): false}})
		}
		for i := range 100 {
			p := fmt.Sprintf("/f%d", i)
			if a, ok := m.Attr(p); !ok || a.Size != int64(round*1000+i) {
				t.Fatalf("round %d %s: %+v %v", round, p, a, ok)
			}
			if l, ok := m.PeekListing(p); !ok || !has(l, fmt.Sprint(round)) {
				t.Fatalf("round %d listing %s: %+v %v", round, p, l, ok)
			}
		}
	}
	m.DeleteAttr("/f1")
	m.ForgetTree("/f2")
	if _, ok := m.Attr("/f1"); ok {
		t.Error("deleted attributes still read from the store")
	}
	if _, ok := m.PeekListing("/f2"); ok {
		t.Error("forgotten listing still read from the store")
	}
	m.Flush()
	if _, ok := m.Attr("/f1"); ok {
		t.Error("deleted attributes came back after a flush")
	}
}

// ForgetTree and RemoveEntry reach listings that only the store holds.
func TestMetaStoreForgetTree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	m := storeMeta(t, path, MetaOptions{TTL: time.Hour})
	for _, d := range []string{"/a", "/a/b", "/a/b/c", "/ab"} {
		m.PutListing(d, &Listing{Entries: map[string]bool{"x": true}, Fetched: time.Now()})
	}
	closeMeta(t, m)
	m = storeMeta(t, path, MetaOptions{TTL: time.Hour})
	m.ForgetTree("/a/b")
	m.RemoveEntry("/a", "x")
	closeMeta(t, m)
	m = storeMeta(t, path, MetaOptions{TTL: time.Hour})
	for d, want := range map[string]bool{"/a": true, "/a/b": false, "/a/b/c": false, "/ab": true} {
		if _, ok := m.PeekListing(d); ok != want {
			t.Errorf("%s: cached %v, want %v", d, ok, want)
		}
	}
	if l, _ := m.PeekListing("/a"); l.Entries["x"] {
		t.Error("removed entry back after remount")
	}
}

// A moved subtree keeps its inode numbers and fetch times, also for records
// that were only in the store, and nothing stays under the old name.
func TestMetaStoreMoveTree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	fetched := time.Unix(1700000000, 0)
	m := storeMeta(t, path, MetaOptions{TTL: time.Hour})
	inos := map[string]uint64{}
	for _, p := range []string{"/src", "/src/f", "/src/sub", "/src/sub/g", "/dst", "/dst/old", "/srcx"} {
		inos[p] = m.Ino(p)
	}
	m.PutListing("/src/sub", &Listing{Entries: map[string]bool{"g": false}, Fetched: fetched})
	m.PutListing("/dst/old", &Listing{Entries: map[string]bool{}, Fetched: fetched})
	closeMeta(t, m)
	m = storeMeta(t, path, MetaOptions{TTL: time.Hour, MaxAttrs: 1})
	m.MoveTree("/src", "/dst")
	check := func(when string) {
		for from, to := range map[string]string{"/src": "/dst", "/src/f": "/dst/f", "/src/sub/g": "/dst/sub/g", "/srcx": "/srcx"} {
			if a, ok := m.Attr(to); !ok || a.Ino != inos[from] {
				t.Errorf("%s: %s has %+v %v, want inode %d of %s", when, to, a, ok, inos[from], from)
			}
		}
		for _, p := range []string{"/src", "/src/f", "/src/sub/g", "/dst/old"} {
			if _, ok := m.Attr(p); ok {
				t.Errorf("%s: %s still has attributes", when, p)
			}
		}
		if l, ok := m.PeekListing("/dst/sub"); !ok || !l.Fetched.Equal(fetched) || !has(l, "g") {
			t.Errorf("%s: moved listing %+v %v", when, l, ok)
		}
		for _, d := range []string{"/src/sub", "/dst/old"} {
			if _, ok := m.PeekListing(d); ok {
				t.Errorf("%s: listing of %s still there", when, d)
			}
		}
	}
	check("before the flush")
	closeMeta(t, m)
	m = storeMeta(t, path, MetaOptions{TTL: time.Hour})
	check("after a remount")
}

// The mtime is the time pafs first saw the current content: the same
// content again changes nothing, other content moves it.
func TestMetaSawContent(t *testing.T) {
	now := time.Unix(1700000000, 0)
	m := NewMeta(MetaOptions{TTL: time.Hour, Now: func() time.Time { return now }})
	h1, h2 := [32]byte{1}, [32]byte{2}
	if a, changed := m.SawContent("/f", 10, h1, nil); changed || !a.Mtime.Equal(now) || a.Size != 10 || !a.HasHash {
		t.Fatalf("first sight: %+v %v", a, changed)
	}
	first := now
	now = now.Add(time.Hour)
	if a, changed := m.SawContent("/f", 10, h1, nil); changed || !a.Mtime.Equal(first) {
		t.Errorf("same content: %+v %v", a, changed)
	}
	if a, changed := m.SawContent("/f", 11, h2, &h1); !changed || !a.Mtime.Equal(now) || a.Size != 11 || a.Hash != h2 || !a.ContentSeen.Equal(now) {
		t.Errorf("new content: %+v %v", a, changed)
	}
	touched := time.Unix(1000, 0)
	m.UpdateAttr("/g", func(a *Attr) { a.Mtime = touched })
	if a, changed := m.SawContent("/g", 1, h1, nil); changed || !a.Mtime.Equal(touched) {
		t.Errorf("first hash of a touched file moved its mtime to %v (changed %v)", a.Mtime, changed)
	}
}

// A failing store is dropped, said so, and Meta goes on in memory.
func TestMetaStoreFailureFallsBack(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "meta.db"))
	var mu sync.Mutex
	var errs []error
	m := NewMeta(MetaOptions{TTL: time.Hour, Store: st, MaxAttrs: 1, OnStoreError: func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}})
	defer m.Close()
	m.UpdateAttr("/a", func(a *Attr) { a.Size = 1 })
	m.UpdateAttr("/b", func(a *Attr) { a.Size = 2 }) // evicts /a: pending keeps it
	st.Close()                                       // from under Meta: every read and write now fails
	if a, ok := m.Attr("/a"); !ok || a.Size != 1 {
		t.Errorf("/a: %+v %v", a, ok)
	}
	if _, ok := m.Attr("/c"); ok {
		t.Error("/c found")
	}
	m.UpdateAttr("/d", func(a *Attr) { a.Size = 4 })
	if a, ok := m.Attr("/d"); !ok || a.Size != 4 {
		t.Errorf("memory-only after the failure: %+v %v", a, ok)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) == 0 {
		t.Error("the store's failure was not reported")
	}
	t.Log(errors.Join(errs...))
}

// After a mount that died, stored sizes are not trusted: the store may hold
// a change its journal of uploads never got (or miss one). Inode numbers,
// mtimes and hashes stay; after a clean unmount the sizes stay too.
func TestMetaStoreForgetsSizesAfterACrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	mtime := time.Unix(1600000000, 0)
	st := openStore(t, path)
	m := NewMeta(MetaOptions{TTL: time.Hour, Store: st})
	m.UpdateAttr("/f", func(a *Attr) { a.Size, a.Mtime, a.Hash, a.HasHash = 12, mtime, [32]byte{7}, true })
	ino := m.Ino("/f")
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	check := func(when string, wantSize int64) {
		t.Helper()
		a, ok := m.Attr("/f")
		if !ok || a.Size != wantSize || a.Ino != ino || !a.Mtime.Equal(mtime) || !a.HasHash || a.Hash != [32]byte{7} {
			t.Errorf("%s: %+v (%v); want size %d, inode %d, mtime and hash kept", when, a, ok, wantSize, ino)
		}
	}
	// Died: the store is closed without the clean mark Meta.Close sets.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	m = storeMeta(t, path, MetaOptions{TTL: time.Hour})
	check("after a crash", -1)
	m.UpdateAttr("/f", func(a *Attr) { a.Size = 12 })
	closeMeta(t, m)
	m = storeMeta(t, path, MetaOptions{TTL: time.Hour})
	check("after a clean unmount", 12)
}

// What a start after a crash pays to forget the stored sizes of n files.
func BenchmarkForgetSizesAfterACrash(b *testing.B) {
	const n = 100000
	path := filepath.Join(b.TempDir(), "meta.db")
	st := openStore(b, path)
	batch := metastore.Batch{Attrs: map[string]*Attr{}, NextIno: metastore.FirstIno + n}
	for i := range n {
		batch.Attrs[fmt.Sprintf("/home/alice/d%03d/f%03d", i/1000, i%1000)] = &Attr{Size: int64(i), Ino: metastore.FirstIno + uint64(i)}
	}
	if err := st.Apply(batch); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		if err := st.Apply(batch); err != nil { // sizes back, still unclean
			b.Fatal(err)
		}
		b.StartTimer()
		m := &Meta{store: st, pending: newChanges(), onErr: func(err error) { b.Fatal(err) }}
		m.forgetSizes()
	}
	b.ReportMetric(n, "files/op")
}
