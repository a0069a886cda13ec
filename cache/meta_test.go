package cache

import (
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
