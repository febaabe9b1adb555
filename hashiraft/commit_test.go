package hashiraft_test

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/raftlog/raftlog/hashiraft"
	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/mmaplog"
)

// checkCommit asserts GetCommitIndex.
func checkCommit(tb testing.TB, s *hashiraft.Store, want uint64) {
	tb.Helper()
	got, err := s.GetCommitIndex()
	if err != nil || got != want {
		tb.Fatalf("GetCommitIndex = %d, %v; want %d", got, err, want)
	}
}

// loggedCommit closes s and returns the Committed LogID its log recorded.
func loggedCommit(tb testing.TB, s *hashiraft.Store, dir string) mmaplog.LogID {
	tb.Helper()
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	l, err := mmaplog.Open(dir, testOptions)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.State().Committed
}

func stage(tb testing.TB, s *hashiraft.Store, idx uint64) {
	tb.Helper()
	if err := s.StageCommitIndex(idx); err != nil {
		tb.Fatalf("StageCommitIndex(%d): %v", idx, err)
	}
}

// TestCommitIndexRecordedWithBatch: a staged index is recorded by the next
// StoreLogs and only then, with the term of its entry, capped at the
// batch's last entry, never going down.
func TestCommitIndexRecordedWithBatch(t *testing.T) {
	s, dir := openStore(t, "")
	checkCommit(t, s, 0)
	stage(t, s, 3)
	checkCommit(t, s, 0) // staged, not recorded
	if err := s.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatal(err) // a stable-store write syncs, and must not carry it
	}
	s = reopen(t, s, dir)
	checkCommit(t, s, 0)

	stage(t, s, 3)
	mustStore(t, s, mkLogs(1, 10, 2)...) // the index is in the batch
	checkCommit(t, s, 3)
	stage(t, s, 8)
	mustStore(t, s, mkLogs(11, 20, 3)...) // in the log, an older term
	checkCommit(t, s, 8)
	stage(t, s, 99)
	mustStore(t, s, mkLog(21, 3)) // beyond the batch: capped
	checkCommit(t, s, 21)
	stage(t, s, 5)
	mustStore(t, s, mkLog(22, 3)) // lower: ignored
	checkCommit(t, s, 21)
	if got := loggedCommit(t, s, dir); got != (mmaplog.LogID{Term: 3, Index: 21}) {
		t.Fatalf("log's Committed = %v, want 3-21", got)
	}

	// After reopening the Store knows only the last entry's term: the
	// term of an older entry is read from the log.
	s, _ = openStore(t, dir)
	checkCommit(t, s, 21)
	if err := s.DeleteRange(22, 22); err != nil {
		t.Fatal(err)
	}
	mustStore(t, s, mkLogs(22, 30, 4)...)
	s = reopen(t, s, dir)
	stage(t, s, 25)
	mustStore(t, s, mkLog(31, 4))
	checkCommit(t, s, 25)
	if got := loggedCommit(t, s, dir); got != (mmaplog.LogID{Term: 4, Index: 25}) {
		t.Fatalf("log's Committed = %v, want 4-25", got)
	}
}

// TestCommitIndexNeverAboveLastIndex cuts the log behind its recorded
// commit index (a suffix delete, then all of it), before and after a reopen.
func TestCommitIndexNeverAboveLastIndex(t *testing.T) {
	s, dir := openStore(t, "")
	stage(t, s, 15)
	mustStore(t, s, mkLogs(1, 20, 2)...)
	checkCommit(t, s, 15)
	if err := s.DeleteRange(13, 20); err != nil {
		t.Fatal(err)
	}
	checkCommit(t, s, 12)
	s = reopen(t, s, dir)
	checkCommit(t, s, 12)
	// Entries back above the recorded index: it counts again.
	mustStore(t, s, mkLogs(13, 16, 2)...)
	checkCommit(t, s, 15)
	if err := s.DeleteRange(1, 16); err != nil {
		t.Fatal(err)
	}
	checkCommit(t, s, 0)
}

