package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pafs/pafs/internal/status"
	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/internal/writeback"
	"github.com/pafs/pafs/remote"
)

// Stopping a mount: uploading what is pending (with progress, and bounded
// when the server is unreachable), unmounting, and saying what is left.

// serve waits for a signal (or an external unmount), then uploads what is
// pending and unmounts. A second signal skips the wait, and so does a
// server that fails every upload for --stop-timeout: what is left stays
// journalled, and the next mount uploads it.
func (m *mount) serve(sig <-chan os.Signal) int {
	defer m.close()
	served := make(chan struct{})
	go func() { m.srv.Wait(); close(served) }()
	external := false
	select {
	case s := <-sig:
		m.log.Info("stopping: uploading what is pending, then unmounting", "signal", s.String())
	case <-served:
		external = true
		m.log.Info("unmounted from outside; uploading what is pending")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var why atomic.Value // string: why the wait was cut short
	go func() {
		select {
		case <-sig:
			why.CompareAndSwap(nil, "second signal")
			fmt.Fprintln(m.stderr, "\npafs: second signal: unmounting now")
			cancel()
		case <-ctx.Done():
		}
	}()
	watch := &stopWatch{timeout: m.c.stopTimeout, failures: func() int {
		// Requests that failed, and uploads that failed without one (the
		// cache disk full: not even sent).
		_, queued := m.files.Queue().Counts()
		return failedAttempts(m.client) + int(queued)
	}}
	show := showDrain(m.stderr, m.client)
	progress := func(p writeback.Progress) {
		show(p)
		if watch.stuck(p, time.Now()) {
			why.CompareAndSwap(nil, fmt.Sprintf("no upload succeeded for %s while they kept failing", m.c.stopTimeout))
			cancel()
		}
	}
	var left error
	if err := m.files.Drain(ctx, progress); err != nil {
		left = err
	}
	if !external {
		m.unmount()
	}
	<-served
	if ctx.Err() == nil {
		// Writes closed while unmounting.
		if err := m.files.Drain(ctx, progress); err != nil {
			left = err
		}
	}
	if left == nil {
		return 0
	}
	// Stopped before the queue emptied: what is in the journal once the
	// queue has stopped (uploads in flight end one way or the other) is
	// what the next mount gets.
	lastErr := lastLine(left)
	if lastErr == "" {
		lastErr = lastQueueErr(m.files)
	}
	m.files.Close()
	n, err := queuedOps(m.c.cacheDir)
	if err != nil {
		n = len(m.files.Queue().Snapshot())
	}
	if n == 0 {
		return 0
	}
	reason, _ := why.Load().(string)
	if errors.Is(left, writeback.ErrRefused) {
		reason = "the server refused them"
	}
	m.reportLeft(n, reason, lastErr)
	return 1
}

// lastLine is the part of a drain error worth showing: the server's last
// error, without the queue's own wording.
func lastLine(err error) string {
	if errors.Is(err, writeback.ErrRefused) {
		s := err.Error()
		if i := strings.Index(s, writeback.ErrRefused.Error()+": "); i >= 0 {
			return s[i+len(writeback.ErrRefused.Error())+2:]
		}
	}
	return ""
}

// stopWatch decides when waiting for uploads at stop is pointless: none has
// succeeded for timeout and requests kept failing meanwhile (a server that
// is down, a network that is gone). A wait for the rate limit, or a long
// upload that is making progress, fails nothing and is waited out.
type stopWatch struct {
	timeout  time.Duration
	failures func() int // failed attempts so far

	started bool
	since   time.Time // the last progress
	ops     int
	done    uint64
	failed  int // failures() then
}

func (w *stopWatch) stuck(p writeback.Progress, now time.Time) bool {
	if !w.started || p.Done != w.done || p.Ops < w.ops {
		w.started, w.since, w.ops, w.done, w.failed = true, now, p.Ops, p.Done, w.failures()
		return false
	}
	w.ops = p.Ops
	return p.Ops > 0 && now.Sub(w.since) >= w.timeout && w.failures() > w.failed
}

// failedAttempts counts the requests that failed other than by a 429 (a
// wait the server asks for, not a failure), retried or not.
func failedAttempts(c *remote.Client) int {
	n := 0
	for _, f := range c.Stats() {
		n += f.Retries + f.Errors - f.Throttled
	}
	return n
}

// reportLeft says why n uploads are left after unmounting, and where they
// wait for the next mount (or that they are lost with the demo's temporary
// cache directory).
func (m *mount) reportLeft(n int, reason, lastErr string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\npafs: stopped waiting for uploads")
	if reason != "" {
		fmt.Fprintf(&b, " (%s)", reason)
	}
	if lastErr != "" {
		fmt.Fprintf(&b, "; last error: %s", status.Printable(lastErr))
	}
	b.WriteString("\n" + leftMessage(n, m.c.cacheDir, m.c.cacheTemp) + "\n")
	io.WriteString(m.stderr, b.String())
}

// leftMessage says how many changes stay queued and where: the words of
// both `pafs mount` and `pafs unmount`.
func leftMessage(n int, cacheDir string, temporary bool) string {
	if temporary {
		return fmt.Sprintf("pafs: %d %s not uploaded: the demo keeps its queue in a temporary directory (%s), deleted as pafs exits, so they are lost (give the demo a --cache-dir to keep them)",
			n, plural(n, "change was", "changes were"), status.Printable(cacheDir))
	}
	return fmt.Sprintf("pafs: %d %s queued in %s: the next `pafs mount` of this account (with this cache directory) uploads %s",
		n, plural(n, "change stays", "changes stay"), status.Printable(cacheDir), plural(n, "it", "them"))
}

func lastQueueErr(files *vfs.FS) string {
	for _, s := range files.Queue().Snapshot() {
		if s.LastError != "" {
			return s.LastError
		}
	}
	return ""
}

func (m *mount) unmount() {
	for i := 0; i < 10; i++ {
		err := m.srv.Unmount()
		if err == nil {
			return
		}
		m.log.Warn("unmount failed, retrying", "error", err)
		time.Sleep(500 * time.Millisecond)
	}
	// Busy for good (a shell cd'ed inside): detach lazily so pafs can exit.
	syscall.Unmount(m.c.mountpoint, syscall.MNT_DETACH)
}

// showDrain shows a drain's progress on w.
func showDrain(w io.Writer, client *remote.Client) func(writeback.Progress) {
	bar := newProgress(w)
	return func(p writeback.Progress) {
		bar.show(p.Ops, p.Bytes, p.LastError, rateWait(familyWaits(client)))
	}
}

// familyWait is what rateWait needs of an endpoint family.
type familyWait struct {
	family   string
	waiting  int
	nextFree time.Duration
	inWindow int
	limit    int
	window   time.Duration
}

func familyWaits(c *remote.Client) []familyWait {
	if c == nil {
		return nil
	}
	var out []familyWait
	for _, f := range c.Stats() {
		out = append(out, familyWait{f.Family, f.Waiting, f.NextFree, f.InWindow, f.Limit, f.Window})
	}
	return out
}

// rateWait says which family's requests wait for the rate limit and for how
// long ("" when none does): the longest such wait.
func rateWait(fams []familyWait) string {
	var worst *familyWait
	for i, f := range fams {
		if f.waiting > 0 && f.nextFree >= time.Second && (worst == nil || f.nextFree > worst.nextFree) {
			worst = &fams[i]
		}
	}
	if worst == nil {
		return ""
	}
	return fmt.Sprintf("waiting %s for the rate limit (%s: %d of %d requests per %s used)",
		worst.nextFree.Round(time.Second), worst.family, worst.inWindow, worst.limit, worst.window)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// plural returns word for one, else its plural: the given one, or word+"s".
func plural(n int, word string, pluralForm ...string) string {
	switch {
	case n == 1:
		return word
	case len(pluralForm) > 0:
		return pluralForm[0]
	}
	return word + "s"
}
