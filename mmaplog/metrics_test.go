package mmaplog_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// TestStatsDistributions checks the counts and sums of the pipeline's
// distributions against what a run of appends, syncs, rotations and a
// purge must have done.
func TestStatsDistributions(t *testing.T) {
	l := logtest.MustOpen(t, t.TempDir(), mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize, Logger: quiet})
	used0 := l.Stats().BytesUsed
	payload := make([]byte, 500)
	const n, perSync = 600, 10
	for i := uint64(1); i <= n; i++ {
		if err := l.Append(mmaplog.Entry{ID: lid(1, i), Payload: payload}); err != nil {
			t.Fatal(err)
		}
		if i%perSync == 0 {
			logtest.MustSync(t, l)
		}
	}
	st := l.Stats()
	if st.Segments < 4 {
		t.Fatalf("%d segments, want a few rotations", st.Segments)
	}
	if st.SyncDuration.Count != st.Syncs || st.Syncs != n/perSync {
		t.Errorf("SyncDuration.Count %d, Syncs %d, want %d", st.SyncDuration.Count, st.Syncs, n/perSync)
	}
	for name, c := range map[string]uint64{"GroupWait": st.GroupWait.Count, "QueueWait": st.QueueWait.Count,
		"GroupEntries": st.GroupEntries.Count, "GroupBytes": st.GroupBytes.Count} {
		if c != st.Syncs {
			t.Errorf("%s.Count = %d, want one per group (%d)", name, c, st.Syncs)
		}
	}
	if st.GroupEntries.Sum != n || st.GroupEntries.Max != perSync || st.GroupEntries.P50 != perSync {
		t.Errorf("GroupEntries sum %d max %d p50 %d, want %d %d %d", st.GroupEntries.Sum, st.GroupEntries.Max, st.GroupEntries.P50, n, perSync, perSync)
	}
	if want := uint64(st.BytesUsed - used0); st.GroupBytes.Sum != want {
		t.Errorf("GroupBytes.Sum = %d, want the %d bytes written since Open", st.GroupBytes.Sum, want)
	}
	if got, want := st.RotationStall.Count, uint64(st.Segments-1); got != want {
		t.Errorf("RotationStall.Count = %d, want %d (segments - 1)", got, want)
	}
	// A group after a rotation fsyncs the directory once.
	if c := st.DirSyncDuration.Count; c == 0 || c > st.RotationStall.Count {
		t.Errorf("DirSyncDuration.Count = %d, want 1..%d", c, st.RotationStall.Count)
	}
	if st.CallbackDelay.Count != 0 || st.RemovalDuration.Count != 0 || st.SlowSyncs != 0 {
		t.Errorf("callbacks %d, removals %d, slow %d: want none", st.CallbackDelay.Count, st.RemovalDuration.Count, st.SlowSyncs)
	}
	for _, d := range []mmaplog.Latency{st.SyncDuration, st.GroupWait, st.QueueWait, st.RotationStall} {
		if d.P50 > d.P90 || d.P90 > d.P99 || d.P99 > d.Max || d.Sum < d.Max || d.Buckets[len(d.Buckets)-1].Count > d.Count {
			t.Errorf("inconsistent distribution %+v", d)
		}
	}
	if st.SyncDuration.Max == 0 {
		t.Error("SyncDuration.Max = 0 after real msyncs")
	}

	// Purge all but the open segment: after the next sync the remover
	// deletes the others, in one batch.
	dirSyncs := st.DirSyncDuration.Count
	if err := l.Purge(lid(1, n-1)); err != nil {
		t.Fatal(err)
	}
	logtest.MustSync(t, l)
	after := l.Stats()
	for deadline := time.Now().Add(10 * time.Second); after.PendingRemovals > 0 || after.RemovalDuration.Count == 0; after = l.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("purged segments not removed: %d pending, %d removal batches", after.PendingRemovals, after.RemovalDuration.Count)
		}
		time.Sleep(time.Millisecond)
	}
	removed := uint64(st.Segments - after.Segments)
	if removed == 0 || after.RemovedSegments != removed {
		t.Errorf("RemovedSegments = %d, segments %d -> %d", after.RemovedSegments, st.Segments, after.Segments)
	}
	if after.RemovalDuration.Count != 1 {
		t.Errorf("RemovalDuration.Count = %d, want 1 (one batch)", after.RemovalDuration.Count)
	}
	if got := after.DirSyncDuration.Count - dirSyncs; got != removed {
		t.Errorf("%d more directory fsyncs, want one per removed segment (%d)", got, removed)
	}
}