// TestCommitIndexForgottenByNewHistory: an emptied store restarted below
// its recorded commit index forgets it (those entries are not the ones it
// covered); restarted above it, as raft does after a snapshot install, the
// store keeps it until the next staged index.
func TestCommitIndexForgottenByNewHistory(t *testing.T) {
	s, dir := openStore(t, "")
	stage(t, s, 15)
	mustStore(t, s, mkLogs(1, 20, 3)...)
	if err := s.DeleteRange(1, 20); err != nil {
		t.Fatal(err)
	}
	mustStore(t, s, mkLogs(1, 5, 1)...)
	checkCommit(t, s, 0) // the staged 15 was consumed by the first batch
	stage(t, s, 3)
	mustStore(t, s, mkLog(6, 1))
	checkCommit(t, s, 3)
	s = reopen(t, s, dir)
	checkCommit(t, s, 3)

	if err := s.DeleteRange(1, 6); err != nil {
		t.Fatal(err)
	}
	mustStore(t, s, mkLogs(100, 101, 4)...) // like a snapshot install
	checkCommit(t, s, 3)
	stage(t, s, 100)
	mustStore(t, s, mkLog(102, 4))
	checkCommit(t, s, 100)
}

func TestCommitIndexClosed(t *testing.T) {
	s, _ := openStore(t, "")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.StageCommitIndex(1); !errors.Is(err, mmaplog.ErrClosed) {
		t.Fatalf("StageCommitIndex after Close = %v", err)
	}
	if _, err := s.GetCommitIndex(); !errors.Is(err, mmaplog.ErrClosed) {
		t.Fatalf("GetCommitIndex after Close = %v", err)
	}
}

// TestCommitIndexPowerLoss takes power-loss images at every file operation
// while batches with staged commit indexes are stored: in every image the
// recorded commit index is covered by the entries that survived (it was
// never durable without its batch), and after each StoreLogs returned every
// image holds at least that batch and its commit index.
func TestCommitIndexPowerLoss(t *testing.T) {
	const dir = "/raft"
	fs := crashfs.New()
	opts := mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize, FS: fs}
	s, err := hashiraft.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()

	type point struct {
		snap             *crashfs.Snapshot
		minLast, minCmit uint64 // acknowledged when the snapshot was taken
	}
	var (
		mu               sync.Mutex
		points           []point
		ackLast, ackCmit uint64
	)
	fs.SetHook(func(crashfs.Event) {
		// What was acknowledged before the snapshot must be in it. (Hooks
		// run on the Log's goroutines too, racing the acknowledgements.)
		mu.Lock()
		p := point{minLast: ackLast, minCmit: ackCmit}
		mu.Unlock()
		p.snap = fs.Snapshot()
		mu.Lock()
		points = append(points, p)
		mu.Unlock()
	})
	for b := range uint64(12) {
		first := b*10 + 1
		stage(t, s, first+4)
		mustStore(t, s, mkLogs(first, first+9, 1+b/4)...)
		mu.Lock()
		ackLast, ackCmit = first+9, first+4
		mu.Unlock()
	}
	fs.SetHook(nil)
	mu.Lock()
	defer mu.Unlock()
	rng := rand.New(rand.NewPCG(7, uint64(len(points))))
	for i, p := range points {
		for k := range 2 {
			img := p.snap.Crash(rng)
			l, err := mmaplog.Open(dir, mmaplog.Options{Logger: slog.New(slog.DiscardHandler), FS: img})
			if err != nil {
				t.Fatalf("point %d image %d: Open: %v", i, k, err)
			}
			st := l.State()
			_ = l.Close()
			if st.Committed.Index > st.Last.Index {
				t.Fatalf("point %d image %d: commit %v durable without its entries (last %v)", i, k, st.Committed, st.Last)
			}
			if st.Last.Index < p.minLast || st.Committed.Index < p.minCmit {
				t.Fatalf("point %d image %d: last %v, commit %v; acknowledged %d, %d", i, k, st.Last, st.Committed, p.minLast, p.minCmit)
			}
		}
	}
}
