package metastore

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{Account: "alice@example"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func apply(t *testing.T, s *Store, b Batch) {
	t.Helper()
	if err := s.Apply(b); err != nil {
		t.Fatal(err)
	}
}

func sampleAttr(ino uint64) *Attr {
	at := time.Unix(1700000000, 123456789)
	return &Attr{Size: 42, Mtime: at, Atime: at.Add(time.Second), Mode: 0o640, UID: 1000, GID: 100,
		HasOwner: true, FirstSeen: at.Add(-time.Hour), Ino: ino, Hash: [32]byte{1, 2, 3, 31: 9}, HasHash: true,
		ContentSeen: at.Add(-time.Minute)}
}

func sameAttr(a, b Attr) bool {
	for _, p := range []*time.Time{&a.Mtime, &a.Atime, &a.FirstSeen, &a.ContentSeen, &b.Mtime, &b.Atime, &b.FirstSeen, &b.ContentSeen} {
		if !p.IsZero() {
			*p = p.UTC()
		}
	}
	return reflect.DeepEqual(a, b)
}

// Every field and any path bytes come back after a reopen.
func TestStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s := open(t, path)
	odd := "/d/\xff\x00 new\nline/é"
	zero := &Attr{Size: -1, Ino: 3} // zero times and no hash stay zero
	fetched := time.Unix(1700000000, 5)
	apply(t, s, Batch{
		Attrs:    map[string]*Attr{"/a": sampleAttr(2), odd: zero, "/gone": sampleAttr(4)},
		Listings: map[string]*Listing{"/d": {Entries: map[string]bool{"x": false, "sub": true, "\xfe": false}, Fetched: fetched}, "/e": {Entries: map[string]bool{}}},
		NextIno:  5,
	})
	apply(t, s, Batch{Attrs: map[string]*Attr{"/gone": nil}, Listings: map[string]*Listing{"/e": nil}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()
	if a, ok, err := s.Attr("/a"); err != nil || !ok || !sameAttr(a, *sampleAttr(2)) {
		t.Errorf("/a: %+v %v %v", a, ok, err)
	}
	if a, ok, err := s.Attr(odd); err != nil || !ok || !sameAttr(a, *zero) {
		t.Errorf("odd path: %+v %v %v", a, ok, err)
	}
	if _, ok, _ := s.Attr("/gone"); ok {
		t.Error("deleted record came back")
	}
	l, ok, err := s.Listing("/d")
	if err != nil || !ok || !l.Fetched.Equal(fetched) || !reflect.DeepEqual(l.Entries, map[string]bool{"x": false, "sub": true, "\xfe": false}) {
		t.Errorf("/d: %+v %v %v", l, ok, err)
	}
	if _, ok, _ := s.Listing("/e"); ok {
		t.Error("deleted listing came back")
	}
	if s.NextIno() != 5 {
		t.Errorf("counter %d, want 5", s.NextIno())
	}
	attrs, dirs, err := s.Below("/d")
	if err != nil || !reflect.DeepEqual(attrs, []string{odd}) || !reflect.DeepEqual(dirs, []string{"/d"}) {
		t.Errorf("below /d: %q %q %v", attrs, dirs, err)
	}
}

// A subtree moves with its inode numbers and fetch times, replacing what
// the target held, and "/a-b" (which sorts between "/a" and "/a/") stays.
func TestStoreMoveKeepsInodes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "meta.db"))
	defer s.Close()
	l := &Listing{Entries: map[string]bool{"f": false}, Fetched: time.Unix(100, 0)}
	apply(t, s, Batch{
		Attrs: map[string]*Attr{"/a": {Ino: 2}, "/a/f": {Ino: 3}, "/a/s/g": {Ino: 4}, "/a-b": {Ino: 5},
			"/b": {Ino: 6}, "/b/old": {Ino: 7}},
		Listings: map[string]*Listing{"/a": l, "/a/s": l, "/b/old": l},
		NextIno:  8,
	})
	if err := s.Move("/a", "/b"); err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	s.ForEachAttr(func(p string, a Attr) error { got[p] = a.Ino; return nil })
	want := map[string]uint64{"/b": 2, "/b/f": 3, "/b/s/g": 4, "/a-b": 5}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after move: %v, want %v", got, want)
	}
	var dirs []string
	s.ForEachListing(func(d string, l *Listing) error {
		if !l.Fetched.Equal(time.Unix(100, 0)) {
			t.Errorf("%s: fetched %v", d, l.Fetched)
		}
		dirs = append(dirs, d)
		return nil
	})
	if !reflect.DeepEqual(dirs, []string{"/b", "/b/s"}) {
		t.Errorf("listings after move: %q", dirs)
	}
	if err := s.Move("/b", "/b/s"); err == nil {
		t.Error("moved a directory into itself")
	}
}

