package bench_test

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftlog/raftlog/bench"
)

// tiny is a configuration that runs every workload in well under a second
// per store.
func tiny(t testing.TB) bench.Config {
	t.Helper()
	return bench.Config{
		Dir:              t.TempDir(),
		Duration:         100 * time.Millisecond,
		Size:             128,
		Preload:          2000,
		ReopenBytes:      256 << 10,
		PeerReopenBytes:  128 << 10,
		ReopenRounds:     2,
		ReopenCache:      bench.CacheEvict,
		Writers:          []int{1, 4},
		ChurnPreload:     3000,
		ChurnPreloadSize: 1024,
		ChurnTrail:       500,
		ChurnEvery:       20 * time.Millisecond,
		LimitDuration:    50 * time.Millisecond,
		MaxBytes:         16 << 20,
	}
}

var everyWorkload = []string{"limit", "W1", "W2", "W3", "W4", "W5", "W6", "W8"}

// TestSmoke runs every workload against every registered store with tiny
// sizes and checks that each result is sane.
func TestSmoke(t *testing.T) {
	for _, store := range bench.StoreNames() {
		t.Run(store, func(t *testing.T) {
			cfg := tiny(t)
			var phases []bench.Progress
			cfg.Progress = func(p bench.Progress) { phases = append(phases, p) }
			rep, err := bench.Run(cfg, []string{store}, everyWorkload)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			d, err := bench.LookupDriver(store)
			if err != nil {
				t.Fatal(err)
			}
			checkReport(t, rep, d)
			if len(phases) == 0 || phases[len(phases)-1].Step != phases[len(phases)-1].Steps {
				t.Errorf("progress did not reach the last step: %+v", phases)
			}
			checkJSONRoundTrip(t, rep)
			var table, svg bytes.Buffer
			if err := bench.WriteTable(&table, rep); err != nil {
				t.Fatalf("WriteTable: %v", err)
			}
			for _, want := range []string{"cpu: ", store, "W6-churn", "limit-msync"} {
				if !strings.Contains(table.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, table.String())
				}
			}
			if strings.Contains(table.String(), "issue") || (store == "mmaplog") != strings.Contains(table.String(), "raftlog's goals") {
				t.Errorf("table's goals section:\n%s", table.String())
			}
			var tl bytes.Buffer
			if err := bench.WriteTimelineSVG(&tl, rep); err != nil || !strings.Contains(tl.String(), "<svg") {
				t.Errorf("WriteTimelineSVG: %v (%d bytes)", err, tl.Len())
			}
			if err := bench.WriteSVG(&svg, rep); err != nil {
				t.Fatalf("WriteSVG: %v", err)
			}
			if !strings.Contains(svg.String(), "<svg") || !strings.Contains(svg.String(), store) {
				t.Errorf("SVG does not look like a chart of %s (%d bytes)", store, svg.Len())
			}
		})
	}
}

// checkReport checks that rep has one sane row per (store, workload), and
// a "cannot run" row exactly where the driver says so.
func checkReport(t *testing.T, rep *bench.Report, d *bench.Driver) {
	t.Helper()
	if rep.Machine.Cores <= 0 || rep.Machine.Go == "" || rep.Machine.FS == "" || rep.Machine.Kernel == "" {
		t.Errorf("machine description incomplete: %+v", rep.Machine)
	}
	want := map[string]int{ // rows per workload
		"limit-fdatasync": 1, "limit-msync": 1, "limit-seqwrite": 1, "limit-seqwrite-direct": 1, "limit-get-probe": 1, "limit-get-probe-overlapped": 1, "limit-copy-crc": 2,
		"limit-msync-window": 1, "limit-get-probe-4k": 1, "limit-fdatasync-w1": 1, "limit-msync-w1": 1,
		"W1-append-sync": 1, "W2-append-pipelined": 1, "W3-append-nosync": 2,
		"W4-get-random": 1, "W5-reopen": 2, "W6-churn": 1, "W8-concurrent": 4,
	}
	if strings.HasPrefix(d.Name, "mmaplog") { // and mmaplog-zerofill
		want["W2-append-pipelined"] = 2 // wide and bounded window
		want["W8-concurrent"] = 2       // group commit in the store only
	}
	got := map[string]int{}
	for _, r := range rep.Results {
		got[r.Workload]++
		id, _, _ := strings.Cut(r.Workload, "-")
		if r.Store == "disk" {
			if r.Workload == "limit-seqwrite-direct" && strings.HasPrefix(r.Note, "error: ") {
				continue // O_DIRECT is optional (tmpfs before Linux 6.6)
			}
		} else if r.Store != d.Name {
			t.Errorf("result for store %q, want %q", r.Store, d.Name)
		}
		if why, cannot := d.Cannot[id]; cannot {
			if r.Ran() || !strings.Contains(r.Note, why) {
				t.Errorf("%s: want a 'cannot run' row, got %+v", r.Workload, r)
			}
			continue
		}
		checkResult(t, r)
		checkWorkload(t, r, d)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows per workload = %v, want %v", got, want)
	}
}

