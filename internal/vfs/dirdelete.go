package vfs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
	"github.com/pafs/pafs/internal/writeback"
	"github.com/pafs/pafs/remote"
)

// The API's delete of a directory is recursive: it takes whatever the
// directory holds, seen here or not. A file added on the server since this
// mount listed the directory (a task's output, a save in the web editor),
// or after the rmdir returned and before its queued delete runs, must not go
// with it. So a directory delete lists the tree afresh when it runs and
// sends one recursive delete only if everything there is something this
// mount deleted (recorded in the journalled op, so that it holds across a
// restart); otherwise it deletes those things one by one and leaves the
// directory with the rest, which then shows again. What remains is the
// window of one round trip between the listing and the delete, which the
// API offers no way to close.

// delState is what a fresh listing says of a directory being deleted.
type delState int

const (
	delAbsent  delState = iota // not on the server
	delWhole                   // holds only what was deleted here: one delete takes it
	delPartial                 // holds something else: delete inside it, keep it
)

// dirPlan collects, while a tree is listed, what stays on the server.
type dirPlan struct {
	kept     []string                   // relative paths not deleted here
	listings map[string]map[string]bool // directories kept: what they hold once the deletes are done
}

// execDirDelete carries out the delete of the directory op.Path.
// Costs: one listing per directory in the tree, then one delete (or one per
// thing deleted here, when something else is kept).
func (f *FS) execDirDelete(ctx context.Context, op writeback.Op) error {
	covered := make(map[string]bool, len(op.Deleted))
	for _, d := range op.Deleted {
		covered[d] = true
	}
	pl := &dirPlan{listings: map[string]map[string]bool{}}
	state, dels, err := f.planDirDelete(ctx, op.Path, "", covered, pl)
	if err != nil {
		f.report("delete", op.Path, err)
		return err
	}
	if state == delWhole {
		dels = []string{op.Path}
	}
	for _, p := range dels {
		if err := f.r.Delete(ctx, p); err != nil && !remote.IsNotFound(err) {
			f.report("delete", p, err)
			return err // the next try lists again: what is deleted is not listed
		}
		f.mu.Lock()
		f.deletedLocked(p)
		f.mu.Unlock()
	}
	f.mu.Lock()
	if state == delAbsent {
		f.deletedLocked(op.Path)
	}
	f.deleteDoneLocked(op)
	if state != delPartial {
		f.mu.Unlock()
		return nil
	}
	f.keptLocked(op.Path, pl)
	f.mu.Unlock()
	sort.Strings(pl.kept)
	names := pl.kept[:min(len(pl.kept), 5)]
	f.log.Warn("files: directory kept: it holds what this mount had not seen; deleted only what was removed here",
		"dir", op.Path, "kept", len(pl.kept), "names", names)
	if f.o.OnError != nil {
		f.o.OnError("rmdir", op.Path, fmt.Errorf("kept %d entries this mount had not seen (%s); deleted only what was removed here",
			len(pl.kept), strings.Join(names, ", ")))
	}
	return nil
}

// planDirDelete lists dir (at rel in the tree being deleted) and the
// directories in it that were deleted here, and says what a delete of dir
// may take: dels are the deletes needed inside dir when it is kept.
func (f *FS) planDirDelete(ctx context.Context, dir, rel string, covered map[string]bool, pl *dirPlan) (delState, []string, error) {
	raw, err := f.r.ListDir(ctx, dir)
	switch {
	case remote.IsNotFound(err):
		return delAbsent, nil, nil
	case errors.Is(err, remote.ErrNotDir):
		// A file where a directory was deleted here: not what was deleted.
		pl.kept = append(pl.kept, "./"+rel)
		return delPartial, nil, nil
	case err != nil:
		return 0, nil, err
	}
	state := delWhole
	var dels []string
	left := map[string]bool{}
	for name, de := range raw {
		r := name
		if rel != "" {
			r = rel + "/" + name
		}
		p := rpath.Join(dir, name)
		// A name no directory can hold was never shown here, so never
		// deleted here; pafs's own mkdir placeholder may go.
		if !validName(name) || (!covered[r] && name != keepName) {
			pl.kept = append(pl.kept, r)
			state = delPartial
			if validName(name) {
				left[name] = de.IsDir()
			}
			continue
		}
		if !de.IsDir() {
			dels = append(dels, p)
			continue
		}
		sub, subDels, err := f.planDirDelete(ctx, p, r, covered, pl)
		if err != nil {
			return 0, nil, err
		}
		switch sub {
		case delWhole:
			dels = append(dels, p)
		case delPartial:
			state = delPartial
			dels = append(dels, subDels...)
			_, left[name] = pl.listings[p]
		}
	}
	if state == delPartial {
		pl.listings[dir] = left
	}
	return state, dels, nil
}

// keptLocked shows the directory p (or the file now there) again, holding
// what its delete kept.
func (f *FS) keptLocked(p string, pl *dirPlan) {
	now := f.o.Now()
	for d, ents := range pl.listings {
		f.meta.PutListing(d, &cache.Listing{Entries: ents, Fetched: now})
	}
	_, isDir := pl.listings[p]
	if e := f.ov.get(p); isDir && e != nil && e.kind == kDir && !e.remote {
		// Made again here since: the server has it already.
		if e.op == 0 || f.q.Cancel(e.op) {
			f.ov.remove(e)
		} else {
			e.remote = true
		}
	}
	f.confirmLocked(p, isDir)
}
