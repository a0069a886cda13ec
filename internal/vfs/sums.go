package vfs

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/pafs/pafs/internal/rpath"
	"github.com/pafs/pafs/internal/writeback"
)

// What pafs knows of the server's files, by path: the hash of the content it
// last downloaded or uploaded there, or that a listing showed the name
// absent or present. The API has no version and no conditional upload, so
// this knowledge is what conflicts are found with (conflict.go): each upload
// records the state its change began from (writeback.Op.Base), and pafs
// compares that base with what it learns of the server later.
//
// It is never a reason to skip an upload: a hash says what the server held
// when pafs last looked, not what it holds now (a save of the same content
// after the web editor changed the file must land).

// maxSummed bounds the local copies hashed to compare with the server's
// when a journal is replayed: hashing is cheap next to a request, but not
// next to streaming a large file. (Downloads and uploads are hashed as they
// stream, whatever their size.)
const maxSummed = 64 << 20

// maxSeen bounds the paths remembered; beyond it the oldest half is forgotten
// (which loses a chance to see a conflict, never data).
const maxSeen = 1 << 16

type seenState uint8

const (
	seenNone    seenState = iota // unknown: an upload of this mount's may or may not have landed
	seenAbsent                   // no file there
	seenPresent                  // listed as a file; content unknown
	seenContent                  // a file with content of hash h
)

// seenRec is the server's state at one path, as pafs last learnt it.
type seenRec struct {
	st   seenState
	h    [sha256.Size]byte
	ours bool // the state is this mount's own doing (its upload or delete)
	at   time.Time
	seq  uint64 // bumped by every change, so a late download cannot undo a newer upload
}

// base renders the state as an upload's base (writeback.Op.Base).
func (r seenRec) base() string {
	switch r.st {
	case seenAbsent:
		return writeback.BaseAbsent
	case seenContent:
		return hex.EncodeToString(r.h[:])
	}
	return ""
}

// seen is the server's state by path, as this mount last learnt it.
type seen struct {
	mu    sync.Mutex // guards everything below; taken alone
	byDir map[string]map[string]seenRec
	n     int
	seq   uint64
}

func (s *seen) get(p string) (seenRec, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, name := rpath.Split(p)
	r, ok := s.byDir[dir][name]
	return r, ok
}

func (s *seen) setLocked(p string, r seenRec) {
	if s.byDir == nil {
		s.byDir = map[string]map[string]seenRec{}
	}
	dir, name := rpath.Split(p)
	m := s.byDir[dir]
	if m == nil {
		m = map[string]seenRec{}
		s.byDir[dir] = m
	}
	if _, ok := m[name]; !ok {
		s.n++
	}
	s.seq++
	r.seq = s.seq
	m[name] = r
	if s.n > maxSeen {
		s.pruneLocked()
	}
}

// pruneLocked forgets the older half of what is remembered.
func (s *seen) pruneLocked() {
	var ats []time.Time
	for _, m := range s.byDir {
		for _, r := range m {
			ats = append(ats, r.at)
		}
	}
	slices.SortFunc(ats, func(a, b time.Time) int { return a.Compare(b) })
	cut := ats[len(ats)/2]
	for dir, m := range s.byDir {
		for name, r := range m {
			if r.at.Before(cut) {
				delete(m, name)
				s.n--
			}
		}
		if len(m) == 0 {
			delete(s.byDir, dir)
		}
	}
}

// content records that the server holds content of hash h at p.
func (s *seen) content(p string, h [sha256.Size]byte, ours bool, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLocked(p, seenRec{st: seenContent, h: h, ours: ours, at: now})
}

// unknown records that an upload of this mount's may or may not have
// changed p (a failed attempt, or content too large to hash).
func (s *seen) unknown(p string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLocked(p, seenRec{st: seenNone, ours: true, at: now})
}

// absent records that there is no file at p, the base of a new file: as a
// listing showed it, not by this mount's doing.
func (s *seen) absent(p string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLocked(p, seenRec{st: seenAbsent, at: now})
}

// mark returns p's current version, for downloaded.
func (s *seen) mark(p string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, name := rpath.Split(p)
	return s.byDir[dir][name].seq
}

// downloaded records the content a download started at version mark found,
// unless this mount changed p itself meanwhile: then the download may show
// the server's state from before that change.
func (s *seen) downloaded(p string, h [sha256.Size]byte, mark uint64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, name := rpath.Split(p)
	if r, ok := s.byDir[dir][name]; ok && r.seq != mark && r.ours {
		return
	}
	s.setLocked(p, seenRec{st: seenContent, h: h, at: now})
}

// deleted records this mount's delete of p (and so of everything below).
func (s *seen) deleted(p string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for dir, m := range s.byDir {
		if dir == p || rpath.IsBelow(dir, p) {
			s.n -= len(m)
			delete(s.byDir, dir)
		}
	}
	s.setLocked(p, seenRec{st: seenAbsent, ours: true, at: now})
}

// listed learns from a fresh listing of dir (patched with this mount's own
// completed changes): a file that appeared, or one that went.
func (s *seen) listed(dir string, ents map[string]bool, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, r := range s.byDir[dir] {
		isDir, ok := ents[name]
		present := ok && !isDir
		switch {
		case present && r.st == seenAbsent:
			s.setLocked(rpath.Join(dir, name), seenRec{st: seenPresent, at: now})
		case !present && r.st != seenAbsent:
			s.setLocked(rpath.Join(dir, name), seenRec{st: seenAbsent, at: now})
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
	return sumOf(w.Sum(nil)), true
}

// sentReader is an upload's data as the client reads it, hashed on the way.
// At the end of the data it calls sent with the hash of exactly the bytes
// sent (the file may be written while it is read): the request's closing
// boundary has not left yet, so the server cannot have applied the upload
// before sent has run. The client rewinds it for each attempt.
type sentReader struct {
	r    *io.SectionReader
	sent func([sha256.Size]byte)

	mu   sync.Mutex // guards the hashing state below (reads and rewinds race)
	h    hash.Hash
	from int64 // where hashing began (a rewind starts it again)
	pos  int64
	sum  [sha256.Size]byte
	done bool // sum is the hash of the whole data, as last read
}

func newSentReader(r *io.SectionReader, sent func([sha256.Size]byte)) *sentReader {
	return &sentReader{r: r, sent: sent, h: sha256.New()}
}

func (s *sentReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.mu.Lock()
	s.h.Write(p[:n])
	s.pos += int64(n)
	whole := err == io.EOF && s.from == 0 && s.pos == s.r.Size()
	if whole {
		s.sum, s.done = sumOf(s.h.Sum(nil)), true
	}
	sum := s.sum
	s.mu.Unlock()
	if whole && s.sent != nil {
		s.sent(sum)
	}
	return n, err
}

func (s *sentReader) Seek(off int64, whence int) (int64, error) {
	pos, err := s.r.Seek(off, whence)
	if err == nil {
		s.mu.Lock()
		s.h.Reset()
		s.from, s.pos, s.done = pos, pos, false
		s.mu.Unlock()
	}
	return pos, err
}

// sentSum returns the hash of the data the last attempt read whole.
func (s *sentReader) sentSum() ([sha256.Size]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sum, s.done
}

// sumOf converts a hash.Hash's sum.
func sumOf(b []byte) [sha256.Size]byte {
	var h [sha256.Size]byte
	copy(h[:], b)
	return h
}
