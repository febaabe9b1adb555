package mmaplog_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// TestAppendAllocs pins zero allocations per appended entry in steady
// state (no rotation in between).
func TestAppendAllocs(t *testing.T) {
	l := logtest.MustOpen(t, t.TempDir(), mmaplog.Options{SegmentSize: 8 << 20})
	e := mmaplog.Entry{Payload: make([]byte, 128)}
	i := uint64(0)
	allocs := testing.AllocsPerRun(2000, func() {
		i++
		e.ID = mmaplog.LogID{Term: 1, Index: i}
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Append allocates %.2f times per entry, want 0", allocs)
	}
}

// TestFaultBecomesError: a segment file shrunk behind the Log's back makes
// reads of the lost pages fault (SIGBUS); that must be an error, not a
// crash.
func TestFaultBecomesError(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 1000)
	for i := uint64(1); i <= 40; i++ {
		if err := l.Append(mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i}, Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	logtest.MustSync(t, l)
	if err := os.Truncate(filepath.Join(dir, "00000000000000000001.seg"), 4096); err != nil {
		t.Fatal(err)
	}
	_, err = l.Get(40)
	if !errors.Is(err, mmaplog.ErrFailed) {
		t.Fatalf("Get of a truncated page = %v, want an ErrFailed fault error", err)
	}
	if _, err := l.Get(1); err != nil { // the first page is still there
		t.Fatalf("Get(1) = %v", err)
	}
	// Close writes its checkpoint past the end of the shrunk file: also a
	// fault, also an error.
	if err := l.Close(); err == nil {
		t.Fatal("Close after the segment shrank returned nil")
	}
}

// TestSyncedAppendAllocs: Raft's pattern, a batch and a commit record
// then a sync, whose writes go through the file (afterSync), allocates
// nothing either: the encoding buffer is kept between calls.
func TestSyncedAppendAllocs(t *testing.T) {
	l := logtest.MustOpen(t, t.TempDir(), mmaplog.Options{SegmentSize: 8 << 20})
	e := mmaplog.Entry{Payload: make([]byte, 128)}
	i := uint64(0)
	allocs := testing.AllocsPerRun(500, func() {
		i++
		e.ID = mmaplog.LogID{Term: 1, Index: i}
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
		if err := l.Commit(e.ID); err != nil {
			t.Fatal(err)
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Append+Commit+Sync allocates %.2f times per round, want 0", allocs)
	}
}
