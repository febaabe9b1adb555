package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// A goal is one of raftlog's performance targets with this run's figure.
type goal struct {
	name, target string
	measured     string // "" when the run lacks a figure
	against      string // the reference measured beside it, or what to run
	status       string // "met", "NOT met", or "" when not measured
}

// Targets. Each ratio is taken between figures of the same run.
const (
	goalW1VsRaftWAL     = 1.0  // W1 ops/s over raft-wal's
	goalW1VsMsync       = 1.1  // W1 p50 over a bare msync's
	goalW2Durable       = 3e6  // W2 durable entries/s at 128 B
	goalW2BoundedP99    = 2e3  // µs, W2 with 1,024 in flight
	goalW3VsRaftWAL     = 10.0 // W3 128 B entries/s over raft-wal's
	goalW4VsProbe       = 0.8  // W4 reads/s over the bare two-load probe
	goalW4VsRaftWAL     = 15.0 // W4 reads/s over raft-wal's
	goalW5OpenUs        = 20e3 // µs, a cold open of a 10 GB log
	goalW5Heap          = 16 << 20
	goalW5Bytes         = 10e9 // the log size the W5 goals are set at
	goalW6VsRaftWAL     = 1.2  // W6 ops/s over raft-wal's
	goalW6MaxUs         = 10e3 // µs
	goalW8GroupCommit   = 5.0  // W8 at 16 writers over W8 at 1 writer
	goalW8VsPeers       = 2.0  // W8 at 16 writers over raft-wal's and etcd wal's
	goalW8Writers       = 16
	goalReferenceStores = "raftwal,etcdwal"
)

// writeGoals prints raftlog's goals that this run has figures for (the
// mmaplog side ran), each with the reference it is measured against.
func writeGoals(w io.Writer, rf refs) error {
	gs := rf.goals()
	if len(gs) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nraftlog's goals, each measured in this run beside its reference:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  goal\ttarget\tmeasured\t\tagainst")
	for _, g := range gs {
		m, st := g.measured, g.status
		if m == "" {
			m, st = "-", "not measured"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", g.name, g.target, m, st, g.against)
	}
	fmt.Fprintln(tw, "  W7 cluster (3 hashicorp/raft nodes)\t≥ 1.2× raft-wal, ≥ 2× raft-boltdb\t-\tnot in cmd/bench\tmake bench-cluster (BenchmarkClusterApply in ./hashiraft/)")
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: goals: %w", err)
	}
	return nil
}

