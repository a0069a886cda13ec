package vfs

import (
	"fmt"
	"path"

	"github.com/pafs/pafs/internal/rpath"
)

// DefaultLocalOnly are the names of editors' swap, backup, lock and temp files:
// vim (.x.swp, 4913, x~), emacs (#x#, .#x, x~), nano (x.swp, x~), JetBrains
// safe-write files, Kate, LibreOffice locks, browsers' .crswap and VS Code's
// temp files. They live on this machine only and never cost a request.
var DefaultLocalOnly = []string{
	"*.swp", "*.swo", "*.swn", "*.swx", "4913", "*~", "#*#", ".#*",
	"*___jb_tmp___", "*___jb_old___", "*.kate-swp", ".~lock.*#", "*.crswap", "*.vsctmp",
}

// localOnly matches base names against glob patterns.
type localOnly struct{ patterns []string }

func newLocalOnly(extra []string) (*localOnly, error) {
	pats := append(append([]string(nil), DefaultLocalOnly...), extra...)
	for _, p := range pats {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("local-only pattern %q: %w", p, err)
		}
	}
	return &localOnly{patterns: pats}, nil
}

// match reports whether the file at remote path p stays local.
func (l *localOnly) match(p string) bool {
	_, name := rpath.Split(p)
	for _, pat := range l.patterns {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}
