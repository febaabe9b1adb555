package mmaplog_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// An Append whose record lands on a page the segment file lost (shrunk
// behind the Log's back) faults: that is an ErrFailed error, not a crash,
// the writer's lock is released, and nothing is published. Both paths:
// copied into the mapping (a batch appended while unsynced writes are
// pending) and written through the file (the first batch after a sync),
// where a pwrite would otherwise extend the shrunk file.
func TestAppendFaultBecomesError(t *testing.T) {
	for _, path := range []string{"copied", "through"} {
		t.Run(path, func(t *testing.T) { testAppendFault(t, path == "through") })
	}
}

func testAppendFault(t *testing.T, through bool) {
	t.Helper()
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	logtest.MustAppend(t, l, run(1, 1, 9, 1000)...)
	if through {
		logtest.MustAppend(t, l, ent(1, 10, 1000))
		logtest.MustSync(t, l)
	} else {
		logtest.MustSync(t, l)
		logtest.MustAppend(t, l, ent(1, 10, 1000)) // after the sync: written through
	}
	if err := os.Truncate(filepath.Join(dir, "00000000000000000001.seg"), 4096); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ent(1, 11, 1000)); !errors.Is(err, mmaplog.ErrFailed) {
		t.Fatalf("Append onto a lost page = %v, want an ErrFailed fault error", err)
	}
	if last := l.State().Last.Index; last != 10 {
		t.Fatalf("Last = %d after the failed Append, want 10", last)
	}
	if _, err := l.Get(1); err != nil { // the first page is still there
		t.Fatalf("Get(1) = %v", err)
	}
	// Records may be half written past what was published: the Log
	// fails closed, and the writer's lock was released (the next call
	// returns instead of hanging).
	if st := l.Stats(); st.Failed == nil {
		t.Fatal("Log not failed after a fault on its mapping")
	}
	if err := l.Append(ent(1, 11, 1000)); !errors.Is(err, mmaplog.ErrFailed) {
		t.Fatalf("second Append = %v, want the sticky ErrFailed", err)
	}
	if err := l.Close(); err == nil {
		t.Fatal("Close after the segment shrank returned nil")
	}
}