func checkResult(t *testing.T, r bench.Result) {
	t.Helper()
	switch {
	case !r.Ran() || strings.HasPrefix(r.Note, "error"):
		t.Errorf("%s on %s did not run: %q", r.Workload, r.Store, r.Note)
	case r.EntrySize <= 0 || r.Batch <= 0:
		t.Errorf("%s on %s: entry size %d, batch %d", r.Workload, r.Store, r.EntrySize, r.Batch)
	case r.P50us <= 0 || r.P99us < r.P50us || r.P999us < r.P99us || r.MaxUs < r.P999us:
		t.Errorf("%s on %s: latencies not ordered: p50 %v p99 %v p99.9 %v max %v", r.Workload, r.Store, r.P50us, r.P99us, r.P999us, r.MaxUs)
	case r.Workload != "W5-reopen" && r.MBPerSec <= 0:
		t.Errorf("%s on %s: %v MB/s", r.Workload, r.Store, r.MBPerSec)
	case r.OpsPerSec > 1e9:
		t.Errorf("%s on %s: implausible %v ops/s", r.Workload, r.Store, r.OpsPerSec)
	}
	if r.Workload == "W5-reopen" && r.Store == "mmaplog" && r.HeapBytes <= 0 {
		t.Errorf("W5 on %s: no heap figure", r.Store)
	}
	if r.Workload == "W3-append-nosync" && r.EntrySize != 128 && r.EntrySize != 4096 {
		t.Errorf("W3 on %s: entry size %d", r.Store, r.EntrySize)
	}
}

