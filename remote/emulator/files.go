package emulator

import (
	"path"
	"slices"
	"sort"
	"strings"
	"time"
)

// node is a file or directory of the in-memory file store. File contents are
// never modified in place, only replaced, so a handler may keep writing a file's
// old bytes to a client after releasing the lock.
type node struct {
	children map[string]*node // nil for a file
	data     []byte
	mtime    time.Time
}

func newDirNode(t time.Time) *node { return &node{children: map[string]*node{}, mtime: t} }

func (n *node) isDir() bool { return n.children != nil }

// pathError is a conflict in the tree, reported to clients as a 400 detail.
type pathError struct{ msg string }

func (p *pathError) Error() string { return p.msg }

// splitPath cleans an absolute path ("//a/./b/../c/" → [a c]); "/" has no parts.
// ".." cannot climb above "/".
func splitPath(p string) []string {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

func joinPath(parts []string) string { return "/" + strings.Join(parts, "/") }

// writableRoots are the trees an account may write below, as on the real server:
// its home, /tmp, and its sandboxed /var/www and /var/log.
func (e *Emulator) writableRoots() [][]string {
	return [][]string{{"home", e.user}, {"tmp"}, {"var", "www"}, {"var", "log"}}
}

// writable reports whether parts is strictly below a writable root. The roots
// themselves (the home directory, /tmp, ...) cannot be replaced or deleted.
func (e *Emulator) writable(parts []string) bool {
	for _, root := range e.writableRoots() {
		if len(parts) > len(root) && slices.Equal(parts[:len(root)], root) {
			return true
		}
	}
	return false
}

// hidden reports whether parts is inside another user's home, which the API
// treats as non-existent.
func (e *Emulator) hidden(parts []string) bool {
	return len(parts) >= 2 && parts[0] == "home" && parts[1] != e.user
}

func (e *Emulator) lookupLocked(parts []string) *node {
	n := e.root
	for _, name := range parts {
		if !n.isDir() {
			return nil
		}
		if n = n.children[name]; n == nil {
			return nil
		}
	}
	return n
}

// mkdirAllLocked is mkdir -p. With force, files in the way become directories
// (test hooks only); without, they are a conflict.
func (e *Emulator) mkdirAllLocked(parts []string, now time.Time, force bool) (*node, error) {
	n := e.root
	for i, name := range parts {
		child := n.children[name]
		if child != nil && !child.isDir() {
			if !force {
				return nil, &pathError{joinPath(parts[:i+1]) + " is not a directory"}
			}
			child = nil
		}
		if child == nil {
			child = newDirNode(now)
			n.children[name] = child
			n.mtime = now
		}
		n = child
	}
	return n, nil
}

// putFileLocked creates or replaces a file, creating its parents. It takes
// ownership of data.
func (e *Emulator) putFileLocked(parts []string, data []byte, now time.Time, force bool) (created bool, err error) {
	if len(parts) == 0 {
		return false, &pathError{"/ is a directory"}
	}
	dir, err := e.mkdirAllLocked(parts[:len(parts)-1], now, force)
	if err != nil {
		return false, err
	}
	name := parts[len(parts)-1]
	old := dir.children[name]
	if old != nil && old.isDir() && !force {
		return false, &pathError{joinPath(parts) + " is a directory"}
	}
	dir.children[name] = &node{data: data, mtime: now}
	if old == nil {
		dir.mtime = now
	}
	return old == nil || old.isDir(), nil
}

// removeLocked deletes a file or a whole directory tree; the root stays.
func (e *Emulator) removeLocked(parts []string, now time.Time) bool {
	if len(parts) == 0 {
		e.root = newDirNode(now)
		return true
	}
	parent := e.lookupLocked(parts[:len(parts)-1])
	if parent == nil || !parent.isDir() || parent.children[parts[len(parts)-1]] == nil {
		return false
	}
	delete(parent.children, parts[len(parts)-1])
	parent.mtime = now
	return true
}

// sortedNames returns a directory's entry names in byte order.
func sortedNames(n *node) []string {
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// walkLocked calls fn for every node below n (pre-order, sorted); fn returns false
// to skip a directory's contents.
func walkLocked(parts []string, n *node, fn func(parts []string, n *node) bool) {
	for _, name := range sortedNames(n) {
		child := n.children[name]
		cp := append(slices.Clip(parts), name)
		if fn(cp, child) && child.isDir() {
			walkLocked(cp, child, fn)
		}
	}
}

// WriteFile stores data at path behind the client's back, creating parents and
// replacing anything in the way. data is copied.
func (e *Emulator) WriteFile(p string, data []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.putFileLocked(splitPath(p), slices.Clone(data), time.Now(), true)
}

// ReadFile returns a copy of a file's contents; false if it is missing or a directory.
func (e *Emulator) ReadFile(p string) ([]byte, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.lookupLocked(splitPath(p))
	if n == nil || n.isDir() {
		return nil, false
	}
	return slices.Clone(n.data), true
}

// Mkdir is mkdir -p behind the client's back; files in the way are replaced.
func (e *Emulator) Mkdir(p string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.mkdirAllLocked(splitPath(p), time.Now(), true)
}

// Remove deletes a file or directory tree, if present. Remove("/") empties the store.
func (e *Emulator) Remove(p string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.removeLocked(splitPath(p), time.Now())
}

// IsDir reports whether p is an existing directory.
func (e *Emulator) IsDir(p string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.lookupLocked(splitPath(p))
	return n != nil && n.isDir()
}

// Exists reports whether p is an existing file or directory.
func (e *Emulator) Exists(p string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lookupLocked(splitPath(p)) != nil
}

// ModTime is the time a file or directory was last changed (tracked internally;
// the API never reports it).
func (e *Emulator) ModTime(p string) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.lookupLocked(splitPath(p))
	if n == nil {
		return time.Time{}, false
	}
	return n.mtime, true
}

// Files returns a copy of every file at or below root, keyed by absolute path.
func (e *Emulator) Files(root string) map[string][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	parts := splitPath(root)
	out := map[string][]byte{}
	n := e.lookupLocked(parts)
	switch {
	case n == nil:
	case !n.isDir():
		out[joinPath(parts)] = slices.Clone(n.data)
	default:
		walkLocked(parts, n, func(p []string, c *node) bool {
			if !c.isDir() {
				out[joinPath(p)] = slices.Clone(c.data)
			}
			return true
		})
	}
	return out
}

// Dirs returns every directory strictly below root, sorted, as absolute paths.
func (e *Emulator) Dirs(root string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	parts := splitPath(root)
	var out []string
	if n := e.lookupLocked(parts); n != nil && n.isDir() {
		walkLocked(parts, n, func(p []string, c *node) bool {
			if c.isDir() {
				out = append(out, joinPath(p))
			}
			return true
		})
	}
	return out
}