// TestGroupWaitAndCallbackDelay: a callback that sleeps holds up the
// flusher; the group opened meanwhile waits at least that long, and the
// callback phase lasts at least that long.
func TestGroupWaitAndCallbackDelay(t *testing.T) {
	l := logtest.MustOpen(t, t.TempDir(), mmaplog.Options{Logger: quiet})
	const nap = 20 * time.Millisecond
	done := make(chan error, 1)
	if err := l.Append(mmaplog.Entry{ID: lid(1, 1)}); err != nil {
		t.Fatal(err)
	}
	err := l.Flush(func(error) {
		if err := l.Append(mmaplog.Entry{ID: lid(1, 2)}); err != nil {
			done <- err
			return
		}
		if err := l.Flush(func(err error) { done <- err }); err != nil {
			done <- err
			return
		}
		time.Sleep(nap) // the second group is open and waiting
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.GroupWait.Count != 2 || st.GroupWait.Max < nap {
		t.Errorf("GroupWait count %d max %v, want 2 groups, one waiting >= %v", st.GroupWait.Count, st.GroupWait.Max, nap)
	}
	// Both groups' callback phases are recorded once the second one's
	// callback has returned; wait for it through Sync.
	logtest.MustSync(t, l)
	st = l.Stats()
	if st.CallbackDelay.Count != 2 || st.CallbackDelay.Max < nap {
		t.Errorf("CallbackDelay count %d max %v, want 2, max >= %v", st.CallbackDelay.Count, st.CallbackDelay.Max, nap)
	}
	if st.GroupEntries.Sum != 2 || st.GroupEntries.Max != 1 {
		t.Errorf("GroupEntries sum %d max %d, want 2 groups of 1", st.GroupEntries.Sum, st.GroupEntries.Max)
	}
}

// captured is a slog.Handler that keeps the records it is given.
type captured struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *captured) Enabled(context.Context, slog.Level) bool { return true }
func (h *captured) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *captured) WithGroup(string) slog.Handler            { return h }
func (h *captured) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

// slow returns the slow-sync records so far, each as its attributes.
func (h *captured) slow() []map[string]slog.Value {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]slog.Value
	for _, r := range h.recs {
		if r.Message != "mmaplog: slow sync" {
			continue
		}
		if r.Level != slog.LevelWarn {
			return nil
		}
		m := map[string]slog.Value{}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value; return true })
		out = append(out, m)
	}
	return out
}

func appendSync(t *testing.T, l *mmaplog.Log, idx uint64, size int) {
	t.Helper()
	if err := l.Append(mmaplog.Entry{ID: lid(1, idx), Payload: make([]byte, size)}); err != nil {
		t.Fatal(err)
	}
	logtest.MustSync(t, l)
}

// TestSlowSyncWarning: with a 1 ns threshold every sync is slow; one
// structured warning is logged per interval, the rest are counted.
func TestSlowSyncWarning(t *testing.T) {
	h := &captured{}
	opts := mmaplog.WithSlowSyncEvery(mmaplog.Options{SlowSync: time.Nanosecond, Logger: slog.New(h)}, time.Hour)
	l := logtest.MustOpen(t, t.TempDir(), opts)
	used := l.Stats().BytesUsed
	appendSync(t, l, 1, 300)
	first := l.Stats().BytesUsed - used
	appendSync(t, l, 2, 300)
	appendSync(t, l, 3, 300)
	recs := h.slow()
	if len(recs) != 1 {
		t.Fatalf("%d slow-sync records, want 1 (rate-limited): %v", len(recs), recs)
	}
	r := recs[0]
	if d := r["duration"]; d.Kind() != slog.KindDuration || d.Duration() <= 0 {
		t.Errorf("duration = %v", d)
	}
	if b := r["bytes"]; b.Kind() != slog.KindInt64 || b.Int64() != first {
		t.Errorf("bytes = %v, want %d", b, first)
	}
	if f := r["files"]; f.Kind() != slog.KindInt64 || f.Int64() != 1 {
		t.Errorf("files = %v, want 1", f)
	}
	if s := r["suppressed"]; s.Kind() != slog.KindUint64 || s.Uint64() != 0 {
		t.Errorf("suppressed = %v, want 0", s)
	}
	if th := r["threshold"]; th.Duration() != time.Nanosecond {
		t.Errorf("threshold = %v", th)
	}
	if n := l.Stats().SlowSyncs; n != 3 {
		t.Errorf("SlowSyncs = %d, want 3", n)
	}
}

// TestSlowSyncSuppressedCount: every slow sync is either logged or counted
// in the next record's "suppressed".
func TestSlowSyncSuppressedCount(t *testing.T) {
	h := &captured{}
	const every = 20 * time.Millisecond
	opts := mmaplog.WithSlowSyncEvery(mmaplog.Options{SlowSync: time.Nanosecond, Logger: slog.New(h)}, every)
	l := logtest.MustOpen(t, t.TempDir(), opts)
	for i := uint64(1); i <= 6; i++ {
		appendSync(t, l, i, 10)
	}
	time.Sleep(every + every/2)
	appendSync(t, l, 7, 10) // logged, carrying the count since the last record
	recs := h.slow()
	var total uint64
	for _, r := range recs {
		total += 1 + r["suppressed"].Uint64()
	}
	if n := l.Stats().SlowSyncs; len(recs) < 2 || total != n || n != 7 {
		t.Errorf("%d records accounting for %d slow syncs; SlowSyncs = %d, want 7", len(recs), total, n)
	}
}

// TestSlowSyncDisabled: a negative threshold never warns.
func TestSlowSyncDisabled(t *testing.T) {
	h := &captured{}
	l := logtest.MustOpen(t, t.TempDir(), mmaplog.Options{SlowSync: -1, Logger: slog.New(h)})
	appendSync(t, l, 1, 10)
	if recs, n := h.slow(), l.Stats().SlowSyncs; len(recs) != 0 || n != 0 {
		t.Errorf("%d records, SlowSyncs %d, want none", len(recs), n)
	}
}
