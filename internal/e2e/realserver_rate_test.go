package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// A server that counts one budget for the whole API, against a mount that
// spends several families' at once (uploads, shares, the control folders'
// listings): a handful of 429s, after which the mount shares one budget
// among them, says so in .pafs/status, and everything completes.
func TestCoarseServerBurst(t *testing.T) {
	if _, err := exec.LookPath("setfattr"); err != nil {
		t.Skip("attr tools not installed")
	}
	t.Parallel()
	e := mounttest.Start(t, mounttest.Options{
		Emulator: emulator.Config{Demo: true, Latency: 5 * time.Millisecond, RateLimit: 10, RateWindow: time.Second,
			Quirks: emulator.Quirks{RateScope: emulator.ScopeAPI}},
		Args: []string{"--write-back", "100ms"},
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	run := func(dir, script string) {
		defer wg.Done()
		if out, code := e.Sh(dir, script); code != 0 {
			mu.Lock()
			failures = append(failures, fmt.Sprintf("%s: exit %d: %s", script, code, out))
			mu.Unlock()
		}
	}
	wg.Add(3)
	go run(e.Home, "for i in $(seq 40); do echo $i > f$i.txt || exit 1; done")
	go run(e.Home, "for i in $(seq 20); do setfattr -n user.pafs.share -v 1 README.txt || exit 1; done")
	go run(e.Dir, "for i in $(seq 4); do ls webapps schedule always_on consoles > /dev/null || exit 1; sleep 0.3; done")
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	e.WaitIdle()
	for i := 1; i <= 40; i++ {
		if got, ok := remote(e, fmt.Sprintf("f%d.txt", i)); !ok || got != fmt.Sprintf("%d\n", i) {
			t.Errorf("f%d.txt on the server: %q %v", i, got, ok)
		}
	}
	n := e.Emu.Stats().Total429
	t.Logf("429s: %d (%v); requests %v", n, e.Emu.Stats().Throttled, e.Counts())
	if n > 5 {
		t.Errorf("%d 429s, want a handful", n)
	}
	st := e.Status()
	if len(st.Budgets) != 1 || !strings.Contains(strings.Join(st.Budgets[0].Families, " "), "files/path") {
		t.Errorf("adapted budgets %+v", st.Budgets)
	}
	text, _ := os.ReadFile(filepath.Join(e.Dir, ".pafs", "status"))
	if !strings.Contains(string(text), "Budgets adapted to the server") {
		t.Errorf("status:\n%s", text)
	}
}
