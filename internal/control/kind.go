package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"syscall"
)

// kind is one kind of API object shown as a folder of one-value files plus
// a JSON file of the whole object: web apps, scheduled and always-on tasks,
// static file mappings and headers. A one-value file and the JSON member of
// the same name share one parser, so both accept and refuse the same values.
// P is the kind's PATCH body: each field puts itself there (field.patch), so
// a field's name is written once, in its table entry.
type kind[T, P any] struct {
	c      *Control
	noun   string // "web app", for messages
	cache  *listCache[T]
	fields []field[T, P]
	// identity are JSON members that name the object: a write may repeat
	// them but not change them. Other members without a field are
	// read-only and ignored on writes (the server computes them).
	identity []string
	readonly []string
	// check applies cross-field rules and checks choices once all written
	// members are set on d; written holds the members given.
	check func(ctx context.Context, cur T, d *T, written map[string]bool) error
	// update sends p, the PATCH of the named fields of d (patchOf), and
	// returns the API's answer (see answered).
	update func(ctx context.Context, key string, cur, d T, p P, names []string) (T, error)
	// get fetches the object named key alone: the API's answers to writes
	// are not always the object.
	get func(ctx context.Context, key string) (T, error)
	// logs, if set, are the files in files/ the server writes for an
	// object (its log): they are refreshed when made or renamed.
	logs func(T) []string
}

// field is one member of an object and its one-value file. name is the
// file's name, the JSON member's and the PATCH body's key.
type field[T, P any] struct {
	name string
	mode uint32 // 0644, 0600 for secrets; read-only fields 0444
	show func(T) string
	// set parses v onto d; nil for read-only fields.
	set func(d *T, v string) error
	// setFile replaces set for the one-value file, where a value may imply
	// others (writing a scheduled task's hour makes it daily).
	setFile func(d *T, v string) error
	// patch puts the field's value in v into the PATCH body p; nil for a
	// writable field the PATCH does not carry (a web app's enabled has an
	// endpoint of its own).
	patch func(p *P, v *T)
}

func (f field[T, P]) writable() bool { return f.set != nil }

// patchOf is the PATCH body of the fields names of v; patched says whether
// it carries any, other whether a named field has no PATCH member.
func (k *kind[T, P]) patchOf(v *T, names []string) (p P, patched, other bool) {
	for _, n := range names {
		f, ok := k.field(n)
		switch {
		case !ok:
		case f.patch == nil:
			other = true
		default:
			f.patch(&p, v)
			patched = true
		}
	}
	return p, patched, other
}

// object returns the object named key, ENOENT when it is gone.
func (k *kind[T, P]) object(ctx context.Context, key string) (T, error) {
	v, ok, err := k.cache.find(ctx, key)
	if err == nil && !ok {
		err = syscall.ENOENT
	}
	return v, err
}

// valueFile is the one-value file of field f of object key.
func (k *kind[T, P]) valueFile(key string, f field[T, P]) file {
	show := func(v T) []byte { return formatValue(f.show(v)) }
	fl := k.cachedFile(key, show)
	fl.mode = 0o444
	if f.writable() {
		fl.mode, fl.write = f.mode, valuePolicy{}
		set := f.set
		if f.setFile != nil {
			set = f.setFile
		}
		fl.put = func(ctx context.Context, content []byte) error {
			return k.change(ctx, key, func(cur T, d *T) (map[string]bool, error) {
				if err := set(d, trimValue(content)); err != nil {
					return nil, err
				}
				return map[string]bool{f.name: true}, nil
			})
		}
	}
	return fl
}

// jsonFile is the object as JSON (config.json, task.json); writing a JSON
// object changes the members it changes, in one request.
func (k *kind[T, P]) jsonFile(key string) file {
	fl := k.cachedFile(key, func(v T) []byte { return renderJSON(v) })
	fl.mode, fl.write = 0o644, jsonPolicy{}
	fl.put = func(ctx context.Context, content []byte) error {
		m, err := parseObject(content)
		if err != nil {
			return err
		}
		return k.change(ctx, key, func(cur T, d *T) (map[string]bool, error) {
			return k.setMembers(cur, d, m)
		})
	}
	return fl
}

// cachedFile shows object key through render, from the cached list.
func (k *kind[T, P]) cachedFile(key string, render func(T) []byte) file {
	return file{
		read: func(ctx context.Context) ([]byte, error) {
			v, err := k.object(ctx, key)
			if err != nil {
				return nil, err
			}
			return render(v), nil
		},
		peek: func() ([]byte, bool) {
			v, ok := k.cache.peekOne(key)
			if !ok {
				return nil, false
			}
			return render(v), true
		},
		mtime: k.cache.mtime,
	}
}

