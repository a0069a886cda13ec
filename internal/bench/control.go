package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pafs/pafs/remote/emulator"
)

// valueFiles are the files of webapps/DOMAIN/ whose content comes from the
// web app object (docs/layout.md); a mount without a cache reads the object
// once per file.
var valueFiles = []string{"config.json", "python_version", "source_directory", "working_directory",
	"virtualenv_path", "force_https", "password_protection_enabled", "password_protection_username",
	"password_protection_password", "enabled"}

const taskCommand = "echo pafs-bench"

// controlPhases is workload 8: the control folders (webapps/, schedule/).
func controlPhases(s *suite) []*phase {
	avail := func(mnt string) string {
		if _, err := os.Stat(filepath.Join(mnt, "webapps")); err != nil {
			return "not available: the control folders are not built yet (no MOUNTPOINT/webapps)"
		}
		return ""
	}
	reloads, creates := 0, 0
	return []*phase{{
		id: "8a", workload: "8", name: "cat webapps/*/*", cmds: []string{"cat webapps/*/*"},
		tools: []string{"cat"}, noLocal: true, avail: avail,
		run: func(r *runner) error {
			// Some entries are directories (logs/, ssl/): cat complains
			// about them and exits 1, which is expected.
			out, _ := r.shIn(r.root, "cat webapps/*/* 2>/dev/null")
			if !strings.Contains(out, "/home/") {
				return fmt.Errorf("cat webapps/*/*: no web app settings in the output: %q", tail(out, 300))
			}
			return nil
		},
		min: func(e *emulator.Emulator) model {
			n := len(e.Webapps())
			return model{steps: []step{free("GET webapps", 1), then(0, "GET files/path", n)},
				how: fmt.Sprintf("one GET webapps/ (it returns every app's whole object, so every value file of "+
					"every app), then one download per app's WSGI file (%d): a GET of a file path "+
					"answers the file without a listing of /var/www", n)}
		},
		naive:    func(n *naive) error { return n.catWebapps() },
		naiveHow: fmt.Sprintf("GET webapps/, then per app one GET webapps/D/ per value file (%d) and one download of the WSGI file", len(valueFiles)),
	}, {
		id: "8b", workload: "8", name: "touch reload", noLocal: true, avail: avail,
		cmds:    []string{"touch webapps/D/reload"},
		prepare: func(r *runner) error { reloads = r.reloads(); return nil },
		run: func(r *runner) error {
			_, err := r.shIn(r.root, "touch webapps/"+r.firstDomain()+"/reload")
			return err
		},
		done: func(e *emulator.Emulator) bool { return totalReloads(e) > reloads },
		min: func(*emulator.Emulator) model {
			return model{steps: []step{free("POST webapps/{domain}/reload", 1)}, how: "one reload"}
		},
		expect: true, naive: func(n *naive) error { return n.reload() }, naiveHow: "one reload",
	}, {
		id: "8c", workload: "8", name: "create and delete a task", noLocal: true, avail: avail,
		cmds:    []string{"echo JSON > schedule/new", "rmdir schedule/$(readlink schedule/latest)"},
		prepare: func(r *runner) error { creates = r.count("POST", "schedule"); return nil },
		run: func(r *runner) error {
			_, err := r.shIn(r.root, `printf '%s' '{"command": "`+taskCommand+`", "interval": "daily", "hour": 3, "minute": 0}' > schedule/new `+
				`&& id=$(readlink schedule/latest) && test -n "$id" && rmdir schedule/$id`)
			return err
		},
		done: func(e *emulator.Emulator) bool { return e.Count("POST", "schedule") > creates && !hasTask(e) },
		min: func(*emulator.Emulator) model {
			return model{steps: []step{free("POST schedule", 1), then(0, "DELETE schedule/{id}", 1)},
				how: "one create (its answer carries the id), one delete"}
		},
		naive: func(n *naive) error { return n.task() }, naiveHow: "one create, one delete",
	}}
}

// firstDomain is the first web app's domain, from the mount's listing.
func (r *runner) firstDomain() string {
	ents, err := os.ReadDir(filepath.Join(r.root, "webapps"))
	if err != nil || len(ents) == 0 {
		return "none"
	}
	return ents[0].Name()
}

func (r *runner) reloads() int {
	if r.emu == nil {
		return 0
	}
	return totalReloads(r.emu)
}

func (r *runner) count(method, family string) int {
	if r.emu == nil {
		return 0
	}
	return r.emu.Count(method, family)
}

func totalReloads(e *emulator.Emulator) int {
	n := 0
	for _, w := range e.Webapps() {
		n += w.Reloads
	}
	return n
}

func hasTask(e *emulator.Emulator) bool {
	for _, t := range e.ScheduledTasks() {
		if t.Command == taskCommand {
			return true
		}
	}
	return false
}
