// Package e2e drives real pafs mounts with real programs against the emulator.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// start mounts a fresh emulator with latency on and rate limiting off (the
// limiter has tests of its own), a short write-back delay, and extra flags.
func start(t *testing.T, args ...string) *mounttest.Env {
	t.Helper()
	t.Parallel()
	return mounttest.Start(t, mounttest.Options{
		Emulator: emulator.Config{Latency: 5 * time.Millisecond, RateLimit: -1},
		Args:     append([]string{"--write-back", "100ms"}, args...),
	})
}

// seedTree writes dirs×files files under root on the emulator, plus a
// dotfile in every third directory, and returns every file's path.
func seedTree(e *mounttest.Env, root string, dirs, files int) map[string][]byte {
	out := map[string][]byte{}
	for d := 0; d < dirs; d++ {
		for f := 0; f < files; f++ {
			p := fmt.Sprintf("%s/dir%02d/file%02d.txt", root, d, f)
			data := []byte(strings.Repeat(fmt.Sprintf("%s line\n", p), d+f+1))
			e.Emu.WriteFile(p, data)
			out[p] = data
		}
		if d%3 == 0 {
			p := fmt.Sprintf("%s/dir%02d/.hidden", root, d)
			e.Emu.WriteFile(p, []byte("dot\n"))
			out[p] = []byte("dot\n")
		}
	}
	return out
}

// remote returns the emulator's copy of a file below the home directory.
func remote(e *mounttest.Env, rel string) (string, bool) {
	b, ok := e.Emu.ReadFile("/home/" + e.User + "/" + rel)
	return string(b), ok
}

// waitRemote waits until the emulator holds want at rel (home-relative).
func waitRemote(t *testing.T, e *mounttest.Env, rel, want string) {
	t.Helper()
	e.WaitFor("remote "+rel, 30*time.Second, func() bool {
		got, ok := remote(e, rel)
		return ok && got == want
	})
}

// equalCounts fails unless the request counts are exactly want.
func equalCounts(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: requests %v, want %v", what, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: requests %v, want %v", what, got, want)
			return
		}
	}
}

func writeLocal(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

func mustEqual(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes %q..., want %d bytes %q...", what, len(got), head(got), len(want), head(want))
	}
}

func head(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}
