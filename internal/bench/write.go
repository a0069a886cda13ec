package bench

import (
	"bytes"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/pafs/pafs/remote/emulator"
)

// project is a 50-file source tree: a few directories, small files.
func project(n int) map[string][]byte {
	dirs := []string{"", "app", "app/models", "tests", "static", "templates", "docs"}
	out := map[string][]byte{}
	for i := range n {
		p := path.Join(dirs[i%len(dirs)], fmt.Sprintf("module%02d.py", i))
		out[p] = text(p, 10+i%40, false)
	}
	return out
}

// changed returns files with k of them edited.
func changed(files map[string][]byte, k int) map[string][]byte {
	out := map[string][]byte{}
	i := 0
	for _, p := range sortedKeys(files) {
		out[p] = files[p]
		if i < k {
			out[p] = append(bytes.Clone(files[p]), []byte("# changed\n")...)
		}
		i++
	}
	return out
}

// copyPhases is workload 3: cp -r of a project into the mount, then rsync -a
// of the same project with a few files changed.
func copyPhases(s *suite) []*phase {
	n, k := s.sz.project, s.sz.changed
	v1, v2 := filepath.Join(s.work, "project-v1"), filepath.Join(s.work, "project-v2")
	return []*phase{{
		id: "3a", workload: "3", name: fmt.Sprintf("cp -r (%d files)", n),
		cmds: []string{"cp -r project proj"}, tools: []string{"cp"},
		run:  func(r *runner) error { _, err := r.sh("cp -r " + v1 + " proj"); return err },
		done: func(e *emulator.Emulator) bool { return sameFiles(e, home+"/proj", s.projectV1) },
		min: func(*emulator.Emulator) model {
			return model{steps: []step{free("POST files/path", n)},
				how: "one upload per file; an upload creates missing parent directories"}
		},
		expect: true, naive: func(nv *naive) error { return nv.uploadAll(home+"/proj", s.projectV1) },
		naiveHow: "upload every file",
	}, {
		id: "3b", workload: "3", name: fmt.Sprintf("rsync -a (%d of %d changed)", k, n), after: "3a",
		cmds: []string{"rsync -a project/ proj/"}, tools: []string{"rsync"},
		run:  func(r *runner) error { _, err := r.sh("rsync -a " + v2 + "/ proj/"); return err },
		done: func(e *emulator.Emulator) bool { return sameFiles(e, home+"/proj", s.projectV2) },
		min: func(*emulator.Emulator) model {
			return model{steps: []step{free("POST files/path", k)},
				how: fmt.Sprintf("one upload per changed file: the other %d are byte for byte what the server holds, which a client that wrote them knows", n-k)}
		},
		naive:    func(nv *naive) error { return nv.uploadAll(home+"/proj", s.projectV2) },
		naiveHow: "upload every file again: the API has no sizes, times or hashes to compare",
	}}
}

// tarPhases is workload 6: tar x of an archive.
func tarPhases(s *suite) []*phase {
	n := s.sz.tarFiles
	archive := filepath.Join(s.work, "archive.tar")
	return []*phase{{
		id: "6", workload: "6", name: fmt.Sprintf("tar x (%d files)", n),
		cmds: []string{"tar xf archive.tar"}, tools: []string{"tar"},
		run:  func(r *runner) error { _, err := r.sh("tar xf " + archive); return err },
		done: func(e *emulator.Emulator) bool { return sameFiles(e, home+"/pkg", s.tarFiles) },
		min: func(*emulator.Emulator) model {
			return model{steps: []step{free("POST files/path", n)}, how: "one upload per file"}
		},
		expect: true, naive: func(nv *naive) error { return nv.uploadAll(home+"/pkg", s.tarFiles) },
		naiveHow: "upload every file of the archive",
	}}
}

// tarTree is the archive's content, below pkg/.
func tarTree(n int) map[string][]byte {
	out := map[string][]byte{}
	for i := range n {
		p := fmt.Sprintf("d%d/sub%d/f%03d.dat", i%10, i%3, i)
		out[p] = text(p, 5+i%30, false)
	}
	return out
}

// sameFiles reports whether the server holds exactly files (relative to
// root) below root.
func sameFiles(e *emulator.Emulator, root string, files map[string][]byte) bool {
	got := e.Files(root)
	if len(got) != len(files) {
		return false
	}
	for rel, want := range files {
		if !bytes.Equal(got[root+"/"+rel], want) {
			return false
		}
	}
	return true
}

// hasFiles reports whether the server holds every one of paths below root
// (relative, slash-separated); other files may be there too.
func hasFiles(e *emulator.Emulator, root string, paths []string) bool {
	got := e.Files(root)
	for _, rel := range paths {
		if _, ok := got[root+"/"+strings.TrimPrefix(rel, "/")]; !ok {
			return false
		}
	}
	return true
}
