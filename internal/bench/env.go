package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pafs/pafs/internal/mountinfo"
	"github.com/pafs/pafs/internal/status"
	"github.com/pafs/pafs/remote/emulator"
)

// CheckFUSE says why a mount cannot be made here, or nil: pafs needs
// /dev/fuse, and either root or fusermount3 to mount without it.
func CheckFUSE() error {
	if err := mountinfo.CheckFUSE(mountinfo.DefaultFUSEDevice); err != nil {
		return fmt.Errorf("the benchmark mounts pafs: %w", err)
	}
	return nil
}

// server is an emulator served over real HTTP on loopback, as pafs and the
// naive client see the real API.
type server struct {
	emu  *emulator.Emulator
	url  string
	stop func()
}

func startServer(cfg emulator.Config) (*server, error) {
	emu := emulator.New(cfg)
	url, stop, err := emu.ServeLoopback()
	if err != nil {
		return nil, err
	}
	return &server{emu: emu, url: url, stop: stop}, nil
}

// mount is `pafs mount` running in a child process, so that this process can
// use the mount without deadlocking against its own FUSE server.
type mount struct {
	dir    string
	cmd    *exec.Cmd
	log    *lockedBuffer
	exited chan struct{}
	err    error // set when exited is closed
}

// startMount runs `pafs mount` against srv and waits for "pafs: mounted".
func startMount(ctx context.Context, bin string, srv *server, dir string, args []string) (*mount, error) {
	a := append([]string{"mount", "--api-url", srv.url, "--username", srv.emu.Username()}, args...)
	cmd := exec.Command(bin, append(a, dir)...)
	cmd.Env = append(os.Environ(), "API_TOKEN="+srv.emu.Token())
	m := &mount{dir: dir, cmd: cmd, log: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = m.log, m.log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pafs mount: %w", err)
	}
	go func() { m.err = cmd.Wait(); close(m.exited) }()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(m.log.String(), "pafs: mounted") {
		select {
		case <-m.exited:
			return nil, fmt.Errorf("pafs mount exited (%v):\n%s", m.err, m.log.String())
		case <-deadline:
			_ = m.stop() // the error below says what matters
			return nil, fmt.Errorf("pafs mount did not mount within 30s:\n%s", m.log.String())
		case <-ctx.Done():
			_ = m.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return m, nil
}

// stop sends SIGTERM (pafs uploads what is pending, then unmounts) and
// waits; a mount that does not go within a minute is killed and detached.
func (m *mount) stop() error {
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(time.Minute):
		m.cmd.Process.Kill()
		<-m.exited
		syscall.Unmount(m.dir, syscall.MNT_DETACH)
		return fmt.Errorf("pafs did not exit within a minute of SIGTERM:\n%s", m.log.String())
	}
	if m.err != nil {
		return fmt.Errorf("pafs mount exited with %v:\n%s", m.err, m.log.String())
	}
	return nil
}

// status reads MOUNTPOINT/.pafs/status.json.
func (m *mount) status() (status.Report, error) {
	var r status.Report
	b, err := os.ReadFile(filepath.Join(m.dir, ".pafs", "status.json"))
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

// waitServer waits until the upload queue is empty and done() agrees that
// the server holds the result. Both are needed: the kernel sends FUSE's
// release after close(2) has returned, so for a moment after a command exits
// its upload may not be queued yet.
func (m *mount) waitServer(ctx context.Context, done func() bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		r, err := m.status()
		if err == nil && r.Queue.Pending == 0 && r.Queue.InFlight == 0 && (done == nil || done()) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server did not get the result within %s (queue: %+v, status error: %v)", timeout, r.Queue, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// resetPeak restarts the mount process's peak RSS (VmHWM) from its current
// RSS, so that each phase reports its own peak. Linux ≥ 4.0; failures only
// mean the peak is the process's lifetime peak.
func (m *mount) resetPeak() {
	// Best effort: without it the peak is the process's lifetime peak.
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", m.cmd.Process.Pid), []byte("5"), 0)
}

// peakRSS is the mount process's VmHWM in bytes (0 if unknown).
func (m *mount) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
