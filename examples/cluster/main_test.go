package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRun runs the example end to end, twice on the same directory: the
// second run starts from the stored state of the first, and serves its
// metrics, which are scraped over HTTP while the cluster is up.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster example skipped in -short mode")
	}
	dir := t.TempDir()
	for i := range 2 {
		var out strings.Builder
		var m *metrics
		var scraped string
		if i == 1 {
			var err error
			if m, err = serveMetrics("127.0.0.1:0", &out); err != nil {
				t.Fatal(err)
			}
			defer m.close()
			m.hold = func() { scraped = scrape(t, m) }
		}
		if err := run(dir, 100, &out, m); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out.String())
		}
		t.Logf("run %d:\n%s", i+1, out.String())
		if !strings.HasSuffix(out.String(), "ok\n") {
			t.Fatalf("run %d did not finish", i+1)
		}
		if m == nil {
			continue
		}
		for _, want := range []string{
			`raftlog_syncs_total{node="node1"}`, `raftlog_syncs_total{node="node2"}`, `raftlog_syncs_total{node="node3"}`,
			`raftlog_sync_duration_seconds_bucket{node="node1",le="0.001024"}`,
			`raftlog_flush_group_entries_count{node="node3"}`,
			"go_goroutines",
		} {
			if !strings.Contains(scraped, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	}
}

// scrape fetches the example's /metrics and lints what its registry holds.
func scrape(t *testing.T, m *metrics) string {
	t.Helper()
	resp, err := http.Get(m.url)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s %v", m.url, resp.Status, err)
	}
	problems, err := testutil.GatherAndLint(m.reg)
	if err != nil {
		t.Error(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "raftlog_") {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
	}
	return string(body)
}
