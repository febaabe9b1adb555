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

// match returns store's result for the same workload, entry size and
// writer count as r, preferring the same bound on entries in flight and
// batch.
func (rf refs) match(store string, r Result) (Result, bool) {
	var first Result
	for _, m := range rf.rep.Results {
		if m.Store != store || m.Workload != r.Workload || m.EntrySize != r.EntrySize || m.Writers != r.Writers || !m.Ran() {
			continue
		}
		if m.InFlight == r.InFlight && m.Batch == r.Batch {
			return m, true
		}
		if !first.Ran() {
			first = m
		}
	}
	return first, first.Ran()
}

// vsMmaplog is r's throughput over mmaplog's on the same workload, size
// and concurrency.
func (rf refs) vsMmaplog(r Result) (float64, bool) {
	m, ok := rf.match("mmaplog", r)
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
	case strings.HasPrefix(r.Workload, "W1"):
		// The primitives measured in W1's own turns, when they were.
		if l, ok := rf.best("limit-fdatasync-w1", "limit-msync-w1"); ok {
			return r.OpsPerSec / l.OpsPerSec, true
		}
		if l, ok := rf.syncLimit(); ok {
			return r.OpsPerSec / l.OpsPerSec, true
		}
	case strings.HasPrefix(r.Workload, "W6"):
		if l, ok := rf.syncLimit(); ok {
			return r.OpsPerSec / l.OpsPerSec, true
		}
	case strings.HasPrefix(r.Workload, "W2"), strings.HasPrefix(r.Workload, "W3"):
		if l, ok := rf.bandwidthLimit(); ok {
			return r.MBPerSec / l.MBPerSec, true
		}
	case strings.HasPrefix(r.Workload, "W4"):
		if l, ok := rf.find("disk", "limit-get-probe", r.EntrySize); ok {
			return r.OpsPerSec / l.OpsPerSec, true
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
// limit, then raftlog's goals with this run's figures (see writeGoals).
func WriteTable(w io.Writer, rep *Report) error {
	m := rep.Machine
	fmt.Fprintf(w, "goos: %s\ngoarch: %s\ncpu: %s (%d cores)\nkernel: %s  fs: %s  dir: %s\ngo: %s\n\n",
		m.OS, m.Arch, m.CPU, m.Cores, m.Kernel, m.FS, m.Dir, m.Go)
	rf := refs{rep}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tstore\tsize\tbatch\tload\tops/s\tMB/s\tp50 µs\tp99 µs\tp99.9 µs\tmax µs\theap\t÷mmaplog\t÷limit\t\tnote")
	prev := ""
	for _, r := range rep.Results {
		wl := r.Workload
		if wl == prev {
			wl = ""
		}
		prev = r.Workload
		if !r.Ran() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t\t-\t\t\t\t\t\t\t\t\t\t%s\n", wl, r.Store, fmtSize(r.EntrySize), r.Note)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\t%s\n",
			wl, r.Store, fmtSize(r.EntrySize), r.Batch, fmtLoad(r), fmtCount(r.OpsPerSec), r.MBPerSec,
			fmtUs(r.P50us), fmtUs(r.P99us), fmtUs(r.P999us), fmtUs(r.MaxUs), heap,
			ratio(rf.vsMmaplog(r)), ratio(rf.vsLimit(r)), r.Note)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: table: %w", err)
	}
	fmt.Fprintln(w, "\nops/s counts entries (W2: durable entries; W5: opens). ÷mmaplog: ops/s over mmaplog's. ÷limit: W1 ops/s over the faster of limit-fdatasync-w1 and limit-msync-w1 (measured in W1's turns; limit-… without them), W6 over the faster of limit-fdatasync and limit-msync, W2/W3 MB/s over the faster limit-seqwrite, W4 reads/s over limit-get-probe.")
	return writeGoals(w, rf)
}

// fmtLoad describes r's concurrency: W8's writers, W2's bound on entries
// in flight.
func fmtLoad(r Result) string {
	switch {
	case r.Writers == 1:
		return "1 writer"
	case r.Writers > 0:
		return withCommas(int64(r.Writers)) + " writers"
	case r.InFlight > 0:
		return withCommas(int64(r.InFlight)) + " in flight"
	}
	return ""
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
