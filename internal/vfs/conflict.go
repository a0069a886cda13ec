package vfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
	"github.com/pafs/pafs/internal/writeback"
	"github.com/pafs/pafs/remote"
)

// Conflicts: a change made here meets a change made elsewhere (the web
// editor, a console) that pafs never showed. The API has no conditional
// upload, so pafs can only see a conflict where it holds knowledge of the
// server newer than the change's base (sums.go):
//
//   - A live mount sees it when a listing shows that a file appeared where
//     the change began from none (or went and came back), or a download
//     showed other content. It costs nothing more to look. The upload goes
//     ahead — the user's save is the last write, and the mount keeps showing
//     it — but first the server's version is saved beside it (one download
//     and one upload more, for conflicts only).
//   - A run replaying a journal left by one that died (or could not remove
//     finished entries) asks: one download, or one listing of the directory
//     for a change that began from no file. An entry may be days old and the
//     server's version was made after it, so the server's version keeps the
//     name and the replayed one is saved beside it.
//
// Either way both versions are kept, the log says so, and .pafs/status lists
// it. The copy is named NAME.pafs-conflict-YYYYMMDD-HHMMSS (local time).

// Conflict is one conflict found, and where each version went.
type Conflict struct {
	Time   time.Time `json:"time"`
	Path   string    `json:"path"`
	Yours  string    `json:"yours"`  // where this mount's version is now
	Theirs string    `json:"theirs"` // where the server's version is now
	Why    string    `json:"why"`
}

// maxConflicts is how many conflicts the status file lists.
const maxConflicts = 20

// conflicts keeps the latest conflicts for the status file.
type conflicts struct {
	mu    sync.Mutex // guards list and total; taken alone
	list  []Conflict
	total int
}

func (c *conflicts) add(x Conflict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.list = append(c.list, x)
	if len(c.list) > maxConflicts {
		c.list = c.list[len(c.list)-maxConflicts:]
	}
}

// Conflicts returns the latest conflicts found (oldest first) and how many
// there were in all.
func (f *FS) Conflicts() ([]Conflict, int) {
	f.conflicts.mu.Lock()
	defer f.conflicts.mu.Unlock()
	return slices.Clone(f.conflicts.list), f.conflicts.total
}

func (f *FS) noteConflict(x Conflict) {
	x.Time = f.o.Now()
	f.log.Warn("files: conflict: changed on the server and here; both versions kept",
		"path", x.Path, "yours", x.Yours, "theirs", x.Theirs, "why", x.Why)
	f.conflicts.add(x)
}

// baseLocked is what the server holds at p as far as this mount knows now:
// the base of a change that begins now (writeback.Op.Base).
func (f *FS) baseLocked(p string) string {
	if r, ok := f.seen.get(p); ok {
		return r.base()
	}
	if a, ok := f.meta.Attr(p); ok && a.HasHash {
		// What an earlier mount last saw there (metadata store): the
		// content of its cached copy, if this change began from it.
		return hex.EncodeToString(a.Hash[:])
	}
	if !f.listedLocked(p) {
		// Remembered, so that a listing showing the file later is noticed.
		f.seen.absent(p, f.o.Now())
		return writeback.BaseAbsent
	}
	return ""
}

// rebaseLocked gives the upload queued for p (a newer change, made while
// this mount's own upload of p was under way) what that upload left on the
// server as its base: the server's state by this mount's own doing, which a
// later run replaying the op must not take for a change made elsewhere.
func (f *FS) rebaseLocked(p string) {
	e := f.ov.get(p)
	if e == nil || e.kind != kFile || e.op == 0 {
		return
	}
	base := f.baseLocked(p)
	if _, err := f.q.Update(e.op, func(op *writeback.Op) { op.Base = base }); err != nil {
		f.report("queue", p, err)
	}
}

// changedElsewhere reports whether this mount has seen the server's file at
// op.Path become something op's base does not explain, other than by its own
// doing: a file appeared or came back, or a download showed other content.
// A file deleted there is no conflict: the upload recreates it and nothing
// is lost.
func (f *FS) changedElsewhere(op writeback.Op) bool {
	if op.Base == "" {
		return false
	}
	r, ok := f.seen.get(op.Path)
	return ok && !r.ours && (r.st == seenPresent || r.st == seenContent) && r.base() != op.Base
}

// conflictName returns a free name beside p for the other version of a
// conflict.
func (f *FS) conflictName(p string) string {
	dir, name := rpath.Split(p)
	suffix := ".pafs-conflict-" + f.o.Now().Format("20060102-150405")
	l, listed := f.meta.PeekListing(dir)
	f.mu.Lock()
	defer f.mu.Unlock()
	var q string
	for n := 1; n < 100; n++ {
		s := suffix
		if n > 1 {
			s += fmt.Sprintf("-%d", n)
		}
		base := name
		for len(base)+len(s) > 255 {
			// Shortened on a character boundary: the name must stay UTF-8.
			_, size := utf8.DecodeLastRuneInString(base)
			base = base[:len(base)-size]
		}
		q = rpath.Join(dir, base+s)
		taken := f.ov.get(q) != nil
		if listed {
			_, inListing := l.Entries[base+s]
			taken = taken || inListing
		}
		if !taken {
			break
		}
	}
	return q
}

