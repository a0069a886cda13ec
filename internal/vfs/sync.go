package vfs

import (
	"context"
	"slices"
	"sync"

	"github.com/pafs/pafs/internal/rpath"
)

// Sync uploads now whatever is queued at or below any of roots (files still
// open for writing excepted) and waits for it: the barrier behind `touch
// reload`, so that a reload never serves stale code.
func (f *FS) Sync(ctx context.Context, roots ...string) error {
	var ids []uint64
	for _, s := range f.q.Snapshot() {
		if s.Held {
			continue
		}
		for _, r := range roots {
			if s.Path == r || rpath.IsBelow(s.Path, r) {
				ids = append(ids, s.ID)
				break
			}
		}
	}
	for _, id := range ids {
		if err := f.syncOp(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// listeners hear about completed uploads.
type listeners struct {
	mu  sync.Mutex // guards fns; never held while calling them
	fns []func(path string)
}

// OnUploaded registers fn to be called (on its own goroutine's time, without
// locks held) after each upload the server confirmed.
func (f *FS) OnUploaded(fn func(path string)) {
	f.uploaded.mu.Lock()
	f.uploaded.fns = append(f.uploaded.fns, fn)
	f.uploaded.mu.Unlock()
}

func (f *FS) notifyUploaded(p string) {
	f.uploaded.mu.Lock()
	fns := slices.Clone(f.uploaded.fns)
	f.uploaded.mu.Unlock()
	for _, fn := range fns {
		fn(p)
	}
}
