package mmaplog_test

import (
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// TestSmallSyncsRotateEarly: a segment prepared during a bulk load (no
// syncs) gets large pages; once the log is synced in small pieces the
// writer moves to a small-page segment as soon as the preparer has one
// ready (it never creates one on its own path for this) instead of paying
// a large-folio writeback on every sync until the segment is full.
func TestSmallSyncsRotateEarly(t *testing.T) {
	l := logtest.MustOpen(t, t.TempDir(), mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize})
	payload := make([]byte, 1000)
	i := uint64(0)
	appendOne := func() {
		t.Helper()
		i++
		if err := l.Append(mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i}, Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	for l.Stats().Segments < 2 { // bulk: no sync
		appendOne()
	}
	appendOne()
	if err := l.Sync(); err != nil { // now small syncs
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); l.Stats().Segments < 3 && time.Now().Before(deadline); {
		appendOne()
		time.Sleep(time.Millisecond) // the preparer makes the small-page segment
	}
	st := l.Stats()
	if st.Segments != 3 {
		t.Fatalf("after small syncs in a bulk-prepared segment: %d segments, want 3 (early rotation)", st.Segments)
	}
	if st.BytesAllocated-st.BytesUsed < mmaplog.MinSegmentSize/2 {
		t.Fatalf("segment 2 was filled (%d of %d bytes used): the rotation was not early", st.BytesUsed, st.BytesAllocated)
	}
	logtest.MustSync(t, l)
	for j := uint64(1); j <= i; j++ {
		if _, err := l.Get(j); err != nil {
			t.Fatalf("Get(%d): %v", j, err)
		}
	}
}
