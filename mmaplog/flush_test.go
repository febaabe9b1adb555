package mmaplog_test

// The raft-log test list (RESEARCH/raft-log.md §6) ported to mmaplog's
// semantics (DESIGN.md), on real files and real mappings. This file also
// holds the helpers shared by the other black-box test files.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// Flush callbacks, stats, dumps and concurrent reads.

// Flush callbacks run exactly once each, in call order, with nil.
func TestFlushCallbacks(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	var mu sync.Mutex
	var calls []int
	var errs []error
	cb := func(i int) func(error) {
		return func(err error) {
			mu.Lock()
			calls = append(calls, i)
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	const n = 200
	for i := range n {
		logtest.MustAppend(t, l, ent(1, uint64(i+1), 50))
		if err := l.Flush(cb(i)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if err := l.Flush(nil); err != nil { // nil callback is allowed
				t.Fatal(err)
			}
		}
	}
	logtest.MustSync(t, l) // callbacks run in order: all earlier ones are done
	mu.Lock()
	if len(calls) != n {
		t.Fatalf("%d callbacks ran, want %d", len(calls), n)
	}
	for i := range calls {
		if calls[i] != i || errs[i] != nil {
			t.Fatalf("callback %d: ran as %d-th with %v", calls[i], i, errs[i])
		}
	}
	mu.Unlock()
	st := l.Stats()
	if st.Flushes != n+4+1 {
		t.Fatalf("Stats().Flushes = %d, want %d", st.Flushes, n+5)
	}
	if st.Syncs == 0 || st.Syncs > st.Flushes {
		t.Fatalf("Stats().Syncs = %d with %d flushes", st.Syncs, st.Flushes)
	}

	// Concurrent flushers: each one's callbacks in its own call order, every
	// one exactly once.
	const g, per = 4, 50
	seen := make([][]int, g)
	var wg sync.WaitGroup
	for w := range g {
		wg.Go(func() {
			for i := range per {
				if err := l.Flush(func(err error) {
					if err != nil {
						t.Errorf("flusher %d callback %d: %v", w, i, err)
					}
					mu.Lock()
					seen[w] = append(seen[w], i)
					mu.Unlock()
				}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// Flushes issued before Close have all run when Close returns.
	logtest.MustClose(t, l)
	mu.Lock()
	defer mu.Unlock()
	for w := range g {
		if len(seen[w]) != per {
			t.Fatalf("flusher %d: %d callbacks ran, want %d", w, len(seen[w]), per)
		}
		for i, v := range seen[w] {
			if v != i {
				t.Fatalf("flusher %d: callbacks ran in order %v", w, seen[w])
			}
		}
	}
}

func TestStats(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	st := l.Stats()
	if st.Segments != 1 || st.Entries != 0 || st.FirstIndex != 0 || st.LastIndex != 0 || st.Appends != 0 ||
		st.Flushes != 0 || st.Failed != nil || st.BytesUsed <= 0 || st.BytesAllocated != mmaplog.MinSegmentSize || st.IndexBytes <= 0 {
		t.Fatalf("new log: %+v", st)
	}
	used := st.BytesUsed
	logtest.MustAppend(t, l, run(1, 1, 100, 1000)...)
	logtest.MustSync(t, l)
	st = l.Stats()
	if st.Entries != 100 || st.FirstIndex != 1 || st.LastIndex != 100 || st.Appends != 100 {
		t.Fatalf("after 100 appends: %+v", st)
	}
	if st.BytesUsed < used+100*1000 || st.Segments < 2 || st.BytesAllocated != int64(st.Segments)*mmaplog.MinSegmentSize {
		t.Fatalf("after 100 appends of 1000 B: %+v", st)
	}
	if st.Flushes != 1 || st.Syncs != 1 || st.SyncTotal < st.LastSync || st.SyncMax < st.LastSync || st.SyncTotal <= 0 {
		t.Fatalf("after one Sync: %+v", st)
	}
	if st.Segments != len(segFiles(t, dir)) {
		t.Fatalf("Segments %d, files %v", st.Segments, segFiles(t, dir))
	}
	if err := l.Purge(lid(1, 40)); err != nil {
		t.Fatal(err)
	}
	st = l.Stats()
	if st.Entries != 60 || st.FirstIndex != 41 || st.LastIndex != 100 {
		t.Fatalf("after Purge(40): %+v", st)
	}
	if err := l.Truncate(91); err != nil {
		t.Fatal(err)
	}
	if st = l.Stats(); st.Entries != 50 || st.FirstIndex != 41 || st.LastIndex != 90 {
		t.Fatalf("after Truncate(91): %+v", st)
	}
	if err := l.Purge(lid(1, 200)); err != nil {
		t.Fatal(err)
	}
	if st = l.Stats(); st.Entries != 0 || st.FirstIndex != 0 || st.LastIndex != 0 {
		t.Fatalf("after Purge beyond Last: %+v", st)
	}
	logtest.MustSync(t, l)
	waitRemovals(t, l)
	if st = l.Stats(); st.Flushes != 2 || st.Syncs != 2 || st.PendingRemovals != 0 || st.Segments != len(segFiles(t, dir)) {
		t.Fatalf("after the second Sync: %+v, files %v", st, segFiles(t, dir))
	}
	// Counters are per Open.
	l = logtest.Reopen(t, l, dir, smallOpts())
	if st = l.Stats(); st.Appends != 0 || st.Flushes != 0 {
		t.Fatalf("after reopen: %+v", st)
	}
}

// Dump writes one line per record (at least one per entry) and ends cleanly.
func TestDump(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	logtest.MustAppend(t, l, run(1, 1, 150, 1000)...)
	if err := l.SaveVote(mmaplog.Vote{Term: 1, NodeID: 1}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := l.Dump(&b); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(b.String(), "\n"); lines < 152 {
		t.Fatalf("Dump wrote %d lines for 150 entries, a vote and the snapshots:\n%s", lines, b.String())
	}
	if err := l.Dump(io.Discard); err != nil {
		t.Fatal(err)
	}
}

// test_concurrent_read_race_condition: many readers of a reopened log.
func TestConcurrentReads(t *testing.T) {
	dir := t.TempDir()
	l, es := appended(t, dir, 500, 300)
	l = logtest.Reopen(t, l, dir, smallOpts())
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for r := range 100 {
				from := uint64((g*131+r*37)%496 + 1)
				got, err := collect(l, from, from+5)
				if err != nil || !slices.EqualFunc(got, es[from-1:from+4], sameEntry) {
					bad.Add(1)
				}
				if e, err := l.Get(from); err != nil || !sameEntry(e, es[from-1]) {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d reads failed or returned wrong entries", n)
	}
}

// Truncating below the first entry of the open segment, then reopening and
// appending: the new entries go into that segment at lower indexes. A later
// scan of it (after a kill -9, or with the index files lost) must accept
// what the writer wrote.
func TestTruncateBelowSegmentReopenCrash(t *testing.T) {
	dir := t.TempDir()
	l, es := appended(t, dir, 70, 1000) // entries 61..70 are in segment 2
	if n := len(segFiles(t, dir)); n != 2 {
		t.Fatalf("want 2 segments, have %d", n)
	}
	if err := l.Truncate(50); err != nil {
		t.Fatal(err)
	}
	l = logtest.Reopen(t, l, dir, smallOpts())
	es = append(es[:49], run(2, 50, 55, 100)...)
	logtest.MustAppend(t, l, es[49:]...)
	logtest.MustSync(t, l)
	want := l.State()
	checkEntries(t, l, es)

	crash := logtest.CopyDir(t, dir)
	c := logtest.MustOpen(t, crash, smallOpts())
	checkState(t, c, want)
	checkEntries(t, c, es)
	logtest.MustClose(t, c)

	// The same after a clean Close with the index files gone.
	logtest.MustClose(t, l)
	for _, name := range idxFiles(t, dir) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	l = logtest.MustOpen(t, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, es)
}

// A log whose first append started above 1, truncated empty, then appended
// to below the old first index: the new entries exist and read back, also
// after reopen and after a kill -9.
func TestTruncateEmptyThenAppendLower(t *testing.T) {
	for _, purge := range []bool{false, true} {
		t.Run(fmt.Sprintf("purged=%v", purge), func(t *testing.T) {
			dir := t.TempDir()
			l := logtest.MustOpen(t, dir, smallOpts())
			logtest.MustAppend(t, l, ent(1, 10, 8), ent(1, 11, 8))
			want := mmaplog.State{}
			if purge {
				if err := l.Purge(lid(1, 5)); err != nil { // in the gap below the first entry
					t.Fatal(err)
				}
				want = mmaplog.State{Purged: lid(1, 5), Last: lid(1, 5)}
			}
			if err := l.Truncate(10); err != nil { // no entry is left
				t.Fatal(err)
			}
			checkState(t, l, want)
			checkEntries(t, l, nil)
			es := run(2, want.Last.Index+1, want.Last.Index+4, 8)
			logtest.MustAppend(t, l, es...)
			want.Last = es[len(es)-1].ID
			checkState(t, l, want)
			checkEntries(t, l, es)
			crash := logtest.CopyDir(t, dir)
			c := logtest.MustOpen(t, crash, smallOpts())
			checkState(t, c, want)
			checkEntries(t, c, es)
			l = logtest.Reopen(t, l, dir, smallOpts())
			checkState(t, l, want)
			checkEntries(t, l, es)
		})
	}
}