// The lock of a running mount is reported as such, quickly, and the file is
// left alone.
func TestStoreLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s := open(t, path)
	defer s.Close()
	start := time.Now()
	_, warn, err := OpenOrRebuild(path, Options{Account: "alice@example"})
	if !errors.Is(err, ErrLocked) || warn != "" {
		t.Fatalf("second open: %v, warning %q; want ErrLocked", err, warn)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v for the lock", d)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another pafs mount") {
		t.Errorf("unclear message: %v", err)
	}
	if m, _ := filepath.Glob(path + ".bad-*"); len(m) != 0 {
		t.Errorf("a locked store was set aside: %v", m)
	}
}

// rebuilt opens path with OpenOrRebuild and checks that it set the old file
// aside (with its content intact) and started empty.
func rebuilt(t *testing.T, path string, o Options, want error) {
	t.Helper()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, o); !errors.Is(err, want) {
		t.Fatalf("Open: %v, want %v", err, want)
	}
	s, warn, err := OpenOrRebuild(path, o)
	if err != nil {
		t.Fatalf("OpenOrRebuild: %v", err)
	}
	defer s.Close()
	if warn == "" || !strings.Contains(warn, path) || !strings.Contains(warn, want.Error()) {
		t.Errorf("warning %q", warn)
	}
	aside, _ := filepath.Glob(path + ".bad-*")
	if len(aside) != 1 {
		t.Fatalf("set aside: %v", aside)
	}
	if b, _ := os.ReadFile(aside[0]); string(b) != string(old) {
		t.Error("the file set aside differs from the original")
	}
	n := 0
	s.ForEachAttr(func(string, Attr) error { n++; return nil })
	if n != 0 || s.NextIno() != FirstIno {
		t.Errorf("rebuilt store not empty: %d records, counter %d", n, s.NextIno())
	}
}

func populated(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "meta.db")
	s := open(t, path)
	attrs := map[string]*Attr{}
	for i := range 200 {
		attrs["/dir/file"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('0'+i/26))] = sampleAttr(uint64(2 + i))
	}
	apply(t, s, Batch{Attrs: attrs, NextIno: 300,
		Listings: map[string]*Listing{"/dir": {Entries: map[string]bool{"a": false}, Fetched: time.Now()}}})
	s.Close()
	return path
}

func TestStoreSchemaMismatch(t *testing.T) {
	path := populated(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte{0, 0, 0, 2}) })
	db.Close()
	rebuilt(t, path, Options{Account: "alice@example"}, ErrSchema)
}

func TestStoreAccountMismatch(t *testing.T) {
	rebuilt(t, populated(t), Options{Account: "bob@example"}, ErrAccount)
}

func TestStoreCorrupt(t *testing.T) {
	t.Run("garbage", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "meta.db")
		os.WriteFile(path, []byte(strings.Repeat("not a database\n", 1000)), 0o600)
		rebuilt(t, path, Options{}, ErrCorrupt)
	})
	t.Run("truncated", func(t *testing.T) {
		path := populated(t)
		os.Truncate(path, 5000)
		rebuilt(t, path, Options{Account: "alice@example"}, ErrCorrupt)
	})
	t.Run("record", func(t *testing.T) {
		// A flipped bit inside a value: bbolt's pages have no checksum,
		// ours do.
		path := populated(t)
		b, _ := os.ReadFile(path)
		i := strings.Index(string(b), "/dir/filexa")
		b[i+len("/dir/filexa0")+20] ^= 0x10
		os.WriteFile(path, b, 0o600)
		rebuilt(t, path, Options{Account: "alice@example"}, ErrCorrupt)
	})
	t.Run("foreign bbolt file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "meta.db")
		db, _ := bolt.Open(path, 0o600, nil)
		db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
		db.Close()
		rebuilt(t, path, Options{}, ErrCorrupt)
	})
}

// Whatever the damage, opening never crashes and ends with a usable store:
// the old one if the damage missed everything we read, a new one otherwise.
func TestStoreDamageNeverCrashes(t *testing.T) {
	orig, err := os.ReadFile(populated(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	next := func() uint64 { seed = seed*6364136223846793005 + 1442695040888963407; return seed >> 33 }
	kept := 0
	for round := range 150 {
		path := filepath.Join(dir, "meta.db")
		b := append([]byte(nil), orig...)
		for range 1 + next()%8 {
			b[next()%uint64(len(b))] ^= byte(1 + next()%255)
		}
		if round%10 == 0 {
			b = b[:next()%uint64(len(b))]
		}
		os.WriteFile(path, b, 0o600)
		s, warn, err := OpenOrRebuild(path, Options{Account: "alice@example"})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if warn == "" {
			kept++
		}
		s.ForEachAttr(func(string, Attr) error { return nil })
		if err := s.Apply(Batch{Attrs: map[string]*Attr{"/new": {Ino: s.NextIno()}}, NextIno: s.NextIno() + 1}); err != nil {
			t.Errorf("round %d: store unusable after open: %v", round, err)
		}
		s.Close()
		m, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range m {
			os.Remove(f)
		}
	}
	t.Logf("%d damaged files passed the checks, the others were set aside", kept)
}
