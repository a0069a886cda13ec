package vfs

import (
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/pafs/pafs/internal/rpath"
)

// FuzzNames: the name rules agree with each other and with paths. A name a
// listing may yield (validName) stays one entry of its directory when joined
// to it and split again — it can neither climb out nor add a level — and a
// name accepted for a new file (newNameErr nil) is also one a listing may
// yield, carried by the API (UTF-8) and within NAME_MAX; refusals use the
// errno that says why.
func FuzzNames(f *testing.F) {
	for _, s := range []string{
		"x", "", ".", "..", "...", "a/b", "/", "a\x00b", ".pafs-keep", strings.Repeat("n", 255), strings.Repeat("n", 256),
		"\xff", "∕", "／", "line\nbreak", " ", "é",
	} {
		f.Add("/home/u/dir", s)
	}
	f.Fuzz(func(t *testing.T, dir, name string) {
		if !strings.HasPrefix(dir, "/") {
			dir = "/" + dir
		}
		if validName(name) {
			p := rpath.Join(dir, name)
			d, n := rpath.Split(p)
			if n != name || !rpath.IsBelow(p, d) {
				t.Fatalf("join(%q, %q) = %q splits into %q, %q", dir, name, p, d, n)
			}
		}
		err := newNameErr(name)
		switch {
		case err == nil:
			if !validName(name) || !utf8.ValidString(name) || len(name) > 255 || name == keepName {
				t.Fatalf("%q accepted for a new file", name)
			}
		case len(name) > 255:
			if err != syscall.ENAMETOOLONG {
				t.Fatalf("%d-byte name: %v", len(name), err)
			}
		case err != syscall.EINVAL && err != syscall.EILSEQ:
			t.Fatalf("%q: %v", name, err)
		}
	})
}
