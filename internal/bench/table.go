package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the results: a header with the conditions, one row per
// phase, then per phase the requests by endpoint and how the minimum and the
// floor were derived.
func (r *Results) WriteTable(w io.Writer) error {
	s, m := r.Settings, r.Machine
	sizes := ""
	if s.Sizes != "" {
		sizes = "; --sizes " + s.Sizes
	}
	fmt.Fprintf(w, "pafs bench: %s; latency %gms; --write-back %gms; --dir-cache-time %gs%s\n",
		s.ScaleText, s.LatencyMs, s.WriteBackMs, s.TTLSeconds, sizes)
	fmt.Fprintf(w, "machine: %d × %s, Linux %s, %s; whole run %.0fs; setup requests: %s\n\n",
		m.CPUs, m.CPU, m.Kernel, m.Go, r.Seconds, keysText(r.Setup))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tphase\treqs\tmin\t×min\t429\tcmd s\tserver s\tlocal s\tfloor s\t×floor\tRSS MiB\tnaive reqs\tnaive s")
	for _, p := range r.Phases {
		fmt.Fprintln(tw, row(p))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nreqs: requests pafs made; min: the fewest the API allows; ×min: their ratio (+N: N over a minimum of 0)."+
		"\ncmd: until the commands returned; server: until the server held the result (upload queue empty);"+
		"\nfloor: max(the API's floor under the rate limit and latency, the same commands on a local disk); ×floor: server/floor.")
	for _, p := range r.Phases {
		details(w, p)
	}
	return nil
}

func row(p Phase) string {
	naiveReqs, naiveSecs := "-", "-"
	if n := p.Naive; n != nil && n.Error == "" {
		naiveReqs, naiveSecs = fmt.Sprint(total(n.Requests)), fmt.Sprintf("%.2f", n.Seconds)
	}
	if p.Skipped != "" {
		return fmt.Sprintf("%s\t%s (skipped)\t-\t%d\t-\t-\t-\t-\t-\t-\t-\t-\t%s\t%s",
			p.ID, p.Name, p.MinimumTotal(), naiveReqs, naiveSecs)
	}
	name := p.Name
	if p.Error != "" {
		name += " (FAILED)"
	}
	return fmt.Sprintf("%s\t%s\t%d\t%d\t%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%.0f\t%s\t%s",
		p.ID, name, p.RequestsTotal(), p.MinimumTotal(), requestRatioText(p), p.Throttled,
		p.CommandSeconds, p.ServerSeconds, p.LocalSeconds, p.FloorSeconds, ratioText(p.TimeRatio),
		float64(p.PeakRSS)/(1<<20), naiveReqs, naiveSecs)
}

func requestRatioText(p Phase) string {
	if p.RequestRatio != nil {
		return ratioText(p.RequestRatio)
	}
	if n := p.RequestsTotal(); n > 0 {
		return fmt.Sprintf("+%d", n)
	}
	return "="
}

func ratioText(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *r)
}

// details prints how a phase's numbers break down and were derived.
func details(w io.Writer, p Phase) {
	fmt.Fprintf(w, "\n%s %s: %s\n", p.ID, p.Name, strings.Join(p.Commands, "; "))
	switch {
	case p.Skipped != "":
		fmt.Fprintf(w, "  pafs:    skipped: %s\n", p.Skipped)
	default:
		fmt.Fprintf(w, "  pafs:    %s", countText(p.Requests))
		if p.MiBps > 0 {
			fmt.Fprintf(w, " (%.0f MiB/s)", p.MiBps)
		}
		fmt.Fprintln(w)
	}
	if p.Error != "" {
		fmt.Fprintf(w, "  error:   %s\n", indent(tail(p.Error, 1500)))
	}
	fmt.Fprintf(w, "  minimum: %s: %s\n", countText(p.Minimum), p.MinimumHow)
	if p.Skipped == "" {
		fmt.Fprintf(w, "  floor:   %s\n", p.FloorHow)
	}
	if n := p.Naive; n != nil {
		fmt.Fprintf(w, "  naive:   %s in %.2fs: %s", countText(n.Requests), n.Seconds, n.How)
		if n.Error != "" {
			fmt.Fprintf(w, " (FAILED: %s)", firstLine(n.Error))
		}
		fmt.Fprintln(w)
	}
}

// countText is keysText with "0 requests" for none.
func countText(m map[string]int) string {
	if total(m) == 0 {
		return "0 requests"
	}
	return keysText(m)
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n           ") }
