package status

import (
	"fmt"
	"strings"
	"time"
)

// Text renders the report for a person reading it at a glance.
func (r Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pafs: %s mounted at %s, up %s\n\n", Printable(r.Account), Printable(r.Mountpoint), time.Duration(r.Uptime))
	if r.OfflineSince != nil {
		fmt.Fprintf(&b, "Offline since %s: the API could not be reached when the mount started. Serving what earlier\nmounts cached; reads of anything else fail (EIO); changes are queued and sent once it answers.\n\n",
			r.OfflineSince.Format("2006-01-02 15:04:05"))
	}
	r.writeEndpoints(&b)
	r.writeQueue(&b)
	r.writeCache(&b)
	r.writeFollowing(&b)
	r.writeConflicts(&b)
	r.writeRefused(&b)
	r.writeNotices(&b)
	r.writeErrors(&b)
	return b.String()
}

func (r Report) writeEndpoints(b *strings.Builder) {
	if r.Limit > 0 {
		fmt.Fprintf(b, "Requests (limit %d per %s per endpoint):\n", r.Limit, time.Duration(r.Window))
	} else {
		fmt.Fprintf(b, "Requests (no client-side rate limit):\n")
	}
	if len(r.Endpoints) == 0 {
		b.WriteString("  none yet\n\n")
		return
	}
	rows := [][]string{{"endpoint", "in window", "next free", "waiting", "total", "retries", "429s", "errors"}}
	for _, e := range r.Endpoints {
		win := fmt.Sprintf("%d", e.InWindow)
		if e.Limit > 0 {
			win = fmt.Sprintf("%d/%d", e.InWindow, e.Limit)
		}
		rows = append(rows, []string{Printable(e.Family), win, time.Duration(e.NextFree).Round(100 * time.Millisecond).String(),
			fmt.Sprint(e.Waiting), fmt.Sprint(e.Requests), fmt.Sprint(e.Retries), fmt.Sprint(e.Throttled), fmt.Sprint(e.Errors)})
	}
	table(b, rows)
	// Said in words too: a wait is why a command is slow or an unmount
	// sits at the same count.
	for _, e := range r.Endpoints {
		if e.Waiting > 0 && time.Duration(e.NextFree) >= time.Second {
			fmt.Fprintf(b, "  %s: %d %s waiting for the rate limit (%d of %d used in the last %s), the next in %s\n",
				Printable(e.Family), e.Waiting, map[bool]string{true: "request", false: "requests"}[e.Waiting == 1],
				e.InWindow, e.Limit, time.Duration(r.Window), time.Duration(e.NextFree).Round(time.Second))
		}
	}
	b.WriteString("\n")
	r.writeBudgets(b)
}

// writeBudgets shows the budgets adapted to a server that counts more
// coarsely than the client assumed.
func (r Report) writeBudgets(b *strings.Builder) {
	if len(r.Budgets) == 0 {
		return
	}
	b.WriteString("Budgets adapted to the server (after a 429 the per-endpoint windows did not predict):\n")
	for _, x := range r.Budgets {
		what := "share one budget"
		if len(x.Families) == 1 {
			what = fmt.Sprintf("cut from %d", x.Base)
		}
		fmt.Fprintf(b, "  %s: %s, %d/%d in window, next free %s, since %s\n    %s\n",
			Printable(strings.Join(x.Families, ", ")), what, x.InWindow, x.Limit,
			time.Duration(x.NextFree).Round(100*time.Millisecond), x.Since.Format("15:04:05"), Printable(x.Why))
	}
	b.WriteString("\n")
}

// table writes rows with the first column left-aligned and the others
// right-aligned, so names and numbers both read well.
func table(b *strings.Builder, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, row := range rows {
		fmt.Fprintf(b, "  %-*s", widths[0], row[0])
		for i := 1; i < len(row); i++ {
			fmt.Fprintf(b, "  %*s", widths[i], row[i])
		}
		b.WriteString("\n")
	}
}

