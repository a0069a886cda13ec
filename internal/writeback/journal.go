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
)

// journal keeps one JSON file per op in a directory. Files are replaced
// atomically (write to a temp name, rename), so a crash leaves either the old
// or the new version of an op, never a torn one.
type journal struct{ dir string }

func openJournal(dir string) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload queue %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload queue %s: %w", dir, err)
	}
	return &journal{dir: dir}, nil
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
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("upload queue: %w", err)
	}
	if err := os.Rename(tmp, j.name(op.ID)); err != nil {
		return fmt.Errorf("upload queue: %w", err)
	}
	return nil
}

// remove deletes op id's entry; one already gone is fine.
func (j *journal) remove(id uint64) error {
	if err := os.Remove(j.name(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("upload queue: removing a finished op: %w", err)
	}
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