// checkWorkload checks the fields particular to r's workload.
func checkWorkload(t *testing.T, r bench.Result, d *bench.Driver) {
	t.Helper()
	async := strings.HasPrefix(d.Name, "mmaplog") // mmaplog and mmaplog-zerofill have Flush(callback)
	switch r.Workload {
	case "W2-append-pipelined":
		if async && r.InFlight != 1<<20 && r.InFlight != 1<<10 || !async && r.InFlight != 64 {
			t.Errorf("W2 on %s: %d in flight", r.Store, r.InFlight)
		}
		// A store with group commit reports its own syncs beside the
		// entries' latency; the others have none to report.
		if async != (r.StoreSyncP50us > 0 && r.StoreSyncP99us >= r.StoreSyncP50us && strings.Contains(r.Note, "group syncs: p50")) {
			t.Errorf("W2 on %s: store syncs p50 %v p99 %v, note %q", r.Store, r.StoreSyncP50us, r.StoreSyncP99us, r.Note)
		}
	case "W5-reopen":
		_, noGet := d.Cannot["W4"]
		switch {
		case r.EntrySize != 128 && r.EntrySize != 1024:
			t.Errorf("W5 on %s: entry size %d", r.Store, r.EntrySize)
		case !r.Cold || r.Entries <= 0 || r.DiskBytes <= 0 || r.FirstAppendUs <= 0:
			t.Errorf("W5 on %s: cold %v, %d entries, %d bytes on disk, first append %v µs", r.Store, r.Cold, r.Entries, r.DiskBytes, r.FirstAppendUs)
		case (r.FirstGetUs > 0) == noGet:
			t.Errorf("W5 on %s: first get %v µs", r.Store, r.FirstGetUs)
		case d.Name == "mmaplog" && r.Scale != 0, d.Name != "mmaplog" && r.Scale != 2:
			t.Errorf("W5 on %s: scale %v", r.Store, r.Scale)
		case !strings.Contains(r.Note, "evicted"):
			t.Errorf("W5 on %s: note does not say how the cache was made cold: %s", r.Store, r.Note)
		}
	case "limit-msync-window":
		if r.Batch != 1<<10 {
			t.Errorf("%s: batch %d, want the bounded window of W2", r.Workload, r.Batch)
		}
	case "limit-get-probe", "limit-get-probe-4k":
		// The 4 KiB probe's files are advised MADV_RANDOM before any page
		// is touched: no folio of theirs can be 2 MiB.
		if r.MappedBytes <= 0 || r.HugeMappedBytes > r.MappedBytes || r.Workload == "limit-get-probe-4k" && r.HugeMappedBytes != 0 {
			t.Errorf("%s: %d of %d mapped bytes in 2 MiB pages", r.Workload, r.HugeMappedBytes, r.MappedBytes)
		}
	case "W4-get-random":
		// mmaplog reads through its mappings: its W4 says how they were mapped.
		if d.Name == "mmaplog" && (r.MappedBytes <= 0 || !strings.Contains(r.Note, "2 MiB pages")) {
			t.Errorf("W4 on %s: %d mapped bytes, note %q", r.Store, r.MappedBytes, r.Note)
		}
	case "W6-churn":
		if len(r.Timeline) == 0 || r.TimelineStepMs <= 0 {
			t.Errorf("W6 on %s: timeline of %d points, step %v ms", r.Store, len(r.Timeline), r.TimelineStepMs)
		}
		var ops int64
		for _, p := range r.Timeline {
			ops += p.Ops
			if p.Ops <= 0 || p.MeanUs <= 0 || p.MaxUs < p.MeanUs || p.Ms < 0 {
				t.Errorf("W6 on %s: timeline point %+v", r.Store, p)
				break
			}
		}
		if ops < 1 {
			t.Errorf("W6 on %s: timeline counts %d calls", r.Store, ops)
		}
	case "W3-append-nosync":
		if r.AppendOpsPerSec < r.OpsPerSec || r.SyncMBPerSec <= 0 {
			t.Errorf("W3 on %s: appends alone %v/s for %v/s in all, sync %v MB/s", r.Store, r.AppendOpsPerSec, r.OpsPerSec, r.SyncMBPerSec)
		}
	case "W8-concurrent":
		if r.Writers != 1 && r.Writers != 4 || async && r.Batch != 1 || !async && r.Batch != 1 && r.Batch != 64 {
			t.Errorf("W8 on %s: %d writers, batch %d", r.Store, r.Writers, r.Batch)
		}
	}
}

func checkJSONRoundTrip(t *testing.T, rep *bench.Report) {
	t.Helper()
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	for _, key := range []string{`"machine"`, `"cpu"`, `"cores"`, `"kernel"`, `"fs"`, `"go"`, `"results"`,
		`"store"`, `"workload"`, `"entry_size"`, `"batch"`, `"ops_per_sec"`, `"mb_per_sec"`,
		`"p50_us"`, `"p99_us"`, `"p999_us"`, `"max_us"`, `"heap_bytes"`, `"note"`} {
		if !bytes.Contains(buf.Bytes(), []byte(key)) {
			t.Errorf("JSON lacks key %s", key)
		}
	}
	back, err := bench.ReadJSON(&buf)
	if err != nil {
		t.Fatalf("ReadJSON: %v", err)
	}
	if !reflect.DeepEqual(back, rep) {
		t.Errorf("JSON round trip changed the report:\n got %+v\nwant %+v", back, rep)
	}
}

// brokenStore fails its appends after a few calls.
type brokenStore struct{ calls int }

var errBroken = errors.New("broken store")

func (s *brokenStore) Append([]bench.Entry) error {
	if s.calls++; s.calls > 3 {
		return errBroken
	}
	return nil
}
func (s *brokenStore) Sync() error                { return nil }
func (s *brokenStore) Get(uint64) ([]byte, error) { return nil, errBroken }
func (s *brokenStore) Purge(uint64) error         { return nil }
func (s *brokenStore) Close() error               { return nil }

