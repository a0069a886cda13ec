package e2e

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/mounttest"
	"github.com/pafs/pafs/remote/emulator"
)

// The token never shows — not in the log at any level (-v, --debug-fuse,
// --log-file), not in .pafs/status, not in the errors pafs reports (even
// when the server echoes it back in an error page), not in argv, not on
// disk in the cache directory, and not in a goroutine dump (SIGQUIT: the
// only "core dump" pafs makes). TestTokenStaysSecret covers -v with the
// plain paths; this one drives every error path it can.
func TestSecurityTokenNeverShows(t *testing.T) {
	const token = "f00dfacecafebabe0123456789abcdef01234567"
	logFile := filepath.Join(t.TempDir(), "pafs.log")
	echo := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			auth := req.Header.Get("Authorization")
			switch {
			case strings.HasSuffix(req.URL.Path, "/echo-json"):
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"detail": "you sent %s", "token": [%q]}`, auth, token)
			case strings.HasSuffix(req.URL.Path, "/echo-html"):
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadGateway)
				fmt.Fprintf(w, "<html><title>proxy saw %s</title><body>%s</body></html>", auth, token)
			case strings.HasSuffix(req.URL.Path, "/echo-text"):
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprintf(w, "denied for %s", token)
			default:
				h.ServeHTTP(w, req)
			}
		})
	}
	r := startRig(t, rigOptions{
		Parallel: true,
		Emulator: emulator.Config{Token: token},
		Wrap:     echo,
		Args:     []string{"-v", "--debug-fuse", "--log-file", logFile, "--write-back", "20ms", "--retries", "1"},
	})
	// Normal work, then every error path: 4xx and 5xx pages echoing the
	// token, failed uploads (refused for good, and retried), downloads,
	// listings, 429s, a dead connection.
	r.MustSh(r.Home, "echo data > f.txt && cat f.txt && ls -la && mkdir -p d/e && mv f.txt d/e/g.txt && rm -r d")
	for _, n := range []string{"echo-json", "echo-html", "echo-text"} {
		r.Sh(r.Home, "cat "+n+"; ls "+n+"/; echo x > "+n)
	}
	r.emu.SetFaults(emulator.Faults{ErrorRate: 0.5, DropRate: 0.3, MalformedRate: 0.3})
	r.Sh(r.Home, "for i in 1 2 3 4 5; do echo $i > faulty$i.txt; cat faulty$i.txt; ls; done")
	// 429s are waited out (they spend no retries): the storm ends by itself.
	r.emu.SetFaults(emulator.Faults{ThrottleStorm: true})
	time.AfterFunc(2500*time.Millisecond, func() { r.emu.SetFaults(emulator.Faults{}) })
	r.Sh(r.Home, "ls newdir; cat nothere")
	r.emu.SetFaults(emulator.Faults{})
	r.WaitFor("the refused uploads to be tried", 20*time.Second, func() bool {
		for _, op := range r.Status().Queue.Ops {
			if strings.Contains(op.Path, "echo-") && op.Tries > 0 {
				return true
			}
		}
		return false
	})
	status := readFile(t, filepath.Join(r.Dir, ".pafs", "status")) + readFile(t, filepath.Join(r.Dir, ".pafs", "status.json"))
	statusCmd, _ := pafs(t, nil, "status", r.Dir)
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(r.Pid()) + "/cmdline")
	// A goroutine dump, as on a crash.
	pid := r.Pid()
	syscall.Kill(pid, syscall.SIGQUIT)
	r.WaitFor("the goroutine dump", 10*time.Second, func() bool { return syscall.Kill(pid, 0) != nil })
	r.Kill()
	logged, _ := os.ReadFile(logFile)
	if !bytes.Contains(logged, []byte("level=DEBUG")) || !bytes.Contains(logged, []byte("echo-json")) {
		t.Fatalf("the log file lacks debug lines or the error paths: the test would prove nothing:\n%s", logged)
	}
	if !strings.Contains(r.Log(), "goroutine ") {
		t.Fatalf("no goroutine dump after SIGQUIT:\n%s", r.Log())
	}
	if !strings.Contains(status, "echo-") || !strings.Contains(status, "Last errors") {
		t.Fatalf("the status lacks the errors: the test would prove nothing:\n%s", status)
	}
	var cache bytes.Buffer
	filepath.WalkDir(r.CacheDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			cache.Write(b)
		}
		return nil
	})
	for what, text := range map[string]string{
		"log file (-v, --debug-fuse)":     string(logged),
		"stderr (goroutine dump)":         r.Log(),
		".pafs/status and status.json":    status,
		"pafs status":                     statusCmd,
		"argv":                            string(cmdline),
		"cache directory (journal, data)": cache.String(),
	} {
		if strings.Contains(text, token) {
			i := strings.Index(text, token)
			t.Errorf("the token appears in the %s: ...%s...", what, text[max(0, i-80):min(len(text), i+60)])
		}
	}
	if !strings.Contains(string(logged), "[REDACTED]") {
		t.Error("no echoed token was redacted: did the echo paths run?")
	}
}

// A token file readable by others gets a warning; one that is not, none.
func TestSecurityTokenFilePermissions(t *testing.T) {
	for _, c := range []struct {
		mode os.FileMode
		warn bool
	}{{0o644, true}, {0o640, true}, {0o600, false}, {0o400, false}} {
		t.Run(c.mode.String(), func(t *testing.T) {
			tok := emulator.NewToken()
			file := filepath.Join(t.TempDir(), "token")
			os.WriteFile(file, []byte(tok+"\n"), c.mode)
			os.Chmod(file, c.mode)
			r := startRig(t, rigOptions{Parallel: true, Emulator: emulator.Config{Token: tok},
				Args: []string{"--token-file", file}, Env: []string{"API_TOKEN="}})
			if got := strings.Contains(r.Log(), "readable by other users"); got != c.warn {
				t.Errorf("token file %v: warned %v, want %v\n%s", c.mode, got, c.warn, r.Log())
			}
		})
	}
}

// Plain http:// is refused for anything but a loopback address (the token
// is in every request), whatever the spelling; https:// always verifies the
// certificate, and there is no switch to turn that off.
func TestSecurityTransport(t *testing.T) {
	mounttest.RequireFUSE(t)
	t.Parallel()
	emu := emulator.New(emulator.Config{Username: "alice", Token: "good-token", RateLimit: -1})
	tlsSrv := httptest.NewTLSServer(emu)
	defer tlsSrv.Close()
	env := []string{"API_TOKEN=good-token"}
	for _, u := range []string{
		"http://example.com", "HTTP://example.com", "http://10.0.0.1:8080", "http://192.168.1.10",
		"http://[2001:db8::1]", "http://127.0.0.1.nip.io", "http://localhost.example.com",
		"http://0x7f000001", "ftp://127.0.0.1",
	} {
		out, code := pafs(t, env, "mount", "--api-url", u, "--username", "alice", t.TempDir())
		if code == 0 || !(strings.Contains(out, "refusing plain http://") || strings.Contains(out, "scheme must be https")) {
			t.Errorf("--api-url %s: exit %d, %q; want a refusal", u, code, out)
		}
	}
	// A self-signed certificate is refused, with a clear reason.
	dir := t.TempDir()
	out, code := pafs(t, env, "mount", "--api-url", tlsSrv.URL, "--username", "alice", dir)
	if code == 0 || !strings.Contains(out, "certificate") {
		t.Errorf("self-signed https server: exit %d, %q; want a certificate error", code, out)
	}
	if mounttest.Mounted(dir) {
		syscall.Unmount(dir, syscall.MNT_DETACH)
		t.Fatal("mounted over an unverified TLS connection")
	}
	help, _ := pafs(t, nil, "mount", "--help")
	for _, word := range []string{"insecure", "skip-verify", "no-verify", "tls-verify"} {
		if strings.Contains(strings.ToLower(help), word) {
			t.Errorf("pafs mount --help offers %q", word)
		}
	}
	// The refusal is about trust, not TLS: trusting the certificate (the
	// system's way, SSL_CERT_FILE) makes the same server acceptable.
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	os.WriteFile(certFile, pemData, 0o644)
	cmd := exec.Command(mounttest.Binary(t), "mount", "--api-url", tlsSrv.URL, "--username", "alice",
		"--cache-dir", t.TempDir(), dir)
	cmd.Env = append(cleanEnv(), "API_TOKEN=good-token", "SSL_CERT_FILE="+certFile)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if mounttest.Mounted(dir) {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), "pafs: mounted") {
		if time.Now().After(deadline) {
			t.Fatalf("with the certificate trusted, the mount did not come up:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, "files", "home", "alice")); err != nil {
		t.Errorf("trusted TLS mount: %v", err)
	}
}

// The mount is private by default: no allow_other (other users, root
// included, get EACCES from the kernel), default_permissions on; the cache
// directory, the upload queue and the content cache are 0700, their files
// 0600. --allow-other opens it, which shows the refusal is the mount's.
func TestSecurityMountIsPrivate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("no setpriv to act as another user")
	}
	for _, allowOther := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow-other=%v", allowOther), func(t *testing.T) {
			var args []string
			if allowOther {
				args = append(args, "--allow-other")
			}
			r := startRig(t, rigOptions{Parallel: true, Args: append(args, "--write-back", "1h")})
			writeLocal(t, filepath.Join(r.Home, "secret.txt"), []byte("mine\n"))
			// Let others reach the mount point, so that only the mount decides.
			for d := r.Dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
				os.Chmod(d, 0o755)
			}
			opts := mountOptions(t, r.Dir)
			if strings.Contains(opts, "allow_other") != allowOther || !strings.Contains(opts, "default_permissions") {
				t.Errorf("mount options %q: want default_permissions, allow_other %v", opts, allowOther)
			}
			out, err := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
				"cat", filepath.Join(r.Home, "secret.txt")).CombinedOutput()
			if allowOther {
				if err != nil || string(out) != "mine\n" {
					t.Errorf("with --allow-other, another user reads: %v %q", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(string(out), "Permission denied") {
				t.Errorf("another user read the private mount: %v %q", err, out)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Errorf("setpriv: %v", err)
			}
			// Modes of what pafs keeps on disk. The cache directory itself is
			// the test's (an existing directory keeps its mode; one pafs
			// creates is 0700: TestCacheDirForeign).
			filepath.WalkDir(r.CacheDir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || p == r.CacheDir {
					return err
				}
				st, _ := d.Info()
				want := os.FileMode(0o600)
				if d.IsDir() {
					want = 0o700
				}
				if st.Mode().Perm()&^want != 0 {
					t.Errorf("%s: mode %v, want at most %v", p, st.Mode().Perm(), want)
				}
				return nil
			})
			for _, sub := range []string{"queue", "content"} {
				st, err := os.Stat(filepath.Join(r.CacheDir, sub))
				if err != nil || st.Mode().Perm() != 0o700 {
					t.Errorf("cache dir %q: %v, mode %v, want 0700", sub, err, st.Mode().Perm())
				}
			}
		})
	}
}

// mountOptions returns the mount's options from /proc/self/mountinfo (both
// the per-mount and the super-block ones).
func mountOptions(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 9 && f[4] == dir {
			return f[5] + " " + f[len(f)-1]
		}
	}
	t.Fatalf("%s not in mountinfo", dir)
	return ""
}
