package bench

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pafs/pafs/remote/emulator"
)

// suite is the workloads of one run and the local files they use.
type suite struct {
	cfg    Config
	sz     sizes
	root   string   // temporary directory of the run
	work   string   // sources: projects, archive, git repository
	mirror string   // the local-disk home directory (baseline)
	env    []string // environment of the programs

	projectV1, projectV2, tarFiles map[string][]byte
	gitURL                         string
	cloneFiles, cloneEmpty         []string // of a clone on local disk

	phases []*phase
}

// newSuite makes the run's directories and sources and picks the phases.
func newSuite(ctx context.Context, c Config) (s *suite, err error) {
	root, err := os.MkdirTemp(c.WorkDir, "pafs-bench-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(root)
		}
	}()
	s = &suite{cfg: c, sz: c.sizes(), root: root, work: filepath.Join(root, "work"), mirror: filepath.Join(root, "local")}
	s.env = commandEnv(filepath.Join(root, "userhome"))
	for _, d := range []string{s.work, s.mirror, filepath.Join(root, "userhome")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := s.sources(ctx); err != nil {
		return nil, fmt.Errorf("preparing the sources: %w", err)
	}
	all := slices.Concat(treePhases(s), grepPhases(s), copyPhases(s), editPhases(s),
		gitPhases(s), tarPhases(s), streamPhases(s), controlPhases(s), followPhases(s))
	s.phases = selectPhases(c, all)
	if len(s.phases) == 0 {
		return nil, fmt.Errorf("--only %s selects no workload (1–9, or a phase like 4b)", strings.Join(c.Only, ","))
	}
	return s, nil
}

// selectPhases keeps the selected phases and the ones they build on.
func selectPhases(c Config, all []*phase) []*phase {
	keep := map[string]bool{}
	for i := len(all) - 1; i >= 0; i-- {
		p := all[i]
		if c.selected(p.workload, p.id) || keep[p.id] {
			keep[p.id] = true
			if p.after != "" {
				keep[p.after] = true
			}
		}
	}
	var out []*phase
	for _, p := range all {
		if keep[p.id] {
			out = append(out, p)
		}
	}
	return out
}

// sources writes the local files the workloads copy from.
func (s *suite) sources(ctx context.Context) error {
	s.projectV1 = project(s.sz.project)
	s.projectV2 = changed(s.projectV1, s.sz.changed)
	s.tarFiles = tarTree(s.sz.tarFiles)
	for dir, files := range map[string]map[string][]byte{"project-v1": s.projectV1, "project-v2": s.projectV2, "pkg": s.tarFiles} {
		if err := writeTree(filepath.Join(s.work, dir), files); err != nil {
			return err
		}
	}
	r := &runner{ctx: ctx, home: s.work, env: s.env}
	if _, err := r.sh("tar cf archive.tar pkg"); err != nil {
		return err
	}
	var err error
	if s.gitURL, err = gitRepo(r, filepath.Join(s.work, "src-repo"), s.sz.gitFiles); err != nil {
		return err
	}
	if _, err := r.sh("git clone -q " + s.gitURL + " ref-clone"); err != nil {
		return err
	}
	s.cloneFiles, s.cloneEmpty, err = treeShape(filepath.Join(s.work, "ref-clone"))
	return err
}

// seed puts the files the read and edit workloads start from on a server
// and, identically, in the local mirror.
func (s *suite) seed(emu *emulator.Emulator) {
	files := s.seedFiles()
	for _, rel := range sortedKeys(files) {
		emu.WriteFile(home+"/"+rel, files[rel])
	}
}

func (s *suite) seedMirror() error { return writeTree(s.mirror, s.seedFiles()) }

func (s *suite) seedFiles() map[string][]byte {
	files := tree("tree", s.sz.treeDirs, s.sz.treeFiles)
	maps.Copy(files, tree("greptree", s.sz.grepDirs, s.sz.grepFiles))
	maps.Copy(files, flatTree())
	for _, ed := range []string{"vim", "nano", "sed"} {
		files[editorFile(ed)] = editSource(ed)
	}
	files[followRel] = []byte("line 0\n")
	return files
}

func (s *suite) cleanup() {
	if !s.cfg.Keep {
		os.RemoveAll(s.root)
	}
}

func writeTree(root string, files map[string][]byte) error {
	for rel, b := range files {
		if err := writeFile(filepath.Join(root, rel), b); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

func sortedKeys[M ~map[K]V, K cmp.Ordered, V any](m M) []K {
	return slices.Sorted(maps.Keys(m))
}
