package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// refs holds the figures every result is related to.
type refs struct {
	rep *Report
}

func (rf refs) find(store, workload string, size int) (Result, bool) {
	for _, r := range rf.rep.Results {
		if r.Store == store && r.Workload == workload && (size == 0 || r.EntrySize == size) && r.Ran() {
			return r, true
		}
	}
	return Result{}, false
}

// vsMmaplog is r's throughput over mmaplog's on the same workload and size.
func (rf refs) vsMmaplog(r Result) (float64, bool) {
	m, ok := rf.find("mmaplog", r.Workload, r.EntrySize)
	if !ok || !r.Ran() {
		return 0, false
	}
	return r.OpsPerSec / m.OpsPerSec, true
}

// vsLimit relates r to the disk: synced single appends (W1, W6) to the
// rate of mmap+msync of one entry, bulk appends (W2, W3) to the sequential
// write bandwidth. Reads and opens have no disk limit.
func (rf refs) vsLimit(r Result) (float64, bool) {
	if !r.Ran() {
		return 0, false
	}
	switch {
	case strings.HasPrefix(r.Workload, "W1"), strings.HasPrefix(r.Workload, "W6"):
		if l, ok := rf.syncLimit(); ok {
			return r.OpsPerSec / l.OpsPerSec, true
		}
	case strings.HasPrefix(r.Workload, "W2"), strings.HasPrefix(r.Workload, "W3"):
		if l, ok := rf.bandwidthLimit(); ok {
			return r.MBPerSec / l.MBPerSec, true
		}
	}
	return 0, false
}

// best returns the result with the highest ops/s among the named disk
// workloads.
func (rf refs) best(workloads ...string) (Result, bool) {
	var b Result
	for _, w := range workloads {
		if l, ok := rf.find("disk", w, 0); ok && l.OpsPerSec > b.OpsPerSec {
			b = l
		}
	}
	return b, b.Ran()
}

// syncLimit is the faster way to make one small write durable.
func (rf refs) syncLimit() (Result, bool) { return rf.best("limit-fdatasync", "limit-msync") }

// bandwidthLimit is the faster sequential write.
func (rf refs) bandwidthLimit() (Result, bool) {
	return rf.best("limit-seqwrite", "limit-seqwrite-direct")
}

// WriteTable prints the machine and one row per result: its figures, its
// throughput as a multiple of mmaplog's and as a fraction of the disk's
// limit, then how mmaplog compares with the goals of the benchmark issue.
func WriteTable(w io.Writer, rep *Report) error {
	m := rep.Machine
	fmt.Fprintf(w, "goos: %s\ngoarch: %s\ncpu: %s (%d cores)\nkernel: %s  fs: %s  dir: %s\ngo: %s\n\n",
		m.OS, m.Arch, m.CPU, m.Cores, m.Kernel, m.FS, m.Dir, m.Go)
	rf := refs{rep}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tstore\tsize\tbatch\tops/s\tMB/s\tp50 µs\tp99 µs\tp99.9 µs\tmax µs\theap\t÷mmaplog\t÷limit\t\tnote")
	prev := ""
	for _, r := range rep.Results {
		wl := r.Workload
		if wl == prev {
			wl = ""
		}
		prev = r.Workload
		if !r.Ran() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t-\t\t\t\t\t\t\t\t\t\t%s\n", wl, r.Store, fmtSize(r.EntrySize), r.Note)
			continue
		}
		ratio := func(v float64, ok bool) string {
			switch {
			case !ok:
				return "-"
			case v >= 100:
				return fmt.Sprintf("%.0f", v)
			case v >= 0.1:
				return fmt.Sprintf("%.2f", v)
			case v < 0.001:
				return "<0.001"
			}
			return fmt.Sprintf("%.2g", v)
		}
		heap := ""
		if r.HeapBytes != 0 {
			heap = fmtBytes(r.HeapBytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\t%s\n",
			wl, r.Store, fmtSize(r.EntrySize), r.Batch, fmtCount(r.OpsPerSec), r.MBPerSec,
			fmtUs(r.P50us), fmtUs(r.P99us), fmtUs(r.P999us), fmtUs(r.MaxUs), heap,
			ratio(rf.vsMmaplog(r)), ratio(rf.vsLimit(r)), r.Note)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: table: %w", err)
	}
	fmt.Fprintln(w, "\nops/s counts entries (W2: durable entries; W5: opens). ÷mmaplog: ops/s over mmaplog's. ÷limit: W1/W6 ops/s over the faster of limit-fdatasync and limit-msync, W2/W3 MB/s over the faster limit-seqwrite.")
	goals := rf.goals()
	if len(goals) > 0 {
		fmt.Fprintln(w, "\nmmaplog against the goals of issue 5:")
		for _, g := range goals {
			fmt.Fprintln(w, "  "+g)
		}
	}
	return nil
}

