package raftlogprom_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/raftlogprom"
)

// The online verifier's counters are exported.
func TestCollectVerify(t *testing.T) {
	st := mmaplog.Stats{Verify: mmaplog.VerifyStats{Runs: 4, Segments: 12, BytesChecked: 3 << 20, Problems: 2,
		LastRunProblems: 1, LastRun: time.Unix(1700000000, 500_000_000)}}
	c := raftlogprom.New(raftlogprom.StatsFunc(func() mmaplog.Stats { return st }), prometheus.Labels{"node": "n1"})
	want := `
# HELP raftlog_verify_runs_total Online verification passes completed (Log.Verify and the background verifier).
# TYPE raftlog_verify_runs_total counter
raftlog_verify_runs_total{node="n1"} 4
# HELP raftlog_verify_read_bytes_total Bytes online verification read from the disk.
# TYPE raftlog_verify_read_bytes_total counter
raftlog_verify_read_bytes_total{node="n1"} 3.145728e+06
# HELP raftlog_verify_problems_total Damage found by online verification, counted by every pass that finds it.
# TYPE raftlog_verify_problems_total counter
raftlog_verify_problems_total{node="n1"} 2
# HELP raftlog_verify_last_run_problems Damage found by the last completed verification pass: 0 when the sealed segments checked sound.
# TYPE raftlog_verify_last_run_problems gauge
raftlog_verify_last_run_problems{node="n1"} 1
# HELP raftlog_verify_last_run_timestamp_seconds When the last verification pass completed (Unix seconds), 0 before the first.
# TYPE raftlog_verify_last_run_timestamp_seconds gauge
raftlog_verify_last_run_timestamp_seconds{node="n1"} 1.7000000005e+09
`
	names := []string{"raftlog_verify_runs_total", "raftlog_verify_read_bytes_total", "raftlog_verify_problems_total",
		"raftlog_verify_last_run_problems", "raftlog_verify_last_run_timestamp_seconds"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
}
