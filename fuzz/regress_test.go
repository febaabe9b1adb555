package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// Deterministic regressions for bugs the families found. Each names the
// family and seed that found it.

func openT(t *testing.T, fs *crashfs.FS) *mmaplog.Log {
	t.Helper()
	return logtest.MustOpen(t, logDir, options(fs))
}

// openAfter opens the log on fs (an image after what happened), failing
// the test with what when it does not open, and closes it when the test
// ends.
func openAfter(t *testing.T, fs *crashfs.FS, what string) *mmaplog.Log {
	t.Helper()
	l, err := mmaplog.Open(logDir, options(fs))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// rotatedUnsynced writes entry 1, synced, then a batch of entries 2..6 of
// one segment each, never flushed, and returns the simulator's state
// then (the log closed afterwards).
func rotatedUnsynced(t *testing.T) *crashfs.Snapshot {
	t.Helper()
	fs := crashfs.New()
	l := openT(t, fs)
	logtest.MustAppend(t, l, entry(1, 1, 100))
	logtest.MustSync(t, l)
	var batch []mmaplog.Entry
	for i := uint64(2); i <= 6; i++ {
		batch = append(batch, entry(1, i, 40000)) // one segment each
	}
	logtest.MustAppend(t, l, batch...)
	s := fs.Snapshot()
	_ = l.Close()
	return s
}

func entry(term, index uint64, n int) mmaplog.Entry {
	p := bytes.Repeat([]byte{byte(index) | 1}, n)
	return mmaplog.Entry{ID: mmaplog.LogID{Term: term, Index: index}, Payload: p}
}

func getT(t *testing.T, l *mmaplog.Log, want mmaplog.Entry) {
	t.Helper()
	e, err := l.Get(want.ID.Index)
	if err != nil {
		t.Fatalf("Get(%d): %v", want.ID.Index, err)
	}
	if e.ID != want.ID || !bytes.Equal(e.Payload, want.Payload) {
		t.Fatalf("Get(%d) = %v (%d bytes), want %v (%d bytes)", want.ID.Index, e.ID, len(e.Payload), want.ID, len(want.Payload))
	}
}

// F2 seeds 55867290419202, ...207, ...209: the flusher deletes a purged
// segment's index by the temporary name it was created under, gets
// ENOENT and fails the Log.
func TestRegressPurgeRemovesIndex(t *testing.T) {
	fs := crashfs.New()
	l := openT(t, fs)
	defer l.Close()
	for i := uint64(1); i <= 40; i++ {
		logtest.MustAppend(t, l, entry(1, i, 8000)) // ~5 segments
	}
	logtest.MustSync(t, l)
	if err := l.Purge(mmaplog.LogID{Term: 1, Index: 39}); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("sync after purge: %v", err)
	}
	if err := l.Append(entry(1, 41, 10)); err != nil {
		t.Fatalf("append after purge: %v", err)
	}
}

// F2 seed 55867290419213: recovery cuts a torn tail but leaves its bytes;
// a record written later over them keeps them in its padding, and reading
// it back fails with "nonzero padding" (and a later scan would stop there,
// losing acknowledged entries).
func TestRegressTornTailPadding(t *testing.T) {
	fs := crashfs.New()
	l := openT(t, fs)
	logtest.MustAppend(t, l, entry(1, 1, 100))
	logtest.MustSync(t, l)
	logtest.MustAppend(t, l, entry(1, 2, 3000)) // never synced
	s := fs.Snapshot()
	_ = l.Close()
	// The crash keeps every sector of the unsynced page but the first one
	// holding entry 2's frame: its payload stays behind the cut.
	plan := s.KeepAll()
	for i, p := range s.DirtyPages() {
		if p.Path == logDir+"/00000000000000000001.seg" && p.Page == 0 {
			plan.Pages[i] = crashfs.PageChoice{Mode: crashfs.Torn, Sectors: 0b11111110}
		}
	}
	img := s.Image(plan)
	l = openT(t, img)
	if got := l.State().Last.Index; got != 1 {
		t.Skipf("crash image kept entry 2 (last %d): the page layout changed; adjust the test", got)
	}
	// A record whose padding lies in sector 1, over entry 2's old payload.
	x := l.Stats().BytesUsed
	e2 := entry(2, 2, int(512-x-40+1))
	logtest.MustAppend(t, l, e2)
	logtest.MustSync(t, l)
	getT(t, l, e2)
	logtest.MustClose(t, l)
	l = openT(t, img)
	defer l.Close()
	getT(t, l, e2)
}

// F2 seeds 55867290419205, 55983458333024: a first append to an empty log
// may start above index 1; the indexes below it exist in no segment: the
// log does not reopen (Open: "entries 1..N are in no segment"), and Get
// (and Truncate) there report corruption instead of ErrNotFound.
func TestRegressGapBelowFirstAppend(t *testing.T) {
	fs := crashfs.New()
	l := openT(t, fs)
	logtest.MustAppend(t, l, entry(1, 907, 10), entry(1, 908, 10))
	logtest.MustClose(t, l)
	l = openAfter(t, fs, "reopen after a first append at 907")
	getT(t, l, entry(1, 908, 10))
	if _, err := l.Get(105); !errors.Is(err, mmaplog.ErrNotFound) {
		t.Fatalf("Get(105) below the first entry 907: %v, want ErrNotFound", err)
	}
	if err := l.Truncate(106); err != nil && !errors.Is(err, mmaplog.ErrNotFound) {
		t.Fatalf("Truncate(106) below the first entry 907: %v, want nil or ErrNotFound", err)
	}
}

