package bench

import (
	"strings"
	"testing"
)

// goalNamed returns the goal of gs called name whose target contains
// target.
func goalNamed(t *testing.T, gs []goal, name, target string) goal {
	t.Helper()
	for _, g := range gs {
		if g.name == name && strings.Contains(g.target, target) {
			return g
		}
	}
	t.Fatalf("no goal %q (%q) in %+v", name, target, gs)
	return goal{}
}

// TestGoalsShowTheDiskBeside checks that the goals whose limit is the disk
// or the page size print that limit from the same run: W2's bounded
// window beside the disk's msync of as many entries and the log's own
// group syncs, W4 beside the probe
// on 4 KiB pages and how each was mapped, W6's largest latency beside
// raft-wal's and the disk's largest sync.
func TestGoalsShowTheDiskBeside(t *testing.T) {
	rep := &Report{Results: []Result{
		{Store: "disk", Workload: "limit-msync", EntrySize: 128, OpsPerSec: 7000, P50us: 130, MaxUs: 9400},
		{Store: "disk", Workload: "limit-fdatasync", EntrySize: 128, OpsPerSec: 8000, P50us: 120, MaxUs: 1700},
		{Store: "disk", Workload: "limit-msync-window", EntrySize: 128, Batch: boundedWindow, OpsPerSec: 1.5e6, P50us: 570, P99us: 1900},
		{Store: "disk", Workload: "limit-get-probe", EntrySize: 128, OpsPerSec: 3e6, MappedBytes: 100, HugeMappedBytes: 73},
		{Store: "disk", Workload: "limit-get-probe-4k", EntrySize: 128, OpsPerSec: 2.5e6, MappedBytes: 100},
		{Store: "mmaplog", Workload: "W2-append-pipelined", EntrySize: 128, InFlight: boundedWindow, OpsPerSec: 8e5, P99us: 2500, StoreSyncP50us: 400, StoreSyncP99us: 1500},
		{Store: "mmaplog", Workload: "W4-get-random", EntrySize: 128, OpsPerSec: 1.75e6, MappedBytes: 200},
		{Store: "mmaplog", Workload: "W6-churn", EntrySize: 128, OpsPerSec: 8000, P999us: 350, MaxUs: 3500},
		{Store: "raftwal", Workload: "W6-churn", EntrySize: 128, OpsPerSec: 8000, P999us: 340, MaxUs: 1900},
	}}
	gs := refs{rep}.goals()

	w2 := goalNamed(t, gs, "W2 1,024 in flight, p99 append→callback", "ms")
	if w2.status != "NOT met" || !strings.Contains(w2.against, "disk msync of 1,024 entries p50 0.57 ms, p99 1.9 ms") ||
		!strings.Contains(w2.against, "the log's own group syncs p50 0.40 ms, p99 1.5 ms") {
		t.Errorf("W2 bounded: %+v", w2)
	}
	w4 := goalNamed(t, gs, "W4 random Get, reads/s", "probe")
	for _, want := range []string{"serial probe 3.00M/s (73% 2 MiB pages)", "on 4 KiB pages 2.50M/s (0% 2 MiB pages), W4 at 0.70×"} {
		if !strings.Contains(w4.against, want) {
			t.Errorf("W4 against %q lacks %q", w4.against, want)
		}
	}
	if w4.measured != "0.58× (1.75M/s, 0% 2 MiB pages)" || w4.status != "NOT met" {
		t.Errorf("W4: %+v", w4)
	}
	w6 := goalNamed(t, gs, "W6 churn, largest latency", "ms")
	if w6.status != "met" || !strings.Contains(w6.against, "raft-wal's 1.9 ms") || !strings.Contains(w6.against, "msync 9.4 ms, pwrite+fdatasync 1.7 ms") {
		t.Errorf("W6 largest: %+v", w6)
	}
}