func status(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// A metric is the figure a ratio goal compares.
type metric struct {
	of   func(Result) float64
	show func(float64) string
}

var (
	opsMetric  = metric{func(r Result) float64 { return r.OpsPerSec }, func(v float64) string { return fmtCount(v) + "/s" }}
	p999Metric = metric{func(r Result) float64 { return r.P999us }, func(v float64) string { return fmtUs(v) + " µs" }}
)

// ratioGoal compares mine with the same workload on store peer:
// mine/peer >= want (or, with atMost, <= want).
func (rf refs) ratioGoal(name string, mine Result, peer, peerName string, want float64, m metric, atMost bool) goal {
	cmp := "≥"
	if atMost {
		cmp = "≤"
	}
	g := goal{name: name, target: fmt.Sprintf("%s %s× %s", cmp, fmtTimes(want), peerName)}
	p, ok := rf.match(peer, mine)
	if !ok {
		g.against = fmt.Sprintf("run with %s in -stores", peer)
		return g
	}
	x := m.of(mine) / m.of(p)
	g.measured = fmt.Sprintf("%.2f×", x)
	g.against = peerName + " " + m.show(m.of(p))
	g.status = status(x >= want && !atMost || x <= want && atMost)
	return g
}

// goals returns the goals whose mmaplog figure is in the report.
func (rf refs) goals() []goal {
	var out []goal
	add := func(g ...goal) { out = append(out, g...) }
	if m, ok := rf.find("mmaplog", "W1-append-sync", 0); ok {
		add(rf.ratioGoal("W1 append + sync, ops/s", m, "raftwal", "raft-wal", goalW1VsRaftWAL, opsMetric, false))
		g := goal{name: "W1 p50 latency", target: fmt.Sprintf("≤ %s× bare msync p50", fmtTimes(goalW1VsMsync)), against: "run the limit workload"}
		msync, fdatasync, how := "limit-msync-w1", "limit-fdatasync-w1", ", in W1's turns"
		if _, ok := rf.find("disk", msync, 0); !ok {
			msync, fdatasync, how = "limit-msync", "limit-fdatasync", ""
		}
		if l, ok := rf.find("disk", msync, 0); ok && l.P50us > 0 {
			x := m.P50us / l.P50us
			g.measured = fmt.Sprintf("%.2f× (%s µs)", x, fmtUs(m.P50us))
			g.against = fmt.Sprintf("disk msync p50 %s µs", fmtUs(l.P50us))
			if f, ok := rf.find("disk", fdatasync, 0); ok {
				g.against += fmt.Sprintf(", pwrite+fdatasync %s µs", fmtUs(f.P50us))
			}
			g.against += how
			g.status = status(x <= goalW1VsMsync)
		}
		add(g)
	}
	for _, m := range rf.all("mmaplog", "W2-append-pipelined") {
		if m.InFlight == boundedWindow {
			g := goal{name: fmt.Sprintf("W2 %s in flight, p99 append→callback", withCommas(boundedWindow)),
				target: fmt.Sprintf("≤ %.0f ms", goalW2BoundedP99/1e3), measured: fmt.Sprintf("%.2f ms", m.P99us/1e3),
				against: fmt.Sprintf("%s durable/s", fmtCount(m.OpsPerSec)), status: status(m.P99us <= goalW2BoundedP99)}
			if l, ok := rf.find("disk", "limit-msync-window", m.EntrySize); ok {
				// An entry waits for the sync running when it arrives, then
				// for its own: about two of the disk's.
				g.against += fmt.Sprintf("; disk msync of %s entries p50 %s, p99 %s", withCommas(boundedWindow), fmtMs(l.P50us), fmtMs(l.P99us))
			}
			if m.StoreSyncP99us > 0 {
				g.against += fmt.Sprintf("; the log's own group syncs p50 %s, p99 %s", fmtMs(m.StoreSyncP50us), fmtMs(m.StoreSyncP99us))
			}
			add(g)
			continue
		}
		g := goal{name: fmt.Sprintf("W2 pipelined, durable entries/s (%s)", fmtSize(m.EntrySize)),
			target: fmt.Sprintf("≥ %.3g M/s at 128 B", goalW2Durable/1e6), measured: fmtCount(m.OpsPerSec) + "/s"}
		if p, ok := rf.match("raftwal", m); ok {
			g.against = fmt.Sprintf("raft-wal %s/s (synced batches of %d)", fmtCount(p.OpsPerSec), p.Batch)
		}
		if m.EntrySize == 128 {
			g.status = status(m.OpsPerSec >= goalW2Durable)
		} else {
			g.status = "goal is at 128 B"
		}
		add(g)
	}
	if m, ok := rf.find("mmaplog", "W3-append-nosync", 128); ok {
		add(rf.ratioGoal("W3 no sync, 128 B, entries/s", m, "raftwal", "raft-wal", goalW3VsRaftWAL, opsMetric, false))
	}
	for _, m := range rf.all("mmaplog", "W3-append-nosync") {
		add(rf.noSyncLimits(m)...)
	}
	if m, ok := rf.find("mmaplog", "W4-get-random", 0); ok {
		g := goal{name: "W4 random Get, reads/s", target: fmt.Sprintf("≥ %s× bare serial two-load probe", fmtTimes(goalW4VsProbe)), against: "run the limit workload"}
		if p, ok := rf.find("disk", "limit-get-probe", 0); ok {
			x := m.OpsPerSec / p.OpsPerSec
			g.measured = fmt.Sprintf("%.2f× (%s/s)", x, fmtCount(m.OpsPerSec))
			g.against = fmt.Sprintf("serial probe %s/s%s", fmtCount(p.OpsPerSec), hugeNote(p))
			if o, ok := rf.find("disk", "limit-get-probe-overlapped", 0); ok {
				g.against += fmt.Sprintf(" (overlapped %s/s)", fmtCount(o.OpsPerSec))
			}
			if k, ok := rf.find("disk", "limit-get-probe-4k", 0); ok {
				g.against += fmt.Sprintf("; on 4 KiB pages %s/s%s, W4 at %.2f×", fmtCount(k.OpsPerSec), hugeNote(k), m.OpsPerSec/k.OpsPerSec)
			}
			if share, ok := m.hugeShare(); ok {
				g.measured = fmt.Sprintf("%.2f× (%s/s, %.0f%% 2 MiB pages)", x, fmtCount(m.OpsPerSec), 100*share)
			}
			g.status = status(x >= goalW4VsProbe)
		}
		add(g, rf.ratioGoal("W4 random Get, reads/s", m, "raftwal", "raft-wal", goalW4VsRaftWAL, opsMetric, false))
	}
	for _, m := range rf.all("mmaplog", "W5-reopen") {
		add(rf.reopenGoals(m)...)
	}
	if m, ok := rf.find("mmaplog", "W6-churn", 0); ok {
		add(rf.ratioGoal("W6 churn, ops/s", m, "raftwal", "raft-wal", goalW6VsRaftWAL, opsMetric, false))
		g := rf.ratioGoal("W6 churn, p99.9 latency", m, "raftwal", "raft-wal's", 1, p999Metric, true)
		g.target = "≤ raft-wal's"
		if g.status != "" {
			g.measured = fmtUs(m.P999us) + " µs"
		}
		largest := goal{name: "W6 churn, largest latency", target: fmt.Sprintf("≤ %.0f ms", goalW6MaxUs/1e3),
			measured: fmt.Sprintf("%.2f ms", m.MaxUs/1e3), against: "a stall: see -timeline", status: status(m.MaxUs <= goalW6MaxUs)}
		if p, ok := rf.match("raftwal", m); ok {
			largest.against = fmt.Sprintf("raft-wal's %s; %s", fmtMs(p.MaxUs), largest.against)
		}
		if d, ok := rf.find("disk", "limit-msync", 0); ok {
			largest.against += fmt.Sprintf("; the disk's largest single sync in this run: msync %s", fmtMs(d.MaxUs))
			if f, ok := rf.find("disk", "limit-fdatasync", 0); ok {
				largest.against += fmt.Sprintf(", pwrite+fdatasync %s", fmtMs(f.MaxUs))
			}
		}
		add(g, largest)
	}
	add(rf.concurrentGoals()...)
	return out
}

// hugeNote says how much of a get probe's mappings was in 2 MiB pages.
func hugeNote(r Result) string {
	share, ok := r.hugeShare()
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (%.0f%% 2 MiB pages)", 100*share)
}

// all returns store's results for workload, in report order.
func (rf refs) all(store, workload string) []Result {
	var out []Result
	for _, r := range rf.rep.Results {
		if r.Store == store && r.Workload == workload && r.Ran() {
			out = append(out, r)
		}
	}
	return out
}

// noSyncLimits says how close W3 comes to its limits: the appends alone
// to the copy+CRC probe, and the whole run, final sync included, to the
// disk's sequential write rate (the final sync alone says little: the
// Log writes segments behind the appends, Options.WriteBehind).
func (rf refs) noSyncLimits(m Result) []goal {
	size := fmtSize(m.EntrySize)
	app := goal{name: fmt.Sprintf("W3 %s, appends alone", size), target: "printed", measured: fmtCount(m.AppendOpsPerSec) + "/s", against: "run the limit workload"}
	if p, ok := rf.find("disk", "limit-copy-crc", m.EntrySize); ok {
		app.measured = fmt.Sprintf("%.2f× (%s/s)", m.AppendOpsPerSec/p.OpsPerSec, fmtCount(m.AppendOpsPerSec))
		app.against = fmt.Sprintf("copy+CRC probe %s/s", fmtCount(p.OpsPerSec))
	}
	all := goal{name: fmt.Sprintf("W3 %s, whole run with final sync", size), target: "printed", measured: fmt.Sprintf("%.0f MB/s of payload", m.MBPerSec), against: "run the limit workload"}
	if l, ok := rf.bandwidthLimit(); ok {
		all.measured = fmt.Sprintf("%.2f× (%.0f MB/s of payload)", m.MBPerSec/l.MBPerSec, m.MBPerSec)
		all.against = fmt.Sprintf("disk %s %.0f MB/s", strings.TrimPrefix(l.Workload, "limit-"), l.MBPerSec)
	}
	return []goal{app, all}
}

func (rf refs) reopenGoals(m Result) []goal {
	size := fmtSize(m.EntrySize)
	logSize := float64(m.Entries) * float64(m.EntrySize)
	at := fmt.Sprintf("%s log", fmtSI(int64(logSize)))
	if !m.Cold {
		at += ", warm"
	}
	// The goals are set at 10 GB; a smaller log can show a miss, not a hit.
	small := logSize < goalW5Bytes*0.95
	st := func(ok bool) string {
		if ok && small {
			return fmt.Sprintf("met at %s (goal at %s: -long)", fmtSI(int64(logSize)), fmtSI(goalW5Bytes))
		}
		if ok && !m.Cold {
			return "met warm (goal is cold)"
		}
		return status(ok)
	}
	open := goal{name: fmt.Sprintf("W5 reopen, %s entries (%s)", size, at), target: fmt.Sprintf("≤ %.0f ms cold at %s", goalW5OpenUs/1e3, fmtSI(goalW5Bytes)),
		measured: fmt.Sprintf("%.1f ms", m.P50us/1e3), status: st(m.P50us <= goalW5OpenUs)}
	var peers []string
	for _, p := range rf.rep.Results {
		if p.Workload != m.Workload || p.EntrySize != m.EntrySize || p.Store == m.Store || !p.Ran() {
			continue
		}
		s := fmt.Sprintf("%s %s", p.Store, fmtMs(p.P50us))
		if p.Scale > 0 {
			s = fmt.Sprintf("%s %s on %s (×%.3g: ~%s)", p.Store, fmtMs(p.P50us), fmtSI(p.Entries*int64(p.EntrySize)), p.Scale, fmtMs(p.P50us*p.Scale))
		}
		peers = append(peers, s)
	}
	open.against = strings.Join(peers, "; ")
	if open.against == "" {
		open.against = "run with peers in -stores"
	}
	heap := goal{name: fmt.Sprintf("W5 heap with the log open, %s entries", size), target: fmt.Sprintf("≤ %s", fmtBytes(goalW5Heap)),
		measured: fmtBytes(m.HeapBytes), status: st(m.HeapBytes <= goalW5Heap)}
	first := goal{name: fmt.Sprintf("W5 first Get, first Append+sync after open, %s", size), target: "printed",
		measured: fmt.Sprintf("%s, %s", fmtMs(m.FirstGetUs), fmtMs(m.FirstAppendUs))}
	return []goal{open, heap, first}
}

func (rf refs) concurrentGoals() []goal {
	var one, many Result
	for _, r := range rf.all("mmaplog", "W8-concurrent") {
		switch r.Writers {
		case 1:
			one = r
		case goalW8Writers:
			many = r
		}
	}
	if !many.Ran() {
		if one.Ran() {
			return []goal{{name: fmt.Sprintf("W8 %d writers", goalW8Writers), target: "group commit", against: fmt.Sprintf("run with %d in -writers", goalW8Writers)}}
		}
		return nil
	}
	name := fmt.Sprintf("W8 %d writers, ops/s", goalW8Writers)
	g := goal{name: name, target: fmt.Sprintf("≥ %s× 1 writer", fmtTimes(goalW8GroupCommit)), against: "run with 1 in -writers"}
	if one.Ran() {
		x := many.OpsPerSec / one.OpsPerSec
		g.measured = fmt.Sprintf("%.2f× (%s/s)", x, fmtCount(many.OpsPerSec))
		g.against = fmt.Sprintf("1 writer %s/s", fmtCount(one.OpsPerSec))
		g.status = status(x >= goalW8GroupCommit)
	}
	out := []goal{g}
	for _, p := range strings.Split(goalReferenceStores, ",") {
		g := rf.ratioGoal(name, many, p, peerName(p), goalW8VsPeers, opsMetric, false)
		lead := many
		lead.Batch = raftBatch
		if l, ok := rf.match(p, lead); ok && l.Batch == raftBatch && g.status != "" {
			g.against += fmt.Sprintf(" direct; %s/s (%.2f×) with a leader loop", fmtCount(l.OpsPerSec), many.OpsPerSec/l.OpsPerSec)
		}
		out = append(out, g)
	}
	out = append(out, goal{name: fmt.Sprintf("W8 %d writers, latency", goalW8Writers), target: "printed",
		measured: fmt.Sprintf("p50 %s, p99 %s, p99.9 %s, max %s", fmtMs(many.P50us), fmtMs(many.P99us), fmtMs(many.P999us), fmtMs(many.MaxUs))})
	return out
}

// peerName is how the goals name a store.
func peerName(store string) string {
	switch store {
	case "raftwal":
		return "raft-wal"
	case "etcdwal":
		return "etcd wal"
	case "boltdb":
		return "raft-boltdb"
	case "tidwall":
		return "tidwall/wal"
	}
	return store
}

// fmtTimes prints a ratio target: 1.0, 1.2, 15.
func fmtTimes(v float64) string {
	if v == float64(int(v)) && v < 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func fmtMs(us float64) string {
	switch {
	case us == 0:
		return "-"
	case us < 1e3:
		return fmt.Sprintf("%.2f ms", us/1e3)
	case us < 1e6:
		return fmt.Sprintf("%.1f ms", us/1e3)
	}
	return fmt.Sprintf("%.2f s", us/1e6)
}

// fmtSI prints a size in powers of 1000, as disks are sold: 10.0 GB.
func fmtSI(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.0f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
