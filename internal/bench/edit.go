package bench

import (
	"bytes"
	"fmt"

	"github.com/pafs/pafs/remote/emulator"
)

// editorFile is the file each editor saves, below edit/.
func editorFile(editor string) string { return "edit/" + editor + ".py" }

func editSource(editor string) []byte {
	return []byte("# " + editor + " edits this file\nimport os\n\nvalue = 0\n\ndef main():\n    print(value, os.getcwd())\n")
}

// saveScript is one save: open the file, change "value = k-1" into
// "value = k", write it, quit.
func saveScript(editor string, k int) string {
	f := editorFile(editor)
	from, to := fmt.Sprintf("value = %d", k-1), fmt.Sprintf("value = %d", k)
	switch editor {
	case "vim":
		// vim's defaults: a swap file beside the file and a write backup;
		// both are editor temp files that must stay local.
		return fmt.Sprintf("vim -u NONE -N -es -c 'set swapfile directory=. writebackup' -c '%%s/%s/%s/' -c wq %s", from, to, f)
	case "nano":
		// nano needs a terminal (script(1) gives it one) and drops keys
		// typed while it starts, so they are paced: ^\ search and replace
		// (All), ^O write (Enter), ^X exit.
		keys := fmt.Sprintf(`sleep .5; printf '\034'; sleep .2; printf '%s\r'; sleep .2; printf '%s\r'; sleep .2; `+
			`printf A; sleep .2; printf '\017'; sleep .2; printf '\r'; sleep .3; printf '\030'; sleep .3`, from, to)
		return "(" + keys + ") | script -qec 'nano " + f + "' /dev/null >/dev/null"
	}
	return fmt.Sprintf("sed -i 's/%s/%s/' %s", from, to, f)
}

// editPhases is workload 4: saves from vim, nano and sed -i, each waiting
// for the server to hold the save before the next, as a person would save,
// read and edit again.
func editPhases(s *suite) []*phase {
	var out []*phase
	for i, ed := range s.sz.editors {
		tools := []string{ed}
		if ed == "nano" {
			tools = append(tools, "script")
		}
		out = append(out, &phase{
			id: fmt.Sprintf("4%c", 'a'+i), workload: "4", name: fmt.Sprintf("%s: %d saves", ed, s.sz.saves),
			cmds: []string{saveScript(ed, 1)}, tools: tools,
			run:  func(r *runner) error { return saves(r, ed, s.sz.saves) },
			done: func(e *emulator.Emulator) bool { return saved(e, ed, s.sz.saves) },
			min: func(*emulator.Emulator) model {
				return model{steps: []step{free("GET files/path", 1), {key: "POST files/path", n: s.sz.saves, serial: true}},
					how: "one download when the editor first reads the file, then one upload per save"}
			},
			expect: true, naive: func(n *naive) error { return n.saves(ed, s.sz.saves) },
			naiveHow: "per save: download the file, upload it (a mount without a cache reads on every open)",
		})
	}
	return out
}

// saves runs n saves, each followed by a wait for the server (on the mount).
func saves(r *runner, editor string, n int) error {
	for k := 1; k <= n; k++ {
		if _, err := r.sh(saveScript(editor, k)); err != nil {
			return err
		}
		if err := r.settle(func(e *emulator.Emulator) bool { return saved(e, editor, k) }); err != nil {
			return fmt.Errorf("save %d: %w", k, err)
		}
	}
	return nil
}

// saved reports whether the server holds save k of editor's file.
func saved(e *emulator.Emulator, editor string, k int) bool {
	b, ok := e.ReadFile(home + "/" + editorFile(editor))
	return ok && bytes.Contains(b, fmt.Appendf(nil, "value = %d\n", k))
}
