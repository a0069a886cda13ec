package control

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// collection is a folder of objects of one kind, one sub-folder each:
// schedule/, always_on/, webapps/D/static_files/ and static_headers/.
// Writing a JSON object to new creates one; latest links to the one this
// mount created last; rmdir deletes one.
type collection[T, P any] struct {
	*kind[T, P]
	folder   string // mount-relative path of the folder
	defaults T      // what new starts from
	required []string
	template map[string]any // what new reads as: an example to fill in
	create   func(ctx context.Context, d T) (T, error)
	del      func(ctx context.Context, key string) error
	extras   func(key, path string) []Entry // files beyond the fields (task.json, log, restart)
	// changed, if set, hears about every change made here (static
	// mappings need a reload to take effect).
	changed func(what string)
}

func (col *collection[T, P]) notify(what string) {
	if col.changed != nil {
		col.changed(what)
	}
}

// dir is the collection's folder.
func (col *collection[T, P]) dir() *Dir {
	c, path := col.c, col.folder
	newFile := c.fileEntry("new", path+"/new", file{
		mode:  0o644,
		write: jsonPolicy{},
		read:  func(context.Context) ([]byte, error) { return renderJSON(col.template), nil },
		peek:  func() ([]byte, bool) { return renderJSON(col.template), true },
		put:   col.createFrom,
	})
	objEntry := func(key string) Entry {
		return dirEntry(key, path+"/"+key, func() *Dir { return col.objectDir(key, path+"/"+key) })
	}
	d := c.newDir(path, func(ctx context.Context) ([]Entry, error) {
		list, err := col.cache.get(ctx)
		if err != nil {
			return nil, err
		}
		out := []Entry{newFile}
		if c.getLatest(path) != "" {
			out = append(out, c.latestLink(path))
		}
		for _, key := range col.cache.keys(list) {
			out = append(out, objEntry(key))
		}
		return out, nil
	})
	d.mtime = col.cache.mtime
	d.scratch = &scratchDir{}
	d.quick = func(name string) (Entry, bool) {
		latest := c.getLatest(path)
		switch {
		case name == "new":
			return newFile, true
		case latest == "":
		case name == "latest":
			return c.latestLink(path), true
		case name == latest:
			return objEntry(latest), true
		}
		return Entry{}, false
	}
	d.rmdir = func(ctx context.Context, key string) error {
		if err := col.del(ctx, key); err != nil {
			return err
		}
		col.cache.remove(key)
		c.log.Info("deleted "+col.noun, "path", path+"/"+key)
		col.notify("deleted " + col.noun + " " + key)
		return nil
	}
	return d
}

// objectDir is one object's folder: its fields and extras.
func (col *collection[T, P]) objectDir(key, path string) *Dir {
	ents := col.fieldEntries(key, path)
	if col.extras != nil {
		ents = append(ents, col.extras(key, path)...)
	}
	d := col.c.newDir(path, staticList(ents...))
	d.mtime = col.cache.mtime
	d.scratch = &scratchDir{}
	return d
}

// createFrom creates an object from a JSON object written to new: members
// are checked like the one-value files (same parsers), required ones must
// be there, and nothing is sent unless all of it is valid.
func (col *collection[T, P]) createFrom(ctx context.Context, content []byte) error {
	d := col.defaults
	written, err := newFromJSON(col.fields, col.noun, &d, content)
	if err != nil {
		return err
	}
	for _, r := range col.required {
		if !written[r] {
			return invalidf("%s is required", r)
		}
	}
	if col.check != nil {
		var zero T
		if err := col.check(ctx, zero, &d, written); err != nil {
			return err
		}
	}
	before, had := col.cache.peek()
	obj, err := col.create(ctx, d)
	if err != nil {
		return err
	}
	var zero T
	if col.cache.key(obj) == col.cache.key(zero) {
		// The answer does not name the new object ({"status": "OK"}).
		var ok bool
		obj, ok = identify(ctx, col.c, col.cache, before, had, func(x T) bool { return col.same(d, x) })
		if !ok {
			col.c.notice("create", col.folder, "created a "+col.noun+", but the API's answer does not say which: ls "+col.folder)
			col.notify("created " + col.noun)
			return nil
		}
	}
	col.cache.put(obj)
	key := col.cache.key(obj)
	col.c.setLatest(col.folder, key)
	if col.logs != nil {
		col.c.invalidate(col.logs(obj)...) // made by the server, not yet in files/'s listing
	}
	col.c.log.Info("created "+col.noun, "path", col.folder+"/"+key)
	col.notify("created " + col.noun + " " + key)
	return nil
}

// same says whether x shows every writable field as d does: x may be the
// object made from d.
func (col *collection[T, P]) same(d, x T) bool {
	for _, f := range col.fields {
		if f.writable() && f.show(d) != f.show(x) {
			return false
		}
	}
	return true
}

// identify finds the object a creation made when the API's answer did not
// name it: in a list fetched now, the one object that matches what was
// sent (match) and, when the list before the creation is known, was not
// in it. When no single object qualifies (an identical one was there and
// the list before is unknown), ok is false and the cached list is
// forgotten, to be fetched again.
func identify[T any](ctx context.Context, c *Control, l *listCache[T], before []T, had bool, match func(T) bool) (found T, ok bool) {
	known := map[string]bool{}
	for _, x := range before {
		known[l.key(x)] = true
	}
	list, err := l.fetch(ctx)
	n := 0
	for _, x := range list {
		if match(x) && !(had && known[l.key(x)]) {
			found, n = x, n+1
		}
	}
	if err != nil || n != 1 {
		l.forget()
		c.log.Warn("control: cannot tell which object a creation made", "candidates", n, "list error", fmt.Sprint(err))
		var zero T
		return zero, false
	}
	return found, true
}

// newFromJSON sets the members of a JSON object written to a new file on
// d, each through its field's parser, and returns the members given. A
// member that is not a writable field is refused.
func newFromJSON[T, P any](fields []field[T, P], noun string, d *T, content []byte) (map[string]bool, error) {
	m, err := parseObject(content)
	if err != nil {
		return nil, err
	}
	written := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		i := slices.IndexFunc(fields, func(f field[T, P]) bool { return f.name == name && f.writable() })
		if i < 0 {
			return nil, invalidf("unknown member %q (a new %s takes %s)", name, noun, writableNames(fields))
		}
		v, err := jsonText(m[name])
		if err != nil {
			return nil, invalidf("%s: %v", name, err)
		}
		if err := fields[i].set(d, v); err != nil {
			return nil, invalidf("%s: %v", name, err)
		}
		written[name] = true
	}
	return written, nil
}

func writableNames[T, P any](fields []field[T, P]) string {
	var names []string
	for _, f := range fields {
		if f.writable() {
			names = append(names, f.name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