func (r Report) writeQueue(b *strings.Builder) {
	q := r.Queue
	fmt.Fprintf(b, "Uploads: %d pending, %d in flight, %d failing (%s); %d done\n",
		q.Pending, q.InFlight, q.Failing, Bytes(q.Bytes), q.Done)
	for i, op := range q.Ops {
		if i == 20 {
			fmt.Fprintf(b, "  ... and %d more\n", len(q.Ops)-20)
			break
		}
		state := "in flight"
		switch {
		case op.InFlight:
		case op.Held:
			state = "open for writing"
		case op.DueIn > 0:
			state = "in " + time.Duration(op.DueIn).String()
		default:
			state = "waiting its turn"
		}
		fmt.Fprintf(b, "  %-6s %s  %s  tries %d  %s", op.Kind, Printable(op.Path), Bytes(op.Bytes), op.Tries, state)
		if op.LastError != "" {
			fmt.Fprintf(b, "  last error: %s", Printable(op.LastError))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func (r Report) writeCache(b *strings.Builder) {
	c := r.Cache
	fmt.Fprintf(b, "Cache: listings %s hit, file contents %s hit, %s on disk\n\n",
		rate(c.ListingHits, c.ListingMisses), rate(c.ContentHits, c.ContentMisses), Bytes(c.ContentBytes))
}

// writeFollowing lists the followed files, only while there are any (or
// their last polls still count against the last minute).
func (r Report) writeFollowing(b *strings.Builder) {
	f := r.Following
	if len(f.Files) == 0 && f.PerMinute == 0 {
		return
	}
	fmt.Fprintf(b, "Following: %d %s, %d downloads in the last minute (at most %d a minute: one per %s)\n",
		len(f.Files), plural(len(f.Files), "file"), f.PerMinute, f.CapPerMinute, time.Duration(f.Interval))
	for _, x := range f.Files {
		readers := fmt.Sprintf("%d %s", x.Readers, plural(x.Readers, "reader"))
		if x.Readers == 0 {
			readers = "reopened"
		}
		fmt.Fprintf(b, "  %s  %s, every %s, %d downloads in the last minute, %d %s",
			Printable(x.Path), readers, time.Duration(x.Every), x.Downloads, x.Changes, plural(x.Changes, "change"))
		if !x.LastChange.IsZero() {
			fmt.Fprintf(b, " (last %s)", x.LastChange.Format("15:04:05"))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

func (r Report) writeConflicts(b *strings.Builder) {
	if len(r.Conflicts) == 0 {
		return
	}
	fmt.Fprintf(b, "Conflicts: changed here and on the server, both versions kept (%d in all):\n", r.ConflictCount)
	for _, c := range r.Conflicts {
		fmt.Fprintf(b, "  %s  %s: yours is %s, the server's is %s (%s)\n",
			c.Time.Format("15:04:05"), c.Path, c.Yours, c.Theirs, c.Why)
	}
	b.WriteString("\n")
}

func (r Report) writeRefused(b *strings.Builder) {
	if len(r.Refused) == 0 {
		return
	}
	fmt.Fprintf(b, "Refused by the server, not retried (%d; data in .pafs/failed/):\n", len(r.Refused))
	for i, x := range r.Refused {
		if i == 20 {
			fmt.Fprintf(b, "  ... and %d more (.pafs/failed/README lists them all)\n", len(r.Refused)-20)
			break
		}
		fmt.Fprintf(b, "  %s  %s %s", x.Time.Format("15:04:05"), x.Kind, Printable(x.Path))
		if x.HasData {
			fmt.Fprintf(b, " (%s, kept as %s)", Bytes(x.Size), Printable(x.Name))
		}
		fmt.Fprintf(b, ": %s\n", Printable(x.Reason()))
	}
	b.WriteString("\n")
}

func (r Report) writeNotices(b *strings.Builder) {
	if len(r.Notices) == 0 {
		return
	}
	b.WriteString("Notices:\n")
	for _, e := range r.Notices {
		fmt.Fprintf(b, "  %s  %s: %s\n", e.Time.Format("15:04:05"), Printable(e.Path), Printable(e.Message))
	}
	b.WriteString("\n")
}

func (r Report) writeErrors(b *strings.Builder) {
	if len(r.Errors) == 0 {
		b.WriteString("Last errors: none\n")
		return
	}
	fmt.Fprintf(b, "Last errors (%d in all):\n", r.ErrorCount)
	for _, e := range r.Errors {
		fmt.Fprintf(b, "  %s  %s %s: %s\n", e.Time.Format("15:04:05"), e.Op, Printable(e.Path), Printable(e.Message))
	}
}

func rate(hit, miss uint64) string {
	if hit+miss == 0 {
		return "-"
	}
	return fmt.Sprintf("%d%% (%d of %d)", hit*100/(hit+miss), hit, hit+miss)
}

// Bytes formats a byte count for people: "512 B", "1.5 KiB", "100 MiB"
// (whole numbers without decimals). Every command and report uses it.
func Bytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 40, "TiB"}, {1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size {
			if n%u.size == 0 {
				return fmt.Sprintf("%d %s", n/u.size, u.name)
			}
			return fmt.Sprintf("%.1f %s", float64(n)/float64(u.size), u.name)
		}
	}
	return fmt.Sprintf("%d B", n)
}
