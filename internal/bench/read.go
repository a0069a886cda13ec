package bench

import (
	"bytes"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/pafs/pafs/remote/emulator"
)

// tree returns dirs×(files/dirs) files below root (relative paths), one of
// them a dotfile in every third directory, with a "needle" line in every
// fourth file.
func tree(root string, dirs, files int) map[string][]byte {
	out := map[string][]byte{}
	per := files / dirs
	for d := range dirs {
		for f := range per {
			name := fmt.Sprintf("file%02d.txt", f)
			if f == 0 && d%3 == 0 {
				name = ".hidden"
			}
			p := path.Join(root, fmt.Sprintf("dir%02d", d), name)
			out[p] = text(p, 20+(d*7+f*13)%60, (d+f)%4 == 0)
		}
	}
	return out
}

// text is a deterministic text file of n lines, with a line saying
// "needle" when needle is set.
func text(seed string, n int, needle bool) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "%s line %d: the quick brown fox jumps over the lazy dog %d\n", seed, i, i*i)
		if needle && i == n/2 {
			b.WriteString("a needle in the haystack\n")
		}
	}
	return b.Bytes()
}

func countNeedles(files map[string][]byte) int {
	n := 0
	for _, b := range files {
		n += bytes.Count(b, []byte("needle"))
	}
	return n
}

// treePhases is workload 1: ls -lR, then find, over 300 files in 30 dirs;
// then ls -l of a directory of 100 files nothing has read.
func treePhases(s *suite) []*phase {
	dirs := s.sz.treeDirs
	listing := model{steps: []step{free("GET files/path", 1), then(0, "GET files/path", dirs)},
		how: fmt.Sprintf("one listing per directory (1+%d): a listing is one level and carries every name and type; "+
			"files/tree would be one request but omits dotfiles", dirs)}
	naiveHow := "list every directory (one GET each)"
	walk := func(n *naive) error { _, err := n.walk(home + "/tree"); return err }
	lsLR := walk
	flat := model{steps: []step{free("GET files/path", 1)}, how: "one listing"}
	flatNaive := func(n *naive) error { _, err := n.c.ListDir(n.ctx, home+"/"+flatDir); return err }
	flatHow := "list the directory"
	if !s.cfg.lazySizes() {
		// The API reports no size: a file's costs one download.
		listing.steps = append(listing.steps, then(1, "GET files/path", s.sz.treeFiles))
		listing.how += fmt.Sprintf("; one download per file (%d) for its size: the API has no stat", s.sz.treeFiles)
		naiveHow = "list every directory and download every file (sizes)"
		lsLR = func(n *naive) error { return n.readTree(home + "/tree") }
		flat.steps = append(flat.steps, then(0, "GET files/path", flatFiles))
		flat.how = fmt.Sprintf("one listing, then one download per file (%d) for its size: the API has no stat", flatFiles)
		flatNaive = func(n *naive) error { return n.readTree(home + "/" + flatDir) }
		flatHow = "list the directory, download every file (sizes)"
	}
	return []*phase{{
		id: "1a", workload: "1", name: fmt.Sprintf("ls -lR (%d files, %d dirs)", s.sz.treeFiles, dirs+1),
		cmds: []string{"ls -lR tree"}, tools: []string{"ls"},
		run:    func(r *runner) error { return r.expectLines("ls -lRa tree | grep -c 'file\\|hidden'", s.sz.treeFiles) },
		min:    func(*emulator.Emulator) model { return listing },
		expect: true, naive: lsLR, naiveHow: naiveHow,
	}, {
		id: "1b", workload: "1", name: "find (inside the TTL)", after: "1a",
		cmds: []string{"find tree"}, tools: []string{"find"},
		run: func(r *runner) error { return r.expectLines("find tree -type f | wc -l", s.sz.treeFiles) },
		min: func(*emulator.Emulator) model {
			return model{how: "every listing is still fresh (inside --dir-cache-time)"}
		},
		expect: true, naive: walk, naiveHow: "list every directory again (no cache)",
	}, {
		id: "1c", workload: "1", name: fmt.Sprintf("ls -l (%d files, cold)", flatFiles),
		cmds: []string{"ls -l " + flatDir}, tools: []string{"ls"},
		run: func(r *runner) error {
			size := "[1-9][0-9]*" // every file holds something
			if s.cfg.lazySizes() {
				size = "[0-9]*" // the mount shows 0
			}
			return r.expectLines("ls -l "+flatDir+" | grep -c ' "+size+" [A-Z][a-z][a-z] .* f[0-9]*\\.txt$'", flatFiles)
		},
		min:    func(*emulator.Emulator) model { return flat },
		expect: true, naive: flatNaive, naiveHow: flatHow,
	}, {
		id: "1d", workload: "1", name: "ls -lR after a remount (inside the TTL)", after: "1b", remount: true,
		cmds: []string{"(unmount, mount)", "ls -lR tree"}, tools: []string{"ls"},
		run: func(r *runner) error { return r.expectLines("ls -lRa tree | grep -c 'file\\|hidden'", s.sz.treeFiles) },
		min: func(*emulator.Emulator) model {
			return model{how: "the listings the last mount fetched are still fresh (the TTL counts from the fetch, " +
				"whichever mount made it), and sizes, inode numbers and mtimes are in the metadata store"}
		},
		expect: true, naive: lsLR, naiveHow: naiveHow + " again (no cache)",
	}}
}

// flatDir holds flatFiles files of different sizes, which only phase 1c
// reads.
const (
	flatDir   = "flat"
	flatFiles = 100
)

// flatTree is flatDir's files (relative paths).
func flatTree() map[string][]byte {
	out := map[string][]byte{}
	for i := range flatFiles {
		p := fmt.Sprintf("%s/f%03d.txt", flatDir, i)
		out[p] = text(p, 1+i%40, false)
	}
	return out
}

// grepPhases is workload 2: grep -r over a tree, twice.
func grepPhases(s *suite) []*phase {
	files := tree("greptree", s.sz.grepDirs, s.sz.grepFiles)
	needles := countNeedles(files)
	script := "grep -r needle greptree | wc -l"
	grep := func(n *naive) error { return n.readTree(home + "/greptree") }
	return []*phase{{
		id: "2a", workload: "2", name: fmt.Sprintf("grep -r (%d files, cold)", s.sz.grepFiles),
		cmds: []string{"grep -r needle greptree"}, tools: []string{"grep"},
		run: func(r *runner) error { return r.expectLines(script, needles) },
		min: func(*emulator.Emulator) model {
			return model{steps: []step{free("GET files/path", 1), then(0, "GET files/path", s.sz.grepDirs),
				then(1, "GET files/path", s.sz.grepFiles)},
				how: fmt.Sprintf("1+%d listings, then one download per file (%d): the API has no bulk read",
					s.sz.grepDirs, s.sz.grepFiles)}
		},
		expect: true, naive: grep, naiveHow: "list every directory, download every file",
	}, {
		id: "2b", workload: "2", name: "grep -r again (inside the TTL)", after: "2a",
		cmds: []string{"grep -r needle greptree"}, tools: []string{"grep"},
		run: func(r *runner) error { return r.expectLines(script, needles) },
		min: func(*emulator.Emulator) model {
			return model{how: "listings and contents are still fresh"}
		},
		expect: true, naive: grep, naiveHow: "list and download everything again (no cache)",
	}}
}

// expectLines runs script and checks that it prints the number want.
func (r *runner) expectLines(script string, want int) error {
	out, err := r.sh(script)
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(out); got != strconv.Itoa(want) {
		return fmt.Errorf("%s: got %q, want %d", script, got, want)
	}
	return nil
}