// F2 seed 55867290419204 (and many): a batch that rotates through several
// segments before any flush; power loss keeps the new names (metadata is
// journaled in order) but none of the unsynced data pages. Segment 2 then
// has a zero header while a later segment exists, and Open reports
// corruption although nothing acknowledged was lost.
func TestRegressUnsyncedMiddleSegment(t *testing.T) {
	s := rotatedUnsynced(t)
	plan := s.KeepAll()
	for i := range plan.Pages {
		plan.Pages[i].Mode = crashfs.Drop
	}
	l := openAfter(t, s.Image(plan), "crash-only image")
	getT(t, l, entry(1, 1, 100))
}

// F3 seeds 56087284382616, 56087284382430: recovery deletes the segments
// after a torn cut in ascending order; power loss after the first delete
// (metadata in order, as on ext4) leaves a gap in the segment IDs and the
// next Open reports corruption.
func TestRegressRecoveryRemovesInOrder(t *testing.T) {
	s := rotatedUnsynced(t)
	// Keep the names, sizes and the first page of every file: segment 2
	// starts well and stops short; segments 3.. are beyond the cut.
	plan := s.KeepAll()
	for i, p := range s.DirtyPages() {
		if p.Page != 0 {
			plan.Pages[i].Mode = crashfs.Drop
		}
	}
	img := s.Image(plan)
	var (
		first *crashfs.Snapshot
		what  string
	)
	img.SetHook(func(ev crashfs.Event) {
		if first == nil && ev.Op == crashfs.OpRemove && ev.Err == nil {
			first, what = img.Snapshot(), ev.Path
		}
	})
	l := openT(t, img)
	img.SetHook(nil)
	_ = l.Close()
	if first == nil {
		t.Skip("recovery removed nothing: the image layout changed; adjust the test")
	}
	// Power loss right after that delete reached the disk.
	crashed := first.Image(first.KeepAll())
	l = openAfter(t, crashed, fmt.Sprintf("power loss after recovery removed %s", what))
	getT(t, l, entry(1, 1, 100))
}

// F6-random seed 59984386303243 (create failures, then a reopen): the
// process dies after a rotation but before the flush that fsyncs the
// directory; the restarted process recovers the new segment from the page
// cache, appends, and a flush acknowledges everything — but nobody ever
// fsynced the directory entry of that segment, so a power loss then loses
// acknowledged entries.
func TestRegressKillThenPowerLoss(t *testing.T) {
	fs := crashfs.New()
	l := openT(t, fs)
	logtest.MustAppend(t, l, entry(1, 1, 100))
	logtest.MustSync(t, l)
	for i := uint64(2); i <= 4; i++ {
		logtest.MustAppend(t, l, entry(1, i, 40000)) // a new segment each, never flushed
	}
	killed := fs.Snapshot() // kill -9 here
	_ = l.Close()
	r := killed.Restart()
	l = openT(t, r)
	if got := l.State().Last.Index; got != 4 {
		t.Fatalf("after restart Last %d, want 4 (the page cache survives a kill)", got)
	}
	logtest.MustAppend(t, l, entry(1, 5, 10))
	logtest.MustSync(t, l) // acknowledges 1..5
	s := r.Snapshot()
	_ = l.Close()
	l = openAfter(t, s.Image(s.DropAll()), "power loss after an acknowledged flush")
	for i := uint64(2); i <= 4; i++ {
		getT(t, l, entry(1, i, 40000))
	}
	getT(t, l, entry(1, 5, 10))
}

// F2 seeds 55658392037745, 55658392037764: a segment whose entries were
// all truncated away comes back from recovery with Base 0, so the writer
// appends lower indexes into it; the next scan of that segment keeps the
// base of its first entries and rejects them: "entry 5 out of place in a
// segment holding 8..7" — an acknowledged log that no longer opens.
func TestRegressAppendAfterTruncatedSegment(t *testing.T) {
	fs := crashfs.New()
	l := openT(t, fs)
	for i := uint64(1); i <= 12; i++ {
		logtest.MustAppend(t, l, entry(1, i, 9000)) // about 7 per segment
	}
	if err := l.Truncate(5); err != nil {
		t.Fatal(err)
	}
	logtest.MustClose(t, l)
	l = openT(t, fs)
	logtest.MustAppend(t, l, entry(2, 5, 100), entry(2, 6, 100))
	logtest.MustSync(t, l)
	s := fs.Snapshot() // power loss: the segment must be scanned
	_ = l.Close()
	l = openAfter(t, s.Image(s.DropAll()), "open after truncate, reopen, append")
	getT(t, l, entry(2, 6, 100))
}