// TestRunReportsFailures checks that a failing store is reported in the
// error and in the result's note, and that the other stores still run.
func TestRunReportsFailures(t *testing.T) {
	defer bench.RegisterForTest(&bench.Driver{
		Name: "broken",
		Open: func(string, bench.OpenOptions) (bench.Store, error) { return &brokenStore{}, nil },
	})()
	cfg := tiny(t)
	rep, err := bench.Run(cfg, []string{"broken", "raftwal"}, []string{"W1"})
	if !errors.Is(err, errBroken) {
		t.Fatalf("Run error = %v, want one wrapping %v", err, errBroken)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("%d results, want 2: %+v", len(rep.Results), rep.Results)
	}
	if b := rep.Results[0]; b.Ran() || !strings.HasPrefix(b.Note, "error: ") || !strings.Contains(b.Note, "broken store") {
		t.Errorf("broken store's row = %+v", b)
	}
	checkResult(t, rep.Results[1])
}

func TestLookup(t *testing.T) {
	for _, s := range []string{"W1", "w1", "append-sync", "W1-append-sync"} {
		w, err := bench.LookupWorkload(s)
		if err != nil || w.ID != "W1" {
			t.Errorf("LookupWorkload(%q) = %v, %v", s, w, err)
		}
	}
	if _, err := bench.LookupWorkload("W9"); err == nil {
		t.Error("LookupWorkload(W9) succeeded")
	}
	if _, err := bench.LookupDriver("nosuch"); err == nil {
		t.Error("LookupDriver(nosuch) succeeded")
	}
	names := bench.StoreNames()
	if len(names) < 5 || names[0] != "mmaplog" {
		t.Errorf("StoreNames() = %v, want mmaplog first and the four peers", names)
	}
	if _, err := bench.Run(bench.Config{}, []string{"raftwal"}, []string{"W1"}); err == nil {
		t.Error("Run without a directory succeeded")
	}
}

// TestRunRefusesW5WithoutRoom: a W5 log larger than the disk is refused
// before anything runs or is written.
func TestRunRefusesW5WithoutRoom(t *testing.T) {
	cfg := tiny(t)
	cfg.ReopenBytes = 1 << 55
	cfg.PeerReopenBytes = 1 << 20
	rep, err := bench.Run(cfg, []string{"raftwal", "mmaplog"}, []string{"W1", "W5"})
	if !errors.Is(err, bench.ErrNoRoom) || rep != nil {
		t.Fatalf("Run = %v, %v; want no report and an error wrapping ErrNoRoom", rep, err)
	}
	if !strings.Contains(err.Error(), cfg.Dir) {
		t.Errorf("error does not name the directory: %v", err)
	}
	if ents, _ := os.ReadDir(cfg.Dir); len(ents) != 0 {
		t.Errorf("refused run left %v in %s", ents, cfg.Dir)
	}
	// The peers' logs are capped: this one fits.
	cfg.Size, cfg.ReopenBytes, cfg.PeerReopenBytes = 1024, 1<<55, 1<<20
	if _, err := bench.Run(cfg, []string{"raftwal"}, []string{"W5"}); err != nil {
		t.Errorf("peer-only run with a capped log: %v", err)
	}
}

