package cache

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pafs/pafs/cache/metastore"
)

var benchPaths = func() []string {
	p := make([]string, 1000)
	for i := range p {
		p[i] = fmt.Sprintf("/home/u/project/src/file%04d.py", i)
	}
	return p
}()

// The hot path: an attribute update (a write's new size, a chmod) with and
// without the store behind. With it, the update waits for no disk.
func BenchmarkMetaUpdateAttr(b *testing.B) {
	for _, withStore := range []bool{false, true} {
		name := "memory"
		if withStore {
			name = "store"
		}
		b.Run(name, func(b *testing.B) {
			o := MetaOptions{TTL: time.Hour}
			var m *Meta
			if withStore {
				m = storeMeta(b, filepath.Join(b.TempDir(), "meta.db"), o)
			} else {
				m = NewMeta(o)
			}
			b.ResetTimer()
			for i := range b.N {
				m.UpdateAttr(benchPaths[i%len(benchPaths)], func(a *Attr) { a.Size = int64(i) })
			}
			b.StopTimer()
			m.Close()
		})
	}
}

// ls -l of 1000 files after a remount: every attribute and inode number
// read through from the store, none in memory yet.
func BenchmarkMetaColdStat1000(b *testing.B) {
	path := filepath.Join(b.TempDir(), "meta.db")
	m := storeMeta(b, path, MetaOptions{TTL: time.Hour})
	for _, p := range benchPaths {
		m.UpdateAttr(p, func(a *Attr) { a.Size = 1 })
		m.Ino(p)
	}
	m.Close()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		m := storeMeta(b, path, MetaOptions{TTL: time.Hour})
		b.StartTimer()
		for _, p := range benchPaths {
			m.Attr(p)
			m.Ino(p)
		}
		b.StopTimer()
		m.Close()
		b.StartTimer()
	}
}

// What write-behind saves: one commit (with its fsync) per record against
// one per 500.
func BenchmarkStoreCommit(b *testing.B) {
	for _, n := range []int{1, 500} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s := openStore(b, filepath.Join(b.TempDir(), "meta.db"))
			defer s.Close()
			b.ResetTimer()
			for i := range b.N {
				batch := metastore.Batch{Attrs: map[string]*Attr{}}
				for j := range n {
					batch.Attrs[benchPaths[(i*n+j)%len(benchPaths)]] = &Attr{Size: int64(i)}
				}
				if err := s.Apply(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}
