package control

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/singleflight"
)

// cell is one answer of the API (a list of objects, a setting) kept for a
// TTL. Concurrent readers share one request; this mount's own changes are
// applied to it at once, so a write is visible without asking again, and
// they are re-applied to an answer that was already on its way when the
// change was made (that answer may predate it).
type cell[T any] struct {
	ttl   time.Duration
	fetch func(ctx context.Context) (T, error)
	onErr func(err error) // a refresh failed and the stale value was kept
	sf    singleflight.Group

	mu      sync.Mutex // guards the fields below
	val     T
	have    bool
	at      time.Time // when val was fetched
	changed time.Time // when val last changed: the mtime of what shows it
	gen     uint64    // local edits so far
	edits   []edit[T] // local edits a fetch in flight may not include
}

type edit[T any] struct {
	gen uint64
	fn  func(T) T
}

// newCell makes a cell for c; a refresh that fails while an older value
// is at hand is logged, and the older value kept.
func newCell[T any](c *Control, ttl time.Duration, fetch func(context.Context) (T, error)) *cell[T] {
	return &cell[T]{ttl: ttl, fetch: fetch, onErr: func(err error) {
		c.log.Warn("control: refresh failed; serving the last answer", "error", err)
	}}
}

// get returns the value, fetching it when it is older than the TTL. The
// request runs on a background context: ctx only bounds the wait, so an
// interrupted reader does not abort a request other readers share.
func (c *cell[T]) get(ctx context.Context) (T, error) {
	c.mu.Lock()
	if c.have && time.Since(c.at) < c.ttl {
		v := c.val
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	ch := c.sf.DoChan("", func() (any, error) { return c.refresh() })
	select {
	case r := <-ch:
		if r.Err != nil {
			var zero T
			return zero, r.Err
		}
		return r.Val.(T), nil
	case <-ctx.Done():
		var zero T
		return zero, syscall.EINTR
	}
}

func (c *cell[T]) refresh() (T, error) {
	c.mu.Lock()
	start := c.gen
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	v, err := c.fetch(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if !c.have {
			return v, err
		}
		// A stale answer beats none: keep serving it, retry after the TTL.
		if c.onErr != nil {
			c.onErr(err)
		}
		c.at = time.Now()
		return c.val, nil
	}
	kept := c.edits[:0]
	for _, e := range c.edits {
		if e.gen > start {
			v = e.fn(v)
			kept = append(kept, e)
		}
	}
	c.edits = kept
	if !c.have || !reflect.DeepEqual(c.val, v) {
		c.changed = time.Now()
	}
	c.val, c.have, c.at = v, true, time.Now()
	return v, nil
}

// peek returns the value without asking the API, however old it is.
func (c *cell[T]) peek() (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.val, c.have
}

// mtime is when the value last changed (zero before the first fetch).
func (c *cell[T]) mtime() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// edit applies a change this mount made. fn must not modify its argument in
// place: readers may hold it.
func (c *cell[T]) edit(fn func(T) T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.edits = append(c.edits, edit[T]{c.gen, fn})
	if c.have {
		c.val = fn(c.val)
		c.changed = time.Now()
	}
}

// forget makes the next get ask the API.
func (c *cell[T]) forget() {
	c.mu.Lock()
	c.at = time.Time{}
	c.mu.Unlock()
}

// listCache is the list of one kind of object: one request per TTL for all
// of them (GET webapps/ returns every app in full), keyed by name or id.
type listCache[T any] struct {
	*cell[[]T]
	key func(T) string
}

func newListCache[T any](c *Control, key func(T) string, fetch func(context.Context) ([]T, error)) *listCache[T] {
	return &listCache[T]{cell: newCell(c, c.cfg.TTL, fetch), key: key}
}

// find returns the object named k; ok is false when the list lacks it.
func (l *listCache[T]) find(ctx context.Context, k string) (v T, ok bool, err error) {
	list, err := l.get(ctx)
	if err != nil {
		return v, false, err
	}
	return l.pick(list, k)
}

// peekOne is find without a request.
func (l *listCache[T]) peekOne(k string) (T, bool) {
	list, _ := l.peek()
	v, ok, _ := l.pick(list, k)
	return v, ok
}

func (l *listCache[T]) pick(list []T, k string) (v T, ok bool, err error) {
	for _, x := range list {
		if l.key(x) == k {
			return x, true, nil
		}
	}
	return v, false, nil
}

// put stores an object this mount created or changed, from the API's answer.
func (l *listCache[T]) put(v T) {
	k := l.key(v)
	l.edit(func(list []T) []T {
		out := slices.Clone(list)
		for i, x := range out {
			if l.key(x) == k {
				out[i] = v
				return out
			}
		}
		return append(out, v)
	})
}

// remove drops an object this mount deleted.
func (l *listCache[T]) remove(k string) {
	l.edit(func(list []T) []T {
		return slices.DeleteFunc(slices.Clone(list), func(x T) bool { return l.key(x) == k })
	})
}

// keys lists the objects' names.
func (l *listCache[T]) keys(list []T) []string {
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, l.key(x))
	}
	return out
}