// TestW1Interleaves: W1 measures its stores in alternating turns, so that
// a disk whose latency drifts weighs on each alike; each store still gets
// its own row, in the order named, and a lone store is not interleaved.
func TestW1Interleaves(t *testing.T) {
	cfg := tiny(t)
	rep, order := runTwoInTurns(t, cfg, "W1")
	for _, r := range rep.Results {
		checkResult(t, r)
		if !strings.Contains(r.Note, "interleaved with the other stores: 10 turns") {
			t.Errorf("%s: note %q", r.Store, r.Note)
		}
	}
	// Ten rounds of one turn each, the order rotating every round.
	want := []string{"mmaplog", "raftwal", "raftwal", "mmaplog"}
	for len(want) < 20 {
		want = append(want, want[:4]...)
	}
	if !slices.Equal(order, want) {
		t.Errorf("timed turns by store: %v, want %v", order, want)
	}
	// With the limit workload in the run, the disk's two bare sync
	// primitives take turns too, and W1's goals and ratios use them.
	cfg = tiny(t)
	order = nil
	cfg.Progress = func(p bench.Progress) {
		if p.Phase == "run" && strings.HasPrefix(p.Workload, "W1") {
			order = append(order, p.Store)
		}
	}
	rep, err := bench.Run(cfg, []string{"mmaplog"}, []string{"limit", "W1"})
	if err != nil {
		t.Fatal(err)
	}
	var w1 []string
	for _, r := range rep.Results {
		if strings.HasPrefix(r.Workload, "W1") || strings.HasSuffix(r.Workload, "-w1") {
			checkResult(t, r)
			w1 = append(w1, r.Store+" "+r.Workload)
			if !strings.Contains(r.Note, "interleaved with the other stores: 10 turns") {
				t.Errorf("%s %s: note %q", r.Store, r.Workload, r.Note)
			}
		}
	}
	if want := []string{"mmaplog W1-append-sync", "disk limit-fdatasync-w1", "disk limit-msync-w1"}; !slices.Equal(w1, want) {
		t.Errorf("W1 rows %v, want %v", w1, want)
	}
	if want := []string{"mmaplog", "disk", "disk", "disk", "disk", "mmaplog"}; len(order) != 30 || !slices.Equal(order[:6], want) {
		t.Errorf("timed W1 turns by store: %v, want 30 starting %v", order, want)
	}
	var table bytes.Buffer
	if err := bench.WriteTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "in W1's turns") {
		t.Errorf("W1's p50 goal is not measured against the interleaved msync:\n%s", table.String())
	}

	rep, err = bench.Run(tiny(t), []string{"raftwal"}, []string{"W1"})
	if err != nil || len(rep.Results) != 1 || strings.Contains(rep.Results[0].Note, "interleaved") {
		t.Fatalf("one store: %+v, %v", rep.Results, err)
	}
}

// runTwoInTurns runs workload on mmaplog and raftwal with cfg and returns
// the report, checked to hold one row per store in that order, and the
// store of each timed turn.
func runTwoInTurns(t *testing.T, cfg bench.Config, workload string) (*bench.Report, []string) {
	t.Helper()
	var order []string
	cfg.Progress = func(p bench.Progress) {
		if p.Phase == "run" {
			order = append(order, p.Store)
		}
	}
	rep, err := bench.Run(cfg, []string{"mmaplog", "raftwal"}, []string{workload})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || rep.Results[0].Store != "mmaplog" || rep.Results[1].Store != "raftwal" {
		t.Fatalf("results %+v", rep.Results)
	}
	return rep, order
}

// TestW6Interleaves checks that W6 takes turns like W1 and that each store
// purges on its own clock: turns shorter than the purge period still add
// up to purges, and the timeline and the purges are in the store's running
// time, not the wall clock of the whole interleaved run.
func TestW6Interleaves(t *testing.T) {
	cfg := tiny(t)
	cfg.ChurnEvery = 30 * time.Millisecond // longer than a turn (100 ms / 5)
	rep, order := runTwoInTurns(t, cfg, "W6")
	want := []string{"mmaplog", "raftwal", "raftwal", "mmaplog", "mmaplog", "raftwal", "raftwal", "mmaplog", "mmaplog", "raftwal"}
	if !slices.Equal(order, want) {
		t.Errorf("timed turns by store: %v, want %v", order, want)
	}
	for _, r := range rep.Results {
		checkResult(t, r)
		if !strings.Contains(r.Note, "interleaved with the other stores: 5 turns") {
			t.Errorf("%s: note %q", r.Store, r.Note)
		}
		// About 100 ms of running time in turns of 20 ms: purge ticks at
		// 30, 60 and 90 ms of it.
		if len(r.Events) < 2 {
			t.Errorf("%s: %d purges in 5 turns of 20 ms with a period of 30 ms, want at least 2 (the time since the last purge must carry over between turns)", r.Store, len(r.Events))
		}
		bound := 1.5*float64(cfg.Duration.Milliseconds()) + r.MaxUs/1e3
		for i, e := range r.Events {
			if e.Ms < 0 || e.Ms > bound || (i > 0 && e.Ms < r.Events[i-1].Ms) {
				t.Errorf("%s: purge %d at %.1f ms of the store's clock (bound %.0f ms): %+v", r.Store, i, e.Ms, bound, r.Events)
			}
		}
		if n := len(r.Timeline); n == 0 || r.Timeline[n-1].Ms > bound {
			t.Errorf("%s: timeline ends at %+v, want within %.0f ms (the store's own running time)", r.Store, r.Timeline[n-1:], bound)
		}
	}
}
