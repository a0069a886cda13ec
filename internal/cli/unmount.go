package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pafs/pafs/internal/mountinfo"
	"github.com/pafs/pafs/internal/status"
)

// runUnmount is `pafs unmount MOUNTPOINT`: ask the pafs serving the mount to
// upload what is pending and unmount, showing progress; a dead mount (pafs
// was killed) is cleared instead.
func runUnmount(args []string, stdout, stderr io.Writer) int {
	cmd := newMountpointCommand("unmount", "[--force] MOUNTPOINT",
		"Uploads what is pending, then unmounts. Clears a dead mount left by a killed pafs.", stderr)
	force := cmd.fl.Bool("force", false, "unmount without waiting for pending uploads (they stay queued for the next mount)")
	dir, code := cmd.parse(args)
	if code >= 0 {
		return code
	}
	mnt, ok := mountinfo.Lookup(dir)
	if !ok {
		fmt.Fprintf(stderr, "pafs unmount: %s is not mounted\n", dir)
		return 1
	}
	if mnt.FSType != pafsFSType {
		// Whatever its .pafs/pid says, nothing of pafs's serves it.
		fmt.Fprintf(stderr, "pafs unmount: %s is not a pafs mount (it is %s, from %s): leaving it alone\n", dir, mnt.FSType, mnt.Source)
		return 1
	}
	b, err := os.ReadFile(filepath.Join(dir, ".pafs", "pid"))
	if errors.Is(err, syscall.ENOTCONN) {
		return clearDeadMount(dir, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pafs unmount: %s\n", describeMountError(dir, err))
		return 1
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		fmt.Fprintf(stderr, "pafs unmount: %s/.pafs/pid holds no process id\n", dir)
		return 1
	}
	if !servesMount(pid, mnt) {
		fmt.Fprintf(stderr, "pafs unmount: %s/.pafs/pid names process %d, which does not serve this mount: not signalling it\n", dir, pid)
		return 1
	}
	return stopMount(dir, pid, *force, stdout, stderr)
}

// pafsFSType is the type the kernel gives pafs's mounts: FUSE mounts are
// "fuse." plus the name fs.Mount passes ("pafs").
const pafsFSType = "fuse.pafs"

// servesMount reports whether process pid serves the FUSE mount m: it holds
// /dev/fuse open, on m's connection where the kernel says which one an open
// file is for (fdinfo's fuse_connection, the minor number of m's device).
func servesMount(pid int, m mountinfo.Mount) bool {
	fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return false
	}
	_, conn, _ := strings.Cut(m.Dev, ":")
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join(fdDir, e.Name())); err != nil || target != "/dev/fuse" {
			continue
		}
		info, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		c, known := fdinfoField(string(info), "fuse_connection")
		if !known || c == conn {
			return true
		}
	}
	return false
}

