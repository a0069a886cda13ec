package writeback

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// journal keeps one JSON file per op in a directory. Files are replaced
// atomically (write to a temp name, rename), so a crash leaves either the old
// or the new version of an op, never a torn one.
type journal struct {
	dir      string
	makeRoom func(need int64) bool // frees disk space when an entry does not fit; may be nil
}

func openJournal(dir string) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload queue %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload queue %s: %w", dir, err)
	}
	j := &journal{dir: dir}
	j.keepReserve()
	return j, nil
}

// maxID bounds the op IDs a journal may hold, far above what any queue
// reaches, so that counting on from the highest never wraps around.
const maxID = 1 << 53

func (j *journal) name(id uint64) string {
	return filepath.Join(j.dir, strconv.FormatUint(id, 10)+".json")
}

func (j *journal) write(op *Op) error {
	b, err := json.Marshal(op)
	if err != nil {
		return err
	}
	tmp := j.name(op.ID) + ".tmp"
	err = os.WriteFile(tmp, b, 0o600)
	if noSpace(err) && j.makeRoom != nil && j.makeRoom(int64(len(b))) {
		err = os.WriteFile(tmp, b, 0o600)
	}
	if noSpace(err) && j.useReserve() {
		err = os.WriteFile(tmp, b, 0o600)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("upload queue: %w", err)
	}
	if err := os.Rename(tmp, j.name(op.ID)); err != nil {
		return fmt.Errorf("upload queue: %w", err)
	}
	return nil
}

// reserveSize is the disk space the journal keeps aside (a file of its own)
// for a full disk: when nothing else can be freed, giving it up lets the
// entries that mark ops as sent be written, so that the uploads that free
// the disk can go. Without it, a disk filled by data waiting for upload
// could never be emptied. Some 30 entries fit in it, at a block each.
const reserveSize = 128 << 10

const reserveName = "reserve"

// keepReserve (re)creates the reserve if it is missing; best effort.
func (j *journal) keepReserve() {
	p := filepath.Join(j.dir, reserveName)
	if _, err := os.Stat(p); err == nil {
		return
	}
	if err := os.WriteFile(p+".tmp", make([]byte, reserveSize), 0o600); err != nil {
		_ = os.Remove(p + ".tmp")
		return
	}
	_ = os.Rename(p+".tmp", p)
}

// useReserve gives the reserve up; it reports whether there was one.
func (j *journal) useReserve() bool {
	return os.Remove(filepath.Join(j.dir, reserveName)) == nil
}

// noSpace reports a full disk (or quota).
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// remove deletes op id's entry; one already gone is fine.
func (j *journal) remove(id uint64) error {
	if err := os.Remove(j.name(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("upload queue: removing a finished op: %w", err)
	}
	j.keepReserve() // given up on a full disk: taken back as ops finish
	return nil
}

// load returns every journalled op in ID order. Unreadable files are moved
// aside (never deleted) and reported.
func (j *journal) load() ([]*Op, []error) {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, []error{err}
	}
	var ops []*Op
	var errs []error
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".tmp") {
			os.Remove(filepath.Join(j.dir, n))
			continue
		}
		if !strings.HasSuffix(n, ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(j.dir, n))
		var op Op
		if err == nil {
			err = json.Unmarshal(b, &op)
		}
		if err == nil {
			// An entry is written under its own ID: one that says otherwise
			// (or an ID the queue could not count on from) is not ours.
			id, perr := strconv.ParseUint(strings.TrimSuffix(n, ".json"), 10, 64)
			if perr != nil || op.ID != id || id == 0 || id > maxID {
				err = fmt.Errorf("entry says id %d", op.ID)
			}
		}
		if err != nil {
			os.Rename(filepath.Join(j.dir, n), filepath.Join(j.dir, n+".bad"))
			errs = append(errs, fmt.Errorf("upload queue entry %s: %w", n, err))
			continue
		}
		ops = append(ops, &op)
	}
	sort.Slice(ops, func(a, b int) bool { return ops[a].ID < ops[b].ID })
	return ops, errs
}
