package mmaplog_test

// Open trusts the last segment of a cleanly closed log on its index
// header and leaves its slots unproven: the first lookup in it, or the
// first write (which extends the slots, and whose next seal covers them
// all), proves them first, in the background or on the caller's path
// (WithLazyReady). These tests tear that index's seal and check that no
// unproven slot is ever served or sealed again.

import (
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// readyModes are the two ways the open segment gets proven after Open.
var readyModes = []struct {
	name string
	opts func() mmaplog.Options
}{
	{"background", indexOpts},
	{"lazy", func() mmaplog.Options { return mmaplog.WithLazyReady(indexOpts()) }},
}

// staleSlotsLog writes, in one segment of dir, entries 1..300 of term 1,
// truncates at 150, appends 150..300 of term 2 and closes cleanly; then
// every index sector after the header's is put back as it was before the
// truncation. The seal's header stays complete, so only its slot checksum
// tells that slots 150..300 point at the truncated term-1 records, which
// are still there, valid and of the right index.
func staleSlotsLog(t *testing.T, dir string) {
	t.Helper()
	l := logtest.MustOpen(t, dir, indexOpts())
	logtest.MustAppend(t, l, run(1, 1, 300, 64)...)
	logtest.MustSync(t, l)
	before := readIndexes(t, dir)
	if err := l.Truncate(150); err != nil {
		t.Fatal(err)
	}
	logtest.MustAppend(t, l, run(2, 150, 300, 64)...)
	logtest.MustClose(t, l)
	if len(before) != 1 || len(segFiles(t, dir)) != 1 {
		t.Fatalf("want one segment, have %v", segFiles(t, dir))
	}
	restored := 0
	for name, old := range before {
		restored += restoreSectors(t, filepath.Join(dir, name), old)
	}
	if restored == 0 {
		t.Fatal("no slot sector changed between the truncation and Close: the test no longer tears the seal")
	}
}

// wantAfterTruncate is what staleSlotsLog acknowledged, and then entries
// 301..last of term 2.
func wantAfterTruncate(last uint64) []mmaplog.Entry {
	return append(run(1, 1, 149, 64), run(2, 150, last, 64)...)
}

// The first call after the reopen is a write: it must prove (and here
// rebuild) the slots before extending them, or Close would seal the stale
// ones with a fresh checksum and the next Open would serve the truncated
// entries as valid.
func TestReadyStaleSlotsWriteFirst(t *testing.T) {
	for _, m := range readyModes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			staleSlotsLog(t, dir)
			l := logtest.MustOpen(t, dir, m.opts())
			logtest.MustAppend(t, l, ent(2, 301, 64))
			logtest.MustClose(t, l) // no lookup: that would prove the slots itself

			l = logtest.MustOpen(t, dir, m.opts())
			checkEntries(t, l, wantAfterTruncate(301))
			logtest.MustClose(t, l)
			rep, err := recovery.Verify(dir)
			if err != nil || len(rep.Problems) != 0 {
				t.Fatalf("Verify after the rebuild: %v, %v", rep.Problems, err)
			}
		})
	}
}

// The first call after the reopen is a lookup in the last segment: it
// proves the slots, rebuilding them into the index file that the writer
// then extends.
func TestReadyStaleSlotsReadFirst(t *testing.T) {
	for _, m := range readyModes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			staleSlotsLog(t, dir)
			l := logtest.MustOpen(t, dir, m.opts())
			for i := uint64(300); i >= 150; i-- {
				if e, err := l.Get(i); err != nil || !sameEntry(e, ent(2, i, 64)) {
					t.Fatalf("Get(%d) = %v %q, %v; want the acknowledged term-2 entry", i, e.ID, trim(e.Payload), err)
				}
			}
			logtest.MustAppend(t, l, ent(2, 301, 64), ent(2, 302, 64))
			logtest.MustClose(t, l)
			l = logtest.MustOpen(t, dir, m.opts())
			checkEntries(t, l, wantAfterTruncate(302))
			logtest.MustClose(t, l)
		})
	}
}

// A torn seal over damaged records: the slots can be neither proven nor
// rebuilt, so every lookup in the segment and every write fail with a
// *CorruptError (never an entry), as the lookups in a damaged sealed
// segment do, and nothing on disk changes: the seal still vouches for the
// segment, Close leaves it, and the next Open finds the same.
func TestReadyTornSealDamagedRecords(t *testing.T) {
	src := t.TempDir()
	writeLog(t, src, indexOpts(), 400, 64, nil)
	idx := filepath.Join(src, idxFiles(t, src)[0])
	logtest.Zero(t, idx, sectorSize, sectorSize)
	seg := lastSegment(t, src)
	logtest.Flip(t, seg, int64(findMarker(t, seg, lid(1, 200)))+20, 0x40)
	for _, m := range readyModes {
		t.Run(m.name, func(t *testing.T) {
			dir := logtest.CopyDir(t, src)
			before := logtest.Snapshot(t, dir)
			for round := range 2 {
				l, err := mmaplog.Open(dir, m.opts())
				if err != nil {
					if !asCorrupt(err) {
						t.Fatalf("Open: %v, want success or a *CorruptError", err)
					}
					continue
				}
				for _, i := range []uint64{1, 199, 200, 201, 400} {
					if e, err := l.Get(i); !asCorrupt(err) {
						t.Fatalf("round %d: Get(%d) = %v, %v; want a *CorruptError", round, i, e.ID, err)
					}
				}
				for what, write := range map[string]func() error{
					"Append":   func() error { return l.Append(ent(1, 401, 64)) },
					"SaveVote": func() error { return l.SaveVote(vt(5, 1, false)) },
					"Sync":     l.Sync,
				} {
					if err := write(); !asCorrupt(err) {
						t.Fatalf("round %d: %s = %v, want a *CorruptError", round, what, err)
					}
				}
				if st := l.State(); st.Last.Index != 400 || st.Vote != (mmaplog.Vote{}) {
					t.Fatalf("round %d: state after the failed writes %+v", round, st)
				}
				if err := l.Close(); err != nil {
					t.Fatalf("round %d: Close = %v", round, err)
				}
				logtest.Unchanged(t, "a log that could not prove its last segment", before, dir)
			}
		})
	}
}

// Opened and closed without a write, lazily: the last segment is never
// proven and its seal never rewritten.
func TestReadyLazyOpenCloseWritesNothing(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, indexOpts(), 400, 64, nil)
	before := logtest.Snapshot(t, dir)
	l := logtest.MustOpen(t, dir, mmaplog.WithLazyReady(indexOpts()))
	if e, err := l.Get(7); err != nil || !sameEntry(e, ent(1, 7, 64)) {
		t.Fatalf("Get(7) = %v, %v", e.ID, err)
	}
	logtest.MustClose(t, l)
	logtest.Unchanged(t, "Open, Get and Close", before, dir)
}
