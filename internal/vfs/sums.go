package vfs

import (
	"crypto/sha256"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/pafs/pafs/internal/rpath"
)

// The API has no conditional upload, so pafs remembers, for files it
// uploaded or downloaded recently, a hash of what the server holds. An
// upload whose content the server already has — rsync rewriting unchanged
// files, git rewriting an identical index, an editor saving without a change
// — is skipped. The memory is trusted for the content cache's lifetime, like
// any cached copy: pafs cannot see changes made elsewhere sooner anyway.

// maxSummed bounds the files that are hashed: hashing is cheap next to a
// request, but not next to streaming a large file.
const maxSummed = 64 << 20

type sum struct {
	h    [sha256.Size]byte
	size int64
	at   time.Time
}

// sums is what the server holds, by path, as far as this mount last saw.
type sums struct {
	mu sync.Mutex
	m  map[string]sum
}

func (s *sums) put(p string, h [sha256.Size]byte, size int64, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]sum{}
	}
	s.m[p] = sum{h: h, size: size, at: at}
}

// same reports whether the server holds content of hash h and size at p,
// as seen within ttl of now.
func (s *sums) same(p string, h [sha256.Size]byte, size int64, now time.Time, ttl time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.m[p]
	return ok && x.size == size && x.h == h && now.Sub(x.at) < ttl
}

// drop forgets p and everything below it (it was deleted), and what has
// aged past ttl (so the map stays small).
func (s *sums) drop(p string, now time.Time, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, x := range s.m {
		if q == p || rpath.IsBelow(q, p) || now.Sub(x.at) >= ttl {
			delete(s.m, q)
		}
	}
}

// keepListed forgets the files of dir that a fresh listing does not show:
// deleted elsewhere, so an upload of old content must not be skipped.
func (s *sums) keepListed(dir string, ents map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q := range s.m {
		if d, name := rpath.Split(q); d == dir {
			if isDir, ok := ents[name]; !ok || isDir {
				delete(s.m, q)
			}
		}
	}
}

// hashOf hashes a snapshot small enough to be worth it.
func hashOf(r *io.SectionReader) ([sha256.Size]byte, bool) {
	var h [sha256.Size]byte
	if r.Size() > maxSummed {
		return h, false
	}
	w := sha256.New()
	if _, err := io.Copy(w, io.NewSectionReader(r, 0, r.Size())); err != nil {
		return h, false
	}
	copy(h[:], w.Sum(nil))
	return h, true
}

// summer hashes a download as it streams, if it is small enough.
type summer struct {
	w    hash.Hash
	size int64
}

func newSummer(size int64) *summer {
	if size < 0 || size > maxSummed {
		return nil
	}
	return &summer{w: sha256.New(), size: size}
}

func (s *summer) sum() [sha256.Size]byte {
	var h [sha256.Size]byte
	copy(h[:], s.w.Sum(nil))
	return h
}
