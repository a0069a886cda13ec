package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/pafs/pafs/internal/mountinfo"
)

// mount(8) mounts a file system of type fuse.pafs (an fstab line) through
// mount.fuse3, which runs `pafs SOURCE MOUNTPOINT -o OPTIONS` and waits for
// it to exit: the mount must then be up, served by a process of its own.
// SOURCE is the account's user name; OPTIONS are mount options and, as
// name=value, any `pafs mount` flag (token_file=/etc/pafs/alice.token).

// isMountHelperForm reports whether args are mount.fuse3's command line:
// SOURCE MOUNTPOINT -o OPTIONS (mount.fuse3 always passes -o: at least
// dev,suid or nodev,nosuid).
func isMountHelperForm(args []string) bool {
	if len(args) != 4 || args[2] != "-o" || strings.HasPrefix(args[0], "-") || strings.HasPrefix(args[1], "-") {
		return false
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return false
		}
	}
	return true
}

// helperMountTimeout bounds the wait for the background pafs to mount (its
// own start-up fails faster: see startupCheck).
const helperMountTimeout = time.Minute

// runMountHelper serves mount(8): it checks the options, starts `pafs mount`
// in the background (its own session, its output appended to the log
// file), and returns once the mount is up, or with the error that stopped
// it.
func runMountHelper(args []string, stdout, stderr io.Writer) int {
	source, dir, opts := args[0], args[1], args[3]
	mountArgs := []string{"--username", source, "-o", opts, dir}
	c, err := parseMountArgs(mountArgs, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pafs: %v\n", err)
		return 2
	}
	logFile := c.logFile
	if logFile == "" {
		if logFile, err = defaultHelperLog(c.username); err != nil {
			fmt.Fprintf(stderr, "pafs: %v\n", err)
			return 1
		}
	}
	log, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "pafs: log file: %v\n", err)
		return 1
	}
	defer log.Close()
	from, _ := log.Seek(0, io.SeekEnd)
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "pafs: %v\n", err)
		return 1
	}
	cmd := exec.Command(self, append([]string{"mount"}, mountArgs...)...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own session: it outlives mount(8) and no terminal's signals reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "pafs: %v\n", err)
		return 1
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // its exit status is read from its output
	deadline := time.Now().Add(helperMountTimeout)
	for {
		if m, ok := mountinfo.Lookup(c.mountpoint); ok && m.FSType == pafsFSType {
			return 0
		}
		select {
		case <-exited:
			fmt.Fprintf(stderr, "pafs: could not mount %s:\n%s(log: %s)\n", c.mountpoint, logSince(logFile, from), logFile)
			return 1
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(stderr, "pafs: %s not mounted after %s; pafs (pid %d) goes on trying, its log is %s\n",
				c.mountpoint, helperMountTimeout, cmd.Process.Pid, logFile)
			return 1
		}
	}
}

// defaultHelperLog is where a pafs started by mount(8) logs when no
// log_file option says: $XDG_STATE_HOME/pafs/USER.log (~/.local/state).
func defaultHelperLog(user string) (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no log file: add a log_file=FILE option (%w)", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	dir := filepath.Join(base, "pafs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("log file: %w", err)
	}
	return filepath.Join(dir, user+".log"), nil
}

// logSince returns what was appended to the log file after offset (the
// background pafs's error), at most its last 4 KiB.
func logSince(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	b = b[offset:]
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
