package cache

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestMetaListingTTLAndUpdates(t *testing.T) {
	now := time.Now()
	m := NewMeta(MetaOptions{TTL: time.Minute, Now: func() time.Time { return now }})
	m.PutListing("/d", &Listing{Entries: map[string]bool{"a": false}, Fetched: now})
	m.AddEntry("/d", "b", true)
	m.RemoveEntry("/d", "a")
	l, ok := m.Listing("/d")
	if !ok || len(l.Entries) != 1 || !l.Entries["b"] {
		t.Fatalf("listing %+v %v", l, ok)
	}
	m.PutListing("/d/b", &Listing{Entries: map[string]bool{}, Fetched: now})
	m.RemoveEntry("/d", "b")
	if _, ok := m.PeekListing("/d/b"); ok {
		t.Error("listing below a removed entry kept")
	}
	now = now.Add(2 * time.Minute)
	if _, ok := m.Listing("/d"); ok {
		t.Error("expired listing served")
	}
	hits, misses, _ := m.Stats()
	if hits != 1 || misses != 1 {
		t.Errorf("hits %d misses %d", hits, misses)
	}
}

func TestMetaBounded(t *testing.T) {
	m := NewMeta(MetaOptions{TTL: time.Minute, MaxDirs: 2, MaxAttrs: 2})
	for _, d := range []string{"/a", "/b", "/c"} {
		m.PutListing(d, &Listing{Entries: map[string]bool{}, Fetched: time.Now()})
		m.UpdateAttr(d, func(a *Attr) { a.Size = 1 })
	}
	if _, ok := m.PeekListing("/a"); ok {
		t.Error("listings exceed their cap")
	}
	if _, ok := m.Attr("/a"); ok {
		t.Error("attributes exceed their cap")
	}
	m.MoveAttr("/c", "/z")
	if a, ok := m.Attr("/z"); !ok || a.Size != 1 {
		t.Errorf("moved attr %+v %v", a, ok)
	}
}

// Concurrent updates of one listing all land: a just-uploaded file must not
// vanish from a cached listing because another entry was added at once.
// With a store, the flusher commits in the middle of it all, and a tiny LRU
// sends reads to pending, in-flight and stored records.
func TestMetaConcurrentEntryUpdates(t *testing.T) {
	t.Run("memory", func(t *testing.T) { concurrentEntryUpdates(t, NewMeta(MetaOptions{TTL: time.Hour})) })
	t.Run("store", func(t *testing.T) {
		concurrentEntryUpdates(t, storeMeta(t, filepath.Join(t.TempDir(), "meta.db"),
			MetaOptions{TTL: time.Hour, MaxDirs: 4, MaxAttrs: 4, FlushInterval: time.Millisecond, FlushRecords: 8}))
	})
}

func concurrentEntryUpdates(t *testing.T, m *Meta) {
	for round := 0; round < 300; round++ {
		dir := fmt.Sprintf("/d%d", round)
		m.PutListing(dir, &Listing{Entries: map[string]bool{"gone": false}, Fetched: time.Now()})
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.AddEntry(dir, fmt.Sprintf("f%d", i), false)
				m.UpdateAttr(dir+"/x", func(a *Attr) { a.Size++ })
			}()
		}
		wg.Add(1)
		go func() { defer wg.Done(); m.RemoveEntry(dir, "gone") }()
		wg.Wait()
		l, _ := m.PeekListing(dir)
		if len(l.Entries) != 16 {
			t.Fatalf("round %d: listing has %d entries after 16 concurrent adds and a remove: %v", round, len(l.Entries), l.Entries)
		}
		if a, _ := m.Attr(dir + "/x"); a.Size != 15 {
			t.Fatalf("round %d: 16 concurrent attribute updates gave size %d, want 15", round, a.Size)
		}
	}
}
