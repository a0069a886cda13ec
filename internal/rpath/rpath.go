// Package rpath handles remote paths: absolute, slash-separated, "/" for the
// root and no trailing slash otherwise ("/home/u/x.py").
package rpath

import (
	"path"
	"strings"
)

// Join returns dir/name.
func Join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// Split returns the parent directory and the base name of p ("/" → "/", "").
func Split(p string) (dir, name string) {
	if p == "/" {
		return "/", ""
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/", p[1:]
	}
	return p[:i], p[i+1:]
}

// Clean normalises p: leading slash, no repeated or trailing slashes, no dots.
func Clean(p string) string { return path.Clean("/" + p) }

// IsBelow reports whether p lies strictly inside directory dir.
func IsBelow(p, dir string) bool {
	if dir == "/" {
		return p != "/" && strings.HasPrefix(p, "/")
	}
	return len(p) > len(dir) && strings.HasPrefix(p, dir) && p[len(dir)] == '/'
}

// Overlaps reports whether one of a and b is the other or lies inside it.
func Overlaps(a, b string) bool { return a == b || IsBelow(a, b) || IsBelow(b, a) }