// serverCopy downloads p and returns its hash and, if keep, a temporary
// file in the cache directory holding it (rewound; the caller drops it with
// dropTemp). found is false if the server has no file at p.
func (f *FS) serverCopy(ctx context.Context, p string, keep bool) (tmp *os.File, h [sha256.Size]byte, found bool, err error) {
	mark := f.seen.mark(p)
	dl, err := f.r.Download(ctx, p)
	if remote.IsNotFound(err) {
		return nil, h, false, nil
	}
	if err != nil {
		return nil, h, false, err
	}
	defer dl.Body.Close()
	w := sha256.New()
	dst := io.Writer(w)
	if keep {
		if tmp, err = os.CreateTemp(f.content.Dir(), "conflict-"); err != nil {
			return nil, h, false, fmt.Errorf("copy of %s: %w", p, err)
		}
		dst = io.MultiWriter(tmp, w)
	}
	_, err = io.Copy(dst, dl.Body)
	if err == nil && tmp != nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		if tmp != nil {
			dropTemp(tmp)
		}
		return nil, h, false, fmt.Errorf("copy of %s: %w", p, err)
	}
	h = sumOf(w.Sum(nil))
	f.seen.downloaded(p, h, mark, f.o.Now())
	return tmp, h, true, nil
}

func dropTemp(t *os.File) {
	t.Close()
	os.Remove(t.Name())
}

// keepServerCopy saves the server's version of op.Path beside it, before the
// live upload of op overwrites it.
func (f *FS) keepServerCopy(ctx context.Context, op writeback.Op) error {
	tmp, h, found, err := f.serverCopy(ctx, op.Path, true)
	if err != nil {
		f.report("conflict", op.Path, err)
		return err
	}
	if !found {
		return nil // gone again: nothing to keep
	}
	defer dropTemp(tmp)
	cp := f.conflictName(op.Path)
	if _, err := f.r.Upload(ctx, cp, tmp); err != nil {
		f.report("conflict", cp, err)
		return err
	}
	now := f.o.Now()
	f.seen.content(cp, h, true, now)
	// Accounted for: a retry of op must not save it again.
	f.seen.content(op.Path, h, true, now)
	f.mu.Lock()
	f.confirmLocked(cp, false)
	f.mu.Unlock()
	f.noteConflict(Conflict{Path: op.Path, Yours: op.Path, Theirs: cp,
		Why: "the server's file changed while this mount's change waited for its upload"})
	return nil
}

// checkReplayed runs before the first upload of an op an earlier run left in
// the journal: it learns what the server holds at op.Path now and compares
// it with op's base. It reports done when nothing more is to be sent (the
// server has this content already, or the conflict was resolved).
func (f *FS) checkReplayed(ctx context.Context, op writeback.Op, e *entry, it *cache.Item) (done bool, err error) {
	dir, name := rpath.Split(op.Path)
	present := true
	if op.Base == writeback.BaseAbsent {
		// One listing answers for every file of the directory.
		l, err := f.listing(ctx, dir)
		switch {
		case errors.Is(err, syscall.ENOENT):
			present = false
		case err != nil:
			return false, err
		default:
			_, present = l.Entries[name]
		}
	}
	if !present {
		return false, nil
	}
	_, srv, found, err := f.serverCopy(ctx, op.Path, false)
	if err != nil {
		f.report("replay check", op.Path, err)
		return false, err
	}
	if !found {
		if op.Base != writeback.BaseAbsent {
			f.log.Info("files: replaying an upload of a file deleted on the server since; it is created again", "path", op.Path)
		}
		return false, nil
	}
	r, gen, err := it.Snapshot()
	if err != nil {
		return false, err
	}
	mine, hashed := hashOf(r)
	hs := hex.EncodeToString(srv[:])
	f.mu.Lock()
	sent := f.replayedSent[op.Path]
	f.mu.Unlock()
	switch {
	case hashed && mine == srv:
		// The server holds exactly this (the run that died sent it): known
		// now, by the download just made.
		f.seen.content(op.Path, srv, true, f.o.Now())
		return true, f.uploadedLocked(e, it, op, gen, r.Size(), &mine, false)
	case hs == op.Base || slices.Contains(sent, hs):
		return false, nil // unchanged since, or this mount's own earlier upload
	}
	return true, f.keepReplayedBeside(ctx, op, e, it, r, gen, mine, hashed)
}

// keepReplayedBeside uploads the replayed version of op.Path beside it (the
// server's newer version keeps the name) and moves the local file there.
func (f *FS) keepReplayedBeside(ctx context.Context, op writeback.Op, e *entry, it *cache.Item,
	r *io.SectionReader, gen uint64, mine [sha256.Size]byte, hashed bool) error {
	cp := f.conflictName(op.Path)
	if _, err := f.r.Upload(ctx, cp, r); err != nil {
		f.report("conflict", cp, err)
		return err
	}
	if hashed {
		f.seen.content(cp, mine, true, f.o.Now())
	}
	f.noteConflict(Conflict{Path: op.Path, Yours: cp, Theirs: op.Path,
		Why: "replaying a change an earlier run left in the journal; the server's file changed since it was made"})
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirmLocked(cp, false)
	if f.ov.get(op.Path) == e && e.op == op.ID {
		f.ov.remove(e)
		f.content.Rename(op.Path, cp)
		f.moveAttrKeepIno(op.Path, cp)
		e.path, e.op, e.remote = cp, 0, true
		f.ov.set(e)
		if !it.MarkClean(gen) {
			// Written since the snapshot (opened during the settle time).
			if err := f.addUploadLocked(e, e.writers > 0); err != nil {
				return err
			}
		} else if e.writers == 0 {
			f.dropLocked(e)
		}
	}
	return nil
}