// fdinfoField returns the value of a "name:\tvalue" line of an fdinfo file.
func fdinfoField(info, name string) (string, bool) {
	for line := range strings.SplitSeq(info, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == name {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// clearDeadMount detaches a mount whose pafs process is gone.
func clearDeadMount(dir string, stdout, stderr io.Writer) int {
	err := syscall.Unmount(dir, syscall.MNT_DETACH)
	if err != nil {
		if out, ferr := exec.Command("fusermount3", "-uz", dir).CombinedOutput(); ferr != nil {
			fmt.Fprintf(stderr, "pafs unmount: cannot clear the dead mount at %s: %v; %s\n", dir, err, strings.TrimSpace(string(out)))
			return 1
		}
	}
	fmt.Fprintf(stdout, "pafs: cleared the dead mount at %s. Uploads it had queued are kept in its cache directory and go up at the next `pafs mount`.\n", dir)
	return 0
}

// stuckAfter bounds the wait for a pafs that has nothing left to upload
// yet neither unmounts nor exits.
const stuckAfter = 30 * time.Second

// deadAfter is how long a mount may outlive the pafs serving it before it is
// taken for dead.
const deadAfter = 2 * time.Second

// stopMount signals the serving pafs and waits for it to finish, with a
// progress bar of the uploads it still has to make. The wait lasts while
// uploads are pending (Ctrl-C stops waiting; pafs itself gives up after its
// --stop-timeout when the server fails them all); it ends with an error when
// pafs has nothing to upload and does not finish, or dies and leaves the
// mount behind (which is then cleared). Uploads left over are counted and
// their place named, as pafs itself does.
func stopMount(dir string, pid int, force bool, stdout, stderr io.Writer) int {
	// Read before the mount goes: where the queue lives.
	first, known := readReport(dir)
	proc, err := os.FindProcess(pid)
	if err == nil {
		err = proc.Signal(syscall.SIGTERM)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pafs unmount: cannot signal pafs (pid %d): %v\n", pid, err)
		return 1
	}
	if force {
		time.Sleep(100 * time.Millisecond)
		proc.Signal(syscall.SIGTERM) // a second signal skips the upload wait
	}
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt)
	defer signal.Stop(interrupt)
	bar := newProgress(stdout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	stuck := time.Now().Add(stuckAfter)
	var dead time.Time // when pafs was first seen gone with the mount still there
	lastPending := first.Queue.Pending + first.Queue.InFlight
	for {
		mounted, running := mountinfo.IsMountpoint(dir), alive(pid)
		if !mounted && !running {
			break
		}
		pending := 0
		if r, ok := readReport(dir); ok {
			pending = r.Queue.Pending + r.Queue.InFlight
			lastPending = pending
			bar.show(pending, r.Queue.Bytes, lastQueueError(r.Queue), rateWait(endpointWaits(r)))
		}
		switch {
		case !running && dead.IsZero():
			dead = time.Now()
		case !running && time.Since(dead) > deadAfter:
			fmt.Fprintf(stderr, "\npafs unmount: pafs (pid %d) exited without unmounting %s\n", pid, dir)
			clearDeadMount(dir, stdout, stderr)
			return 1
		case running && pending > 0:
			stuck = time.Now().Add(stuckAfter)
		case running && mounted && time.Now().After(stuck):
			// (Once unmounted, pafs may still be uploading what was written
			// during the unmount, out of sight: that wait is its own.)
			fmt.Fprintf(stderr, "\npafs unmount: pafs (pid %d) has nothing left to upload but has not unmounted %s within %s: `pafs unmount --force %s`, or kill %d\n",
				pid, dir, stuckAfter, dir, pid)
			return 1
		}
		select {
		case <-interrupt:
			fmt.Fprintf(stderr, "\npafs unmount: stopped waiting; pafs goes on uploading and unmounts when done (`pafs status %s`)\n", dir)
			return 1
		case <-tick.C:
		}
	}
	left := lastPending
	if known && !first.CacheTemporary && first.CacheDir != "" {
		// pafs is gone: its journal says what is left, exactly.
		if n, err := queuedOps(first.CacheDir); err == nil {
			left = n
		}
	}
	if !known || left == 0 {
		bar.show(0, 0, "", "")
		fmt.Fprintf(stdout, "pafs: unmounted %s\n", dir)
		return 0
	}
	fmt.Fprintf(stdout, "\npafs: unmounted %s\n%s\n", dir, leftMessage(left, first.CacheDir, first.CacheTemporary))
	if force {
		return 0 // as asked
	}
	return 1
}

// readReport reads the mount's status.json.
func readReport(dir string) (status.Report, bool) {
	b, err := os.ReadFile(filepath.Join(dir, ".pafs", "status.json"))
	if err != nil {
		return status.Report{}, false
	}
	var r status.Report
	if json.Unmarshal(b, &r) != nil {
		return status.Report{}, false
	}
	return r, true
}

// endpointWaits is what rateWait needs of a status report.
func endpointWaits(r status.Report) []familyWait {
	var out []familyWait
	for _, e := range r.Endpoints {
		out = append(out, familyWait{e.Family, e.Waiting, time.Duration(e.NextFree), e.InWindow, e.Limit, time.Duration(r.Window)})
	}
	return out
}

func lastQueueError(q status.Queue) string {
	for _, op := range q.Ops {
		if op.LastError != "" {
			return op.LastError
		}
	}
	return ""
}

// alive reports whether process pid is running: it exists and is not a
// zombie waiting for its parent to collect its status.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name, which may hold spaces.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