// setMembers applies a written JSON object to d: every member must be a
// field, an identity member with the same value, or a read-only member
// (ignored). Members equal to the current value are not "written", so an
// editor saving the whole object changes only what the user changed.
func (k *kind[T, P]) setMembers(cur T, d *T, m map[string]json.RawMessage) (map[string]bool, error) {
	written := map[string]bool{}
	var shown map[string]json.RawMessage
	_ = json.Unmarshal(renderJSON(cur), &shown)
	for _, name := range slices.Sorted(maps.Keys(m)) {
		raw := m[name]
		if slices.Contains(k.identity, name) {
			if !sameJSON(raw, shown[name]) {
				return nil, invalidf("%s cannot change (it names this %s)", name, k.noun)
			}
			continue
		}
		f, ok := k.field(name)
		if !ok {
			if slices.Contains(k.readonly, name) {
				continue
			}
			return nil, invalidf("unknown member %q", name)
		}
		v, err := jsonText(raw)
		if err != nil {
			return nil, invalidf("%s: %v", name, err)
		}
		if v == f.show(cur) || !f.writable() {
			continue // unchanged, or read-only: ignored
		}
		if err := f.set(d, v); err != nil {
			return nil, invalidf("%s: %v", name, err)
		}
		written[name] = true
	}
	return written, nil
}

func (k *kind[T, P]) field(name string) (field[T, P], bool) {
	for _, f := range k.fields {
		if f.name == name {
			return f, true
		}
	}
	return field[T, P]{}, false
}

// change applies edit to a copy of the current object, checks the result
// and sends every field that differs or was written, in one update. The
// answer replaces the cached object: no list request follows a write.
func (k *kind[T, P]) change(ctx context.Context, key string, edit func(cur T, d *T) (map[string]bool, error)) error {
	cur, err := k.object(ctx, key)
	if err != nil {
		return err
	}
	d := cur
	written, err := edit(cur, &d)
	if err != nil {
		return err
	}
	if k.check != nil {
		if err := k.check(ctx, cur, &d, written); err != nil {
			return err
		}
	}
	var names []string
	for _, f := range k.fields {
		if f.writable() && (written[f.name] || f.show(cur) != f.show(d)) {
			names = append(names, f.name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	p, _, _ := k.patchOf(&d, names)
	updated, err := k.update(ctx, key, cur, d, p, names)
	if err == nil {
		updated, err = k.answered(ctx, key, updated)
	}
	switch {
	case errors.Is(err, errUnconfirmed):
		return nil
	case err != nil:
		return err
	}
	k.cache.put(updated)
	if k.logs != nil && !slices.Equal(k.logs(cur), k.logs(updated)) {
		k.c.invalidate(k.logs(updated)...) // a new log name files/ has not listed
	}
	return nil
}

// errUnconfirmed is the outcome of a change the API made but whose result
// is unknown: its answer was not the object, and fetching the object
// failed. The cached list is to be fetched again rather than updated.
var errUnconfirmed = errors.New("changed, but the object as it is now is unknown")

// answered returns v, the API's answer to a change of the object key, if
// it names that object. Otherwise ({"status": "OK"}, an empty body, whose
// decoding names nothing) the object is fetched alone, so that nothing
// but the object itself is ever cached; if that fails, the list is
// forgotten and the error is errUnconfirmed.
func (k *kind[T, P]) answered(ctx context.Context, key string, v T) (T, error) {
	if k.cache.key(v) == key {
		return v, nil
	}
	got, err := k.get(ctx, key)
	if err == nil && k.cache.key(got) == key {
		return got, nil
	}
	if err == nil {
		err = fmt.Errorf("the answer names %q", k.cache.key(got))
	}
	k.cache.forget()
	k.c.log.Warn("control: a "+k.noun+" was changed, but the API's answer is not the "+k.noun+
		" and fetching it failed; the list will be fetched again", "key", key, "error", err.Error())
	return v, errUnconfirmed
}

// sameJSON compares two JSON values by meaning, not spelling.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// fieldEntries are the one-value files of object key below folder path.
func (k *kind[T, P]) fieldEntries(key, path string) []Entry {
	out := make([]Entry, 0, len(k.fields))
	for _, f := range k.fields {
		out = append(out, k.c.fileEntry(f.name, path+"/"+f.name, k.valueFile(key, f)))
	}
	return out
}
