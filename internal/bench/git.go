package bench

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/pafs/pafs/remote/emulator"
)

// gitRepo makes a small repository of n files in three commits at dir and
// returns it as a file:// URL, so that clones go through git's transport
// (one pack) as a clone from a server would.
func gitRepo(r *runner, dir string, n int) (string, error) {
	files := project(n)
	for _, p := range sortedKeys(files) {
		if err := writeFile(filepath.Join(dir, p), files[p]); err != nil {
			return "", err
		}
	}
	err := r.shAll("cd "+dir+" && git init -q -b main . && git add . && git commit -qm first",
		"cd "+dir+" && echo '# two' >> module00.py && git commit -qam second",
		"cd "+dir+" && echo '# three' >> module07.py && git commit -qam third")
	return "file://" + dir, err
}

// treeShape lists a directory tree's files and empty directories (relative,
// slash-separated).
func treeShape(root string) (files, emptyDirs []string, err error) {
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if !d.IsDir() {
			files = append(files, filepath.ToSlash(rel))
			return nil
		}
		if ents, err := os.ReadDir(p); err == nil && len(ents) == 0 {
			emptyDirs = append(emptyDirs, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(files)
	return files, emptyDirs, err
}

// gitPhases is workload 5: git clone into the mount, then git status.
func gitPhases(s *suite) []*phase {
	clone := "git clone -q " + s.gitURL + " repo"
	return []*phase{{
		id: "5a", workload: "5", name: fmt.Sprintf("git clone (%d files)", len(s.cloneFiles)),
		cmds: []string{"git clone -q file://src repo"}, tools: []string{"git"},
		run:  func(r *runner) error { _, err := r.sh(clone); return err },
		done: func(e *emulator.Emulator) bool { return hasFiles(e, home+"/repo", s.cloneFiles) },
		min: func(*emulator.Emulator) model {
			e := len(s.cloneEmpty)
			return model{steps: []step{free("POST files/path", len(s.cloneFiles)+e), then(0, "DELETE files/path", e)},
				how: fmt.Sprintf("one upload per file of the finished clone (%d, counted in a clone on local disk: "+
					"lock and temporary files need none); each of its %d empty directories needs an upload "+
					"of a placeholder and its delete (the API has no mkdir)", len(s.cloneFiles), e)}
		},
		naive:    func(n *naive) error { return n.gitClone() },
		naiveHow: "clone on local disk, upload every file, make each empty directory (placeholder upload + delete)",
	}, {
		id: "5b", workload: "5", name: "git status", after: "5a",
		cmds: []string{"git status --porcelain"}, tools: []string{"git"},
		run: cleanStatus("after clone"),
		min: func(*emulator.Emulator) model {
			return model{how: "everything git reads was written here and is cached"}
		},
		naive:    func(n *naive) error { return n.gitStatus() },
		naiveHow: "list every directory of the work tree, download every tracked file (no mtimes: git must hash them) and .git/HEAD, config, index",
	}, {
		id: "5c", workload: "5", name: "git status after a remount", after: "5b", remount: true,
		cmds: []string{"(unmount, mount)", "git status --porcelain"}, tools: []string{"git"},
		run: cleanStatus("after a remount"),
		min: func(*emulator.Emulator) model {
			return model{how: "inode numbers, mtimes and sizes are those git's index holds (metadata store), " +
				"and what git reads in .git is in the content cache, inside its TTL"}
		},
		expect:   true,
		naive:    func(n *naive) error { return n.gitStatus() },
		naiveHow: "as for 5b: every directory listed, every tracked file and .git's files downloaded",
	}}
}

// cleanStatus runs git status in the clone, which must show nothing.
func cleanStatus(when string) func(r *runner) error {
	return func(r *runner) error {
		out, err := r.sh("cd repo && git status --porcelain")
		if err == nil && out != "" {
			err = fmt.Errorf("git status %s: %q", when, out)
		}
		return err
	}
}