// goals returns one line per goal that the report has the figures for.
func (rf refs) goals() []string {
	var out []string
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	size := 0
	if m, ok := rf.find("mmaplog", "W1-append-sync", 0); ok {
		size = m.EntrySize
		if w, ok := rf.find("raftwal", "W1-append-sync", size); ok {
			x := m.OpsPerSec / w.OpsPerSec
			out = append(out, fmt.Sprintf("W1 %.2f× raft-wal (goal ≥ 1.0): %s", x, mark(x >= 1)))
		}
		if l, ok := rf.find("disk", "limit-msync", 0); ok && l.P50us > 0 {
			x := m.P50us / l.P50us
			line := fmt.Sprintf("W1 p50 %.0f µs = %.2f× bare msync p50 %.0f µs (goal ≤ 1.1): %s", m.P50us, x, l.P50us, mark(x <= 1.1))
			if f, ok := rf.find("disk", "limit-fdatasync", 0); ok {
				line += fmt.Sprintf("; bare pwrite+fdatasync p50 %.0f µs", f.P50us)
			}
			out = append(out, line)
		}
	}
	if m, ok := rf.find("mmaplog", "W2-append-pipelined", 0); ok {
		out = append(out, fmt.Sprintf("W2 %s durable entries/s at %d B (goal ≥ 1M at 128 B): %s", fmtCount(m.OpsPerSec), m.EntrySize, mark(m.OpsPerSec >= 1e6)))
	}
	if m, ok := rf.find("mmaplog", "W3-append-nosync", 128); ok {
		out = append(out, fmt.Sprintf("W3 %s entries/s at 128 B (goal ≥ 5M): %s", fmtCount(m.OpsPerSec), mark(m.OpsPerSec >= 5e6)))
	}
	if m, ok := rf.find("mmaplog", "W3-append-nosync", 4096); ok {
		out = append(out, fmt.Sprintf("W3 %.0f MB/s at 4 KiB (goal ≥ 1500): %s", m.MBPerSec, mark(m.MBPerSec >= 1500)))
	}
	if m, ok := rf.find("mmaplog", "W4-get-random", 0); ok {
		line := fmt.Sprintf("W4 %s reads/s (goal ≥ 5M): %s", fmtCount(m.OpsPerSec), mark(m.OpsPerSec >= 5e6))
		if w, ok := rf.find("raftwal", "W4-get-random", m.EntrySize); ok {
			x := m.OpsPerSec / w.OpsPerSec
			line += fmt.Sprintf("; %.1f× raft-wal (goal ≥ 10): %s", x, mark(x >= 10))
		}
		out = append(out, line)
	}
	if m, ok := rf.find("mmaplog", "W5-reopen", 0); ok {
		ms := m.P50us / 1e3
		out = append(out, fmt.Sprintf("W5 open p50 %.1f ms, heap %s (goal ≤ 50 ms and ≤ 16 MB at 10 M entries): %s; %s",
			ms, fmtBytes(m.HeapBytes), mark(ms <= 50 && m.HeapBytes <= 16<<20), firstClause(m.Note)))
	}
	if m, ok := rf.find("mmaplog", "W6-churn", 0); ok {
		if w, ok := rf.find("raftwal", "W6-churn", m.EntrySize); ok {
			x := m.OpsPerSec / w.OpsPerSec
			out = append(out, fmt.Sprintf("W6 %.2f× raft-wal throughput, p99.9 %s vs %s µs (goal ≥ 1.0 and ≤): %s",
				x, fmtUs(m.P999us), fmtUs(w.P999us), mark(x >= 1 && m.P999us <= w.P999us)))
		}
	}
	return out
}

func firstClause(s string) string {
	c, _, _ := strings.Cut(s, ";")
	return c
}

func fmtSize(n int) string {
	switch {
	case n == 0:
		return ""
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%1024 == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30 || n <= -1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20 || n <= -1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 || n <= -1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// fmtCount prints a rate with three significant digits: 4,950 / 1.23M.
func fmtCount(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e5:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 10:
		return withCommas(int64(v + 0.5))
	}
	return fmt.Sprintf("%.2f", v)
}

func fmtUs(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return withCommas(int64(v + 0.5))
}

func withCommas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
