package mmaplog_test

import (
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// waitPrepared waits until dir holds a prepared (temporary) segment file
// and reports whether one appeared within d.
func waitPrepared(t *testing.T, dir string, d time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(time.Millisecond) {
		if len(spareFiles(t, dir)) > 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// A rotation asks for the next segment at once: a bulk load fills a
// segment about as fast as one is prepared, so waiting until the new
// segment is a quarter full (as the first segment does) left the writer
// creating segments itself.
func TestRotationAsksForTheNextSegment(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	i := uint64(0)
	appendUntil := func(done func() bool) {
		t.Helper()
		for !done() {
			i++
			logtest.MustAppend(t, l, mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i}, Payload: make([]byte, 100)})
		}
	}
	// Past a quarter of the first segment: its successor is prepared.
	appendUntil(func() bool { return l.Stats().BytesUsed > mmaplog.MinSegmentSize/3 })
	if !waitPrepared(t, dir, 10*time.Second) {
		t.Fatal("no segment prepared with the first segment a third full")
	}
	// Rotate into it, and write nothing more: the one after is asked for
	// with the new segment holding a single entry.
	appendUntil(func() bool { return l.Stats().Segments == 2 })
	if !waitPrepared(t, dir, 10*time.Second) {
		t.Fatalf("rotated at entry %d: no successor prepared for the new segment", i)
	}
	if got := spareFiles(t, dir); len(got) != 1 {
		t.Fatalf("prepared segments %v, want one", got)
	}
}

// A log synced in small pieces asks for the next segment only once the
// new one is a quarter full: asked at the rotation, a reused spare's
// zeroing would land on the seal of the segment just left.
func TestRotationOfASmallSyncLogWaits(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	i := uint64(0)
	for l.Stats().Segments < 2 {
		i++
		logtest.MustAppend(t, l, mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i}, Payload: make([]byte, 100)})
		logtest.MustSync(t, l)
	}
	if waitPrepared(t, dir, 300*time.Millisecond) {
		t.Fatalf("rotated at entry %d, synced each: a successor was prepared at once", i)
	}
	for l.Stats().BytesUsed < mmaplog.MinSegmentSize+mmaplog.MinSegmentSize/3 {
		i++
		logtest.MustAppend(t, l, mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i}, Payload: make([]byte, 100)})
		logtest.MustSync(t, l)
	}
	if !waitPrepared(t, dir, 10*time.Second) {
		t.Fatal("no successor prepared with the second segment a third full")
	}
}
