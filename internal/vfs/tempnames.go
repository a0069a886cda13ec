package vfs

import (
	"fmt"
	"path"
	"time"

	"github.com/pafs/pafs/internal/rpath"
)

// DefaultTempNames are the names of editors' swap, backup, lock and temp files:
// vim (.x.swp, 4913, x~), emacs (#x#, .#x, x~), nano (x.swp, x~), JetBrains
// safe-write files, Kate, LibreOffice locks, browsers' .crswap and VS Code's
// temp files. Their uploads wait TempDelay instead of the write-back delay:
// an editor deletes or renames them away well before, and a cancelled upload
// costs nothing. One still there after that is a file like any other (a
// backup the editor keeps, `mv x x~`, a copied tree holding such names): it
// is uploaded, never dropped.
var DefaultTempNames = []string{
	"*.swp", "*.swo", "*.swn", "*.swx", "4913", "*~", "#*#", ".#*",
	"*___jb_tmp___", "*___jb_old___", "*.kate-swp", ".~lock.*#", "*.crswap", "*.vsctmp",
}

// DefaultTempDelay is how long a temp-named file's upload waits after its
// last close (--temp-delay). Editors' saves take milliseconds, but lock files
// live as long as the editing session (nano's .x.swp, LibreOffice's
// .~lock.x#; vim keeps its swap file open, which holds the upload anyway):
// a session shorter than this costs no request, a longer one two (the
// upload, and the delete when the editor quits). A backup the editor keeps
// is on the server this long after it was made.
const DefaultTempDelay = time.Minute

// tempNames matches base names against the temp-name glob patterns.
type tempNames struct{ patterns []string }

func newTempNames(extra []string) (*tempNames, error) {
	pats := append(append([]string(nil), DefaultTempNames...), extra...)
	for _, p := range pats {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("temp-name pattern %q: %w", p, err)
		}
	}
	return &tempNames{patterns: pats}, nil
}

// match reports whether the file at remote path p has a temp name.
func (l *tempNames) match(p string) bool {
	_, name := rpath.Split(p)
	for _, pat := range l.patterns {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}
