package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/pafs/pafs/internal/status"
)

// progress is the one display of the uploads a stopping mount still has to
// make: pafs's own stop (a signal, Ctrl-C) and `pafs unmount` both draw it.
// On a terminal it is one line rewritten in place; elsewhere (a log, a
// pipe) it prints a line when the count changes or a wait for the rate limit
// begins, since the count then stays put for a while.
type progress struct {
	w           io.Writer
	tty         bool
	total       int // the most uploads seen left: the bar's 100%
	last        int // the count last drawn; -1 before the first
	lastWaiting bool
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w), last: -1}
}

// show draws "pafs: [#####.....] 3 of 8 uploads left (1.2 MiB)", then the
// rate-limit wait and the last error when there are; at 0 it ends the
// display with "all 8 uploads done" (if there was anything to show).
func (p *progress) show(left int, bytes int64, lastErr, wait string) {
	if left > p.total {
		p.total = left
	}
	waiting := wait != ""
	if p.total == 0 || left == p.last && (waiting == p.lastWaiting || p.tty && !waiting) {
		return
	}
	p.last, p.lastWaiting = left, waiting
	line := p.line(left, bytes, lastErr, wait)
	switch {
	case p.tty && left == 0:
		fmt.Fprintf(p.w, "\r%-130s\n", line)
	case p.tty:
		fmt.Fprintf(p.w, "\r%-130s", line)
	default:
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) line(left int, bytes int64, lastErr, wait string) string {
	const width = 30
	done := width * (p.total - left) / p.total
	bar := "[" + strings.Repeat("#", done) + strings.Repeat(".", width-done) + "] "
	if left == 0 {
		return fmt.Sprintf("pafs: %sall %d %s done", bar, p.total, plural(p.total, "upload"))
	}
	line := fmt.Sprintf("pafs: %s%d of %d uploads left (%s)", bar, left, p.total, status.Bytes(bytes))
	if wait != "" {
		line += "; " + wait
	}
	if lastErr != "" {
		line += "; last error: " + status.Printable(lastErr)
	}
	return line
}
