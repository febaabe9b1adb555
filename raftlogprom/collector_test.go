package raftlogprom_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/raftlogprom"
)

// synthetic is a Stats with known distributions: buckets as a Log fills
// them, cut to two bounds to keep the expected text short.
func synthetic() mmaplog.Stats {
	return mmaplog.Stats{
		Segments: 3, PendingRemovals: 1, BytesUsed: 1000, BytesAllocated: 4096, IndexBytes: 512,
		Entries: 9, FirstIndex: 2, LastIndex: 10, Appends: 10, Flushes: 7, Syncs: 5, SlowSyncs: 1,
		RemovedSegments: 2,
		WrittenBehind:   3 << 20,
		SyncDuration: mmaplog.Latency{Count: 5, Sum: 1500 * time.Microsecond, Buckets: []mmaplog.Bucket[time.Duration]{
			{Le: 256 * time.Microsecond, Count: 3}, {Le: 512 * time.Microsecond, Count: 4}}},
		GroupBytes: mmaplog.Sizes{Count: 5, Sum: 900, Buckets: []mmaplog.Bucket[uint64]{
			{Le: 128, Count: 2}, {Le: 256, Count: 5}}},
		Failed: errors.New("mmaplog: failed: msync: EIO"),
	}
}

// TestCollectSynthetic pins names, types, units, help, labels and the
// conversion of Stats into Prometheus metrics.
func TestCollectSynthetic(t *testing.T) {
	c := raftlogprom.New(raftlogprom.StatsFunc(synthetic), prometheus.Labels{"node": "n1"})
	want := `
# HELP raftlog_sync_duration_seconds Per group commit: the msync of the written ranges and sealed index files, without the directory fsync.
# TYPE raftlog_sync_duration_seconds histogram
raftlog_sync_duration_seconds_bucket{node="n1",le="0.000256"} 3
raftlog_sync_duration_seconds_bucket{node="n1",le="0.000512"} 4
raftlog_sync_duration_seconds_bucket{node="n1",le="+Inf"} 5
raftlog_sync_duration_seconds_sum{node="n1"} 0.0015
raftlog_sync_duration_seconds_count{node="n1"} 5
# HELP raftlog_flush_group_bytes Per group commit: bytes of records made durable.
# TYPE raftlog_flush_group_bytes histogram
raftlog_flush_group_bytes_bucket{node="n1",le="128"} 2
raftlog_flush_group_bytes_bucket{node="n1",le="256"} 5
raftlog_flush_group_bytes_bucket{node="n1",le="+Inf"} 5
raftlog_flush_group_bytes_sum{node="n1"} 900
raftlog_flush_group_bytes_count{node="n1"} 5
# HELP raftlog_syncs_total Group syncs performed.
# TYPE raftlog_syncs_total counter
raftlog_syncs_total{node="n1"} 5
# HELP raftlog_slow_syncs_total Group syncs slower than Options.SlowSync (default 1 s), logged or not.
# TYPE raftlog_slow_syncs_total counter
raftlog_slow_syncs_total{node="n1"} 1
# HELP raftlog_purged_segments_removed_total Purged segment files removed (each with its index file).
# TYPE raftlog_purged_segments_removed_total counter
raftlog_purged_segments_removed_total{node="n1"} 2
# HELP raftlog_written_behind_bytes_total Bytes whose write-back the flusher started early, segments left unsynced at a rotation (Options.WriteBehind).
# TYPE raftlog_written_behind_bytes_total counter
raftlog_written_behind_bytes_total{node="n1"} 3.145728e+06
# HELP raftlog_segments Segment files on disk, including purged ones awaiting deletion.
# TYPE raftlog_segments gauge
raftlog_segments{node="n1"} 3
# HELP raftlog_segment_used_bytes Bytes of records written in all segments.
# TYPE raftlog_segment_used_bytes gauge
raftlog_segment_used_bytes{node="n1"} 1000
# HELP raftlog_entries Live entries (last index - first index + 1).
# TYPE raftlog_entries gauge
raftlog_entries{node="n1"} 9
# HELP raftlog_failed 1 when the log has failed (a sync or write error; reopen to recover), else 0.
# TYPE raftlog_failed gauge
raftlog_failed{node="n1"} 1
`
	names := []string{"raftlog_sync_duration_seconds", "raftlog_flush_group_bytes", "raftlog_syncs_total",
		"raftlog_slow_syncs_total", "raftlog_purged_segments_removed_total", "raftlog_written_behind_bytes_total", "raftlog_segments",
		"raftlog_segment_used_bytes", "raftlog_entries", "raftlog_failed"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c); n != 30 { // 25, and 5 of online verification
		t.Errorf("%d metrics, want 30", n)
	}
}

// TestLint runs client_golang's linter (promlint: naming, units, _total
// on counters, help text) over every metric of a live Log.
func TestLint(t *testing.T) {
	l := openLog(t)
	c := raftlogprom.New(l, nil)
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestCollectLive: a live Log's metrics follow what was done to it.
func TestCollectLive(t *testing.T) {
	l := openLog(t)
	const n = 20
	for i := uint64(1); i <= n; i++ {
		if err := l.Append(mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i}, Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		logtest.MustSync(t, l)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(raftlogprom.New(l, prometheus.Labels{"node": "a"})); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`
# HELP raftlog_appended_entries_total Entries appended.
# TYPE raftlog_appended_entries_total counter
raftlog_appended_entries_total{node="a"} %d
# HELP raftlog_syncs_total Group syncs performed.
# TYPE raftlog_syncs_total counter
raftlog_syncs_total{node="a"} %d
# HELP raftlog_last_index Last live log index, 0 when the log is empty.
# TYPE raftlog_last_index gauge
raftlog_last_index{node="a"} %d
# HELP raftlog_failed 1 when the log has failed (a sync or write error; reopen to recover), else 0.
# TYPE raftlog_failed gauge
raftlog_failed{node="a"} 0
`, n, n, n)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"raftlog_appended_entries_total", "raftlog_syncs_total", "raftlog_last_index", "raftlog_failed"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	h := family(t, mfs, "raftlog_sync_duration_seconds").GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != n || h.GetSampleSum() <= 0 {
		t.Errorf("sync histogram count %d sum %g, want %d syncs", h.GetSampleCount(), h.GetSampleSum(), n)
	}
	prev := uint64(0)
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() < prev || b.GetCumulativeCount() > n {
			t.Errorf("bucket le=%g count %d after %d", b.GetUpperBound(), b.GetCumulativeCount(), prev)
		}
		prev = b.GetCumulativeCount()
	}
	g := family(t, mfs, "raftlog_flush_group_entries").GetMetric()[0].GetHistogram()
	if g.GetSampleCount() != n || g.GetSampleSum() != n || g.GetBucket()[0].GetUpperBound() != 1 || g.GetBucket()[0].GetCumulativeCount() != n {
		t.Errorf("group entries: %v", g)
	}
}

func family(t *testing.T, mfs []*dto.MetricFamily, name string) *dto.MetricFamily {
	t.Helper()
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("no metric family %s", name)
	return nil
}

func openLog(t *testing.T) *mmaplog.Log {
	t.Helper()
	l, err := mmaplog.Open(t.TempDir(), mmaplog.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}
