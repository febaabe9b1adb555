package recovery_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// The corruption suite: each case writes a real log with mmaplog, damages
// its files and states the outcome:
//
//   - opens: Open succeeds and holds exactly entries first..last (a torn
//     tail cut at the right index, a crash leftover dropped, or an index
//     rebuilt); recovering again gives the same log; appending works.
//   - corrupt: Open fails with a *CorruptError at the given file, offset
//     and entry, twice, changing no byte on disk; Verify reports the same;
//     Repair cuts the log so that Open succeeds with entries first..last.
//   - readCorrupt: the damage is in data a clean Open does not read (by
//     design it does not re-read a cleanly closed log): Open succeeds,
//     reads of the damaged entries fail with a *CorruptError (never wrong
//     bytes), Verify finds the damage and Repair fixes it.
//
// Every case also runs Verify first and checks that it changes nothing and
// predicts the outcome (status, last index, the cut Repair makes).

type kind int

const (
	opens kind = iota
	corrupt
	readCorrupt
)

// loc is where a CorruptError must point: file name in the log directory,
// byte offset and entry index (anyIndex: not checked).
type loc struct {
	file string
	off  int64
	idx  uint64
}

type want struct {
	kind   kind
	status recovery.Status // Verify's verdict before anything is changed
	first  uint64          // first live index after recovery (0: 1)
	last   uint64          // last live index after recovery (or after Repair)
	torn   error           // opens: the reason Verify gives for the torn tail
	loc    loc             // corrupt: Open's error; readCorrupt: Verify's first problem
	// verifyLoc is Verify's first problem when it is more precise than
	// Open's error (nil: same as loc).
	verifyLoc *loc
	bad       map[uint64]loc // readCorrupt: Get(i) fails there
	vote      *mmaplog.Vote  // the vote after recovery or Repair
	noCut     bool           // corrupt/readCorrupt: Repair fixes it without cutting
}

type corruptionCase struct {
	name string
	// build writes the log, damages it and returns the directory, the
	// model of what was written and the expected outcome.
	build func(t *testing.T) (string, *model, want)
}

var (
	seg1, seg2, seg3 = format.SegmentName(1), format.SegmentName(2), format.SegmentName(3)
	idx1, idx2       = format.IndexName(1), format.IndexName(2)
)

// syncedThen appends entries 1..a one at a time, syncing each, then
// a+1..a+b as one batch that is never synced.
func syncedThen(t testing.TB, a, b uint64) func(l *mmaplog.Log, m *model) {
	t.Helper()
	return func(l *mmaplog.Log, m *model) {
		for i := uint64(1); i <= a; i++ {
			m.appendN(t, l, i, i, 1, 1)
			logtest.MustSync(t, l)
		}
		if b > 0 {
			m.appendN(t, l, a+1, a+b, 1, int(b))
		}
	}
}

// fillThenRotate appends synced batches of 10 until segment 1 is nearly
// full, then a batch of 20 that rotates to segment 2 part way through,
// synced or not.
func fillThenRotate(t testing.TB, l *mmaplog.Log, m *model, sync bool) {
	t.Helper()
	i := m.last() + 1
	for l.Stats().Segments == 1 && l.Stats().BytesUsed < mmaplog.MinSegmentSize-700 {
		m.appendN(t, l, i, i+9, 1, 10)
		logtest.MustSync(t, l)
		i += 10
	}
	m.appendN(t, l, i, i+19, 1, 20)
	if sync {
		logtest.MustSync(t, l)
	}
	if l.Stats().Segments < 2 {
		t.Fatalf("no rotation: %+v", l.Stats())
	}
}

// rotated is fillThenRotate as a build step.
func rotated(t testing.TB, sync bool) func(l *mmaplog.Log, m *model) {
	t.Helper()
	return func(l *mmaplog.Log, m *model) { fillThenRotate(t, l, m, sync) }
}

// manySegments appends n entries in synced batches of 20.
func manySegments(t testing.TB, n uint64) func(l *mmaplog.Log, m *model) {
	t.Helper()
	return func(l *mmaplog.Log, m *model) {
		for i := uint64(1); i <= n; i += 20 {
			m.appendN(t, l, i, min(i+19, n), 1, 20)
			logtest.MustSync(t, l)
		}
	}
}

// manyThenVote writes manySegments(2100), then the vote v, synced, then
// entries 2101..2110 of v's term in batches of 5, synced: a vote between
// entries of a many-segment log.
func manyThenVote(t testing.TB, v mmaplog.Vote) func(l *mmaplog.Log, m *model) {
	t.Helper()
	return func(l *mmaplog.Log, m *model) {
		manySegments(t, 2100)(l, m)
		must(t, l.SaveVote(v))
		logtest.MustSync(t, l)
		m.appendN(t, l, 2101, 2110, v.Term, 5)
		logtest.MustSync(t, l)
	}
}

// checkSegments fails the test unless dir holds at least n segment files
// (the premise of the case).
func checkSegments(t testing.TB, dir string, n int) {
	t.Helper()
	if got := len(segNames(t, dir)); got < n {
		t.Fatalf("%d segments, want at least %d", got, n)
	}
}

// lastEntryIn returns the index of the last entry record in segment name.
func lastEntryIn(t testing.TB, dir, name string) uint64 {
	t.Helper()
	var last uint64
	for _, r := range records(t, dir, name) {
		if r.Type == format.TypeEntry {
			last = r.Index
		}
	}
	return last
}

func p(dir, name string) string { return filepath.Join(dir, name) }

func TestCorruption(t *testing.T) {
	var cases []corruptionCase
	cases = append(cases, raftWALCases()...)
	cases = append(cases, etcdCases()...)
	cases = append(cases, bitFlipCases()...)
	cases = append(cases, indexCases()...)
	cases = append(cases, segmentCases()...)
	cases = append(cases, craftedCases()...)
	cases = append(cases, tornCases()...)
	cases = append(cases, repairCases()...)
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("duplicate case %q", c.name)
		}
		names[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir, m, w := c.build(t)
			w.check(t, dir, m)
		})
	}
}

func (w want) check(t *testing.T, dir string, m *model) {
	t.Helper()
	if w.first == 0 {
		w.first = 1
	}
	rep := verify(t, dir)
	t.Log(describe(rep))
	if rep.Status != w.status {
		t.Fatalf("Verify status %v, want %v", rep.Status, w.status)
	}
	switch w.kind {
	case opens:
		w.checkOpens(t, dir, m, rep)
	case corrupt:
		w.checkCorrupt(t, dir, m, rep)
	case readCorrupt:
		w.checkReadCorrupt(t, dir, m, rep)
	}
}

func (w want) checkOpens(t *testing.T, dir string, m *model, rep *recovery.VerifyReport) {
	t.Helper()
	if err := rep.Err(); err != nil {
		t.Fatalf("Verify found a problem: %v", err)
	}
	if w.torn != nil && (rep.Torn == nil || !errors.Is(rep.Torn.Reason, w.torn)) {
		t.Fatalf("torn tail %+v, want one cut for %v", rep.Torn, w.torn)
	}
	if rep.State.Last.Index != w.last {
		t.Fatalf("Verify predicts last index %d, want %d", rep.State.Last.Index, w.last)
	}
	if w.last >= w.first && (rep.FirstIndex != w.first || rep.LastIndex != w.last || rep.Entries != w.last-w.first+1) {
		t.Fatalf("Verify reports entries %d..%d (%d), want %d..%d", rep.FirstIndex, rep.LastIndex, rep.Entries, w.first, w.last)
	}
	l := logtest.MustOpen(t, dir, testOpts)
	checkEntries(t, l, m, w.first, w.last)
	w.checkVote(t, l)
	// A crash right after this Open, and another Open: the same log.
	again := logtest.CopyDir(t, dir)
	l2 := logtest.MustOpen(t, again, testOpts)
	checkEntries(t, l2, m, w.first, w.last)
	logtest.MustClose(t, l2)
	checkAppendable(t, l, m, w.last)
	logtest.MustClose(t, l)
	l = logtest.MustOpen(t, dir, testOpts)
	checkEntries(t, l, m, w.first, w.last+1)
	logtest.MustClose(t, l)
	if rep := verify(t, dir); rep.Status != recovery.StatusClean {
		t.Fatalf("after recovery and a clean close, Verify says %s", describe(rep))
	}
}

func (w want) checkVote(t *testing.T, l *mmaplog.Log) {
	t.Helper()
	if w.vote != nil && l.State().Vote != *w.vote {
		t.Fatalf("vote %v, want %v", l.State().Vote, *w.vote)
	}
}

func (w want) verifyAt() loc {
	if w.verifyLoc != nil {
		return *w.verifyLoc
	}
	return w.loc
}

func (w want) checkCorrupt(t *testing.T, dir string, m *model, rep *recovery.VerifyReport) {
	t.Helper()
	before := logtest.Snapshot(t, dir)
	for range 2 {
		l, err := mmaplog.Open(dir, testOpts)
		if err == nil {
			_ = l.Close()
			t.Fatal("Open succeeded on a corrupt log")
		}
		checkLocation(t, "Open", asCorrupt(t, err), p(dir, w.loc.file), w.loc.off, w.loc.idx)
		logtest.Unchanged(t, "failed Open", before, dir)
	}
	if rep.OpenErr == nil {
		t.Fatal("Verify does not predict that Open fails")
	}
	checkLocation(t, "Verify's Open error", rep.OpenErr, p(dir, w.loc.file), w.loc.off, w.loc.idx)
	v := w.verifyAt()
	checkLocation(t, "Verify's first problem", asCorrupt(t, rep.Err()), p(dir, v.file), v.off, v.idx)
	w.checkRepair(t, dir, m, rep)
}

func (w want) checkReadCorrupt(t *testing.T, dir string, m *model, rep *recovery.VerifyReport) {
	t.Helper()
	if rep.OpenErr != nil {
		t.Fatalf("Verify predicts that Open fails: %v", rep.OpenErr)
	}
	l := logtest.MustOpen(t, dir, testOpts)
	for i, at := range w.bad {
		_, err := l.Get(i)
		checkLocation(t, "Get", asCorrupt(t, err), p(dir, at.file), at.off, at.idx)
	}
	logtest.MustClose(t, l)
	v := w.verifyAt()
	checkLocation(t, "Verify's first problem", asCorrupt(t, rep.Err()), p(dir, v.file), v.off, v.idx)
	w.checkRepair(t, dir, m, verify(t, dir))
}

func (w want) checkRepair(t *testing.T, dir string, m *model, rep *recovery.VerifyReport) {
	t.Helper()
	if w.noCut {
		if rep.Cut != nil {
			t.Fatalf("Verify plans a cut at %s:%d; want none", rep.Cut.Path, rep.Cut.Offset)
		}
	} else {
		if rep.Cut == nil {
			t.Fatal("Verify plans no cut")
		}
		if !rep.Cut.Resize && rep.Cut.Kept.Last.Index != w.last {
			t.Fatalf("Verify predicts that Repair keeps up to %v, want index %d", rep.Cut.Kept.Last, w.last)
		}
	}
	rr, err := recovery.Repair(dir)
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	if !rr.Changed() {
		t.Fatal("Repair changed nothing")
	}
	if rr.After.Status == recovery.StatusCorrupt {
		t.Fatalf("after Repair: %s", describe(rr.After))
	}
	if len(rr.Cuts) > 0 && !rr.Cuts[0].Resize && (rr.Cuts[0].Whole || rr.Cuts[0].End > rr.Cuts[0].Offset) && len(rr.Broken) == 0 {
		t.Fatal("Repair cut bytes but kept no .broken file")
	}
	for _, b := range rr.Broken {
		if _, err := os.Stat(b); err != nil {
			t.Fatalf("broken file: %v", err)
		}
	}
	l := logtest.MustOpen(t, dir, testOpts)
	checkEntries(t, l, m, w.first, w.last)
	w.checkVote(t, l)
	checkAppendable(t, l, m, w.last)
	logtest.MustClose(t, l)
	rr, err = recovery.Repair(dir)
	if err != nil || rr.Changed() {
		t.Fatalf("second Repair: changed %v, err %v", rr != nil && rr.Changed(), err)
	}
	if rep := verify(t, dir); rep.Status != recovery.StatusClean {
		t.Fatalf("after Repair and a clean close, Verify says %s", describe(rep))
	}
}

// appends is entries from..to of term 1, appended n per call.
type appends struct {
	from, to uint64
	n        int
}

// cleanAfter builds a log that takes each run of appends and closes
// cleanly: Verify finds it clean, up to the last run's end.
func cleanAfter(runs ...appends) func(t *testing.T) (string, *model, want) {
	return func(t *testing.T) (string, *model, want) {
		t.Helper()
		var last uint64
		dir, m := closed(t, func(l *mmaplog.Log, m *model) {
			for _, r := range runs {
				m.appendN(t, l, r.from, r.to, 1, r.n)
				last = r.to
			}
		})
		return dir, m, want{status: recovery.StatusClean, last: last}
	}
}

// tornAt builds a log of entries 1..synced, each synced, and 4 more never
// synced, copied as a kill leaves it, and damages the record of entry idx
// (in segment file path) with damage: Verify finds a torn tail, for
// reason torn, that recovery cuts after entry last.
func tornAt(synced, idx uint64, damage func(t testing.TB, path string, e rec), last uint64, torn error) func(t *testing.T) (string, *model, want) {
	return func(t *testing.T) (string, *model, want) {
		t.Helper()
		dir, m := crashed(t, syncedThen(t, synced, 4))
		e := entry(t, dir, idx)
		damage(t, p(dir, e.Seg), e)
		return dir, m, want{status: recovery.StatusTorn, last: last, torn: torn}
	}
}

// raftWALCases are hashicorp/raft-wal's recovery cases (segment/filer_test.go
// TestRecovery, 15 cases; wal_test.go TestWALOpen's recovery cases, 3),
// mapped onto this format. raft-wal commits a batch with a commit frame, so
// a batch is all or nothing; here every record stands alone, so a damaged
// record cuts the tail just before it, and earlier entries of its batch
// survive (they were not acknowledged either; keeping them is allowed).
func raftWALCases() []corruptionCase {
	return []corruptionCase{
		{"raft-wal/recover empty", cleanAfter()},
		{"raft-wal/recover first batch", cleanAfter(appends{1, 1, 1})},
		{"raft-wal/recover later batch", cleanAfter(appends{1, 10, 1}, appends{11, 11, 1})},
		{"raft-wal/recover multi-entry batch", cleanAfter(appends{1, 10, 1}, appends{11, 14, 4})},
		// The last frame of the unsynced batch is zeros; its body is not.
		{"raft-wal/missing end of commit", tornAt(10, 14, func(t testing.TB, path string, e rec) {
			t.Helper()
			logtest.Zero(t, path, e.Off, format.FrameSize)
		}, 13, format.ErrUnwritten)},
		{"raft-wal/partial initial commit", tornAt(0, 1, func(t testing.TB, path string, e rec) {
			t.Helper()
			logtest.WriteAt(t, path, e.Off+format.FrameSize, []byte{127})
		}, 0, format.ErrBadChecksum)},
		{"raft-wal/torn write with data in the middle of the commit missing", tornAt(10, 11, func(t testing.TB, path string, e rec) {
			t.Helper()
			logtest.Zero(t, path, payloadOff(e)+2, 1)
		}, 10, format.ErrBadChecksum)},
		{"raft-wal/torn write with a frame in the commit corrupt", tornAt(10, 12, func(t testing.TB, path string, e rec) {
			t.Helper()
			logtest.WriteAt(t, path, e.Off, []byte{65})
		}, 11, format.ErrBadType)},
		// A damaged header is corruption. Repair rebuilds it exactly (the
		// first record's chain link proves it) and loses nothing.
		{"raft-wal/bad segment header, valid commit", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 2, 0))
			logtest.WriteAt(t, p(dir, seg1), 0, []byte{123})
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 2, loc: loc{seg1, 0, 0}}
		}},
		{"raft-wal/bad segment header field, valid commit", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 2, 0))
			logtest.WriteAt(t, p(dir, seg1), 16, []byte{123})
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 2, loc: loc{seg1, 0, 0}}
		}},
		// raft-wal writes a segment's header with its first commit; here a
		// header is synced when its segment is created or installed, so the
		// analogue is a segment installed by a rotation that no flush ever
		// made durable: its header may be anything, and nothing in it was
		// acknowledged.
		{"raft-wal/bad segment header, part of initial commit", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, rotated(t, false))
			logtest.WriteAt(t, p(dir, seg2), 0, []byte{123})
			return dir, m, want{status: recovery.StatusRecoverable, last: lastEntryIn(t, dir, seg1)}
		}},
		{"raft-wal/bad segment header field, part of initial commit", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, rotated(t, false))
			logtest.WriteAt(t, p(dir, seg2), 24, []byte{123})
			return dir, m, want{status: recovery.StatusRecoverable, last: lastEntryIn(t, dir, seg1)}
		}},
		{"raft-wal/sealed tail", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, manySegments(t, 1500))
			checkSegments(t, dir, 2)
			return dir, m, want{status: recovery.StatusClean, last: 1500}
		}},
		{"raft-wal/value larger than the segment size", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, func(l *mmaplog.Log, m *model) {
				m.appendN(t, l, 1, 3, 1, 3)
				big := mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: 4}, Payload: make([]byte, mmaplog.MinSegmentSize+1000)}
				for i := range big.Payload {
					big.Payload[i] = byte(i * 7)
				}
				if err := l.Append(big); err != nil {
					t.Fatal(err)
				}
				must(t, m.Append(big))
				m.appendN(t, l, 5, 6, 1, 2)
			})
			return dir, m, want{status: recovery.StatusClean, last: 6}
		}},
		{"raft-wal/ALICE: empty tail file", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, rotated(t, false))
			if err := os.Truncate(p(dir, seg2), 0); err != nil {
				t.Fatal(err)
			}
			return dir, m, want{status: recovery.StatusRecoverable, last: lastEntryIn(t, dir, seg1)}
		}},
		{"raft-wal/single segment recovery", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 0))
			return dir, m, want{status: recovery.StatusRecoverable, last: 10}
		}},
		{"raft-wal/multiple segment recovery", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, manySegments(t, 2100))
			checkSegments(t, dir, 3)
			return dir, m, want{status: recovery.StatusRecoverable, last: 2100}
		}},
		{"raft-wal/ALICE: missing tail file", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, rotated(t, false))
			for _, f := range []string{seg2, idx2} {
				if err := os.Remove(p(dir, f)); err != nil {
					t.Fatal(err)
				}
			}
			return dir, m, want{status: recovery.StatusRecoverable, last: lastEntryIn(t, dir, seg1)}
		}},
	}
}

// etcdCases are etcd's WAL repair and torn-write cases
// (server/storage/wal/repair_test.go, wal_test.go TestOpenOnTornWrite,
// TestLastRecordLengthExceedFileEnd).
func etcdCases() []corruptionCase {
	return []corruptionCase{
		{"etcd/tail cut by a few bytes", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 4))
			e := entry(t, dir, 14)
			logtest.Zero(t, p(dir, e.Seg), e.Off+format.FrameSize+int64(e.Body)-4, 4)
			return dir, m, want{status: recovery.StatusTorn, last: 13, torn: format.ErrBadChecksum}
		}},
		{"etcd/file cut by a few bytes", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// A preallocated segment file never shrinks: a short one was
			// damaged after it was durable. Repair restores its size.
			dir, m := crashed(t, syncedThen(t, 14, 0))
			size := int64(len(logtest.ReadFile(t, p(dir, seg1))))
			if err := os.Truncate(p(dir, seg1), size-4); err != nil {
				t.Fatal(err)
			}
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 14, loc: loc{seg1, 0, 0},
				verifyLoc: &loc{seg1, size - 4, 0}}
		}},
		{"etcd/tail torn with zeros", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 40))
			e := entry(t, dir, 30)
			sector := e.Off &^ 511
			first := uint64(0) // the first entry touching the sector
			for _, r := range records(t, dir, e.Seg) {
				if r.Type == format.TypeEntry && first == 0 && r.Off+r.Size > sector {
					first = r.Index
				}
			}
			logtest.Zero(t, p(dir, e.Seg), sector, 512)
			return dir, m, want{status: recovery.StatusTorn, last: first - 1}
		}},
		{"etcd/zeros in the middle of an unsynced record", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 4))
			e := entry(t, dir, 12)
			logtest.Zero(t, p(dir, e.Seg), e.Off+format.FrameSize+8, 8)
			return dir, m, want{status: recovery.StatusTorn, last: 11, torn: format.ErrBadChecksum}
		}},
		{"etcd/zeros in the middle of a durable record", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 14, 1))
			e := entry(t, dir, 5)
			logtest.Zero(t, p(dir, e.Seg), e.Off+format.FrameSize+8, 8)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 4, loc: loc{seg1, e.Off, 5}}
		}},
		{"etcd/length past the end of the file, torn", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 4))
			e := entry(t, dir, 14)
			logtest.WriteAt(t, p(dir, e.Seg), e.Off+4, []byte{0, 0xff, 0xff, 0xff})
			return dir, m, want{status: recovery.StatusTorn, last: 13, torn: format.ErrTruncated}
		}},
		{"etcd/length past the end of the file, durable", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 11, 0))
			e := entry(t, dir, 3)
			logtest.WriteAt(t, p(dir, e.Seg), e.Off+4, []byte{0, 0xff, 0xff, 0xff})
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 2, loc: loc{seg1, e.Off, 3}}
		}},
		{"etcd/stale records after a torn cut and re-append", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// Entries 11..20 are torn at 11; Open cuts there (and zeroes what
			// follows). New entries 11 and 12 (term 2) are written in their
			// place. Then the old bytes of 13..20 are put back, as a disk that
			// dropped the zeroing would: they are well-formed records, chained
			// to the old 12, and must never come back.
			dir, m := crashed(t, syncedThen(t, 10, 10))
			e := entry(t, dir, 11)
			old := logtest.ReadFile(t, p(dir, seg1))
			e13 := entry(t, dir, 13)
			logtest.Flip(t, p(dir, e.Seg), payloadOff(e), 0x01)
			l := logtest.MustOpen(t, dir, testOpts)
			checkEntries(t, l, m, 1, 10)
			must(t, m.Truncate(11)) // the model loses the torn entries too
			m.appendN(t, l, 11, 12, 2, 2)
			logtest.MustSync(t, l)
			again := logtest.CopyDir(t, dir)
			logtest.MustClose(t, l)
			if st := records(t, again, seg1); st[len(st)-1].Index != 12 || st[len(st)-1].Off+st[len(st)-1].Size != e13.Off {
				t.Fatalf("chain ends at %+v, want entry 12 ending at %d", st[len(st)-1], e13.Off)
			}
			logtest.WriteAt(t, p(again, seg1), e13.Off, old[e13.Off:e13.Off+4096])
			return again, m, want{status: recovery.StatusTorn, last: 12}
		}},
		{"etcd/re-append over a torn tail with other record sizes", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// New records land on the torn bytes at other offsets: their
			// padding must not keep the old bytes.
			dir, m := crashed(t, syncedThen(t, 10, 10))
			e := entry(t, dir, 11)
			logtest.Flip(t, p(dir, e.Seg), payloadOff(e), 0x01)
			l := logtest.MustOpen(t, dir, testOpts)
			must(t, m.Truncate(11)) // the model loses the torn entries too
			for i := uint64(11); i <= 20; i++ {
				e := mmaplog.Entry{ID: mmaplog.LogID{Term: 2, Index: i}, Payload: make([]byte, 3*i%17)}
				must(t, l.Append(e))
				must(t, m.Append(e))
				if _, err := l.Get(i); err != nil {
					t.Fatalf("Get(%d) right after Append: %v", i, err)
				}
			}
			logtest.MustSync(t, l)
			again := logtest.CopyDir(t, dir)
			must(t, l.Close())
			return again, m, want{status: recovery.StatusRecoverable, last: 20}
		}},
		{"etcd/truncate into an earlier segment and re-append", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// The open segment is emptied by the truncation and takes the
			// new entries; it supersedes the segments before it from 500 on.
			dir, m := crashed(t, func(l *mmaplog.Log, m *model) {
				manySegments(t, 2100)(l, m)
				m.truncate(t, l, 500)
				logtest.MustSync(t, l)
				m.appendN(t, l, 500, 520, 2, 7)
				logtest.MustSync(t, l)
			})
			return dir, m, want{status: recovery.StatusRecoverable, last: 520}
		}},
		{"etcd/truncate and re-append", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, func(l *mmaplog.Log, m *model) {
				m.appendN(t, l, 1, 10, 1, 5)
				logtest.MustSync(t, l)
				m.truncate(t, l, 6)
				m.appendN(t, l, 6, 8, 2, 3)
				logtest.MustSync(t, l)
			})
			return dir, m, want{status: recovery.StatusRecoverable, last: 8}
		}},
	}
}

// bitFlipCases flip bits in each on-disk structure, in durable data
// (corruption) and in data no flush made durable (a torn tail).
func bitFlipCases() []corruptionCase {
	var cs []corruptionCase
	headerFields := []struct {
		name string
		off  int64
	}{{"magic", 0}, {"version", 8}, {"reserved", 12}, {"id", 16}, {"start", 24}, {"prevEnd", 32}, {"size", 40}, {"reserved2", 50}, {"crc", 60}}
	for _, f := range headerFields {
		cs = append(cs, corruptionCase{"flip/segment header " + f.name, func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 12, 0))
			logtest.Flip(t, p(dir, seg1), f.off, 0x10)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 12, loc: loc{seg1, 0, 0}}
		}})
	}
	cs = append(cs,
		corruptionCase{"flip/segment header of a closed log", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, syncedThen(t, 12, 0))
			logtest.Flip(t, p(dir, seg1), 17, 0x01)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 12, loc: loc{seg1, 0, 0}}
		}},
		corruptionCase{"flip/second segment header of a closed log", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, manySegments(t, 1500))
			logtest.Flip(t, p(dir, seg2), 3, 0x01)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 1500, loc: loc{seg2, 0, 0}}
		}},
		corruptionCase{"flip/second segment header and its snapshot", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// The header cannot be proven without the snapshot's chain link:
			// Repair cuts the segment.
			dir, m := closed(t, manySegments(t, 1500))
			logtest.Flip(t, p(dir, seg2), 3, 0x01)
			logtest.Flip(t, p(dir, seg2), format.SegmentHeaderSize+17, 0x01) // the snapshot's prev field
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: lastEntryIn(t, dir, seg1), loc: loc{seg2, 0, 0}}
		}},
		corruptionCase{"flip/State snapshot", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 12, 0))
			logtest.Flip(t, p(dir, seg1), format.SegmentHeaderSize+format.FrameSize+3, 0x04)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 0, loc: loc{seg1, format.SegmentHeaderSize, 0}}
		}},
		corruptionCase{"flip/State snapshot of the second segment", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, manySegments(t, 1500))
			logtest.Flip(t, p(dir, seg2), format.SegmentHeaderSize+format.FrameSize+30, 0x04)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: lastEntryIn(t, dir, seg1), loc: loc{seg2, format.SegmentHeaderSize, 0}}
		}},
		corruptionCase{"flip/State snapshot of a closed log", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// A clean Open reads the closing State, not the snapshot.
			dir, m := closed(t, syncedThen(t, 12, 0))
			logtest.Flip(t, p(dir, seg1), format.SegmentHeaderSize+format.FrameSize+3, 0x04)
			return dir, m, want{kind: readCorrupt, status: recovery.StatusCorrupt, last: 0, loc: loc{seg1, format.SegmentHeaderSize, 0}}
		}},
		corruptionCase{"flip/closing State of a closed log", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// The sealed index vouches that the closing State was durable.
			// It only repeats what the records say: Repair cuts it and
			// loses nothing.
			dir, m := closed(t, syncedThen(t, 12, 0))
			st := lastOf(t, dir, format.TypeState)
			logtest.Flip(t, p(dir, seg1), st.Off+format.FrameSize+2, 0x01)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 12, loc: loc{seg1, st.Off, 13}}
		}},
		corruptionCase{"flip/the only State of a closed new log", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, func(l *mmaplog.Log, m *model) {})
			logtest.Flip(t, p(dir, seg1), snapshotByte, 0x01)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 0, loc: loc{seg1, format.SegmentHeaderSize, 0}}
		}},
	)
	frameFields := []struct {
		name string
		off  int64
	}{{"type", 0}, {"reserved", 2}, {"length", 4}, {"durable", 9}, {"prev", 17}, {"crc", 21}, {"term", 24}, {"index", 32}, {"payload", 40}}
	for _, f := range frameFields {
		cs = append(cs,
			corruptionCase{"flip/durable entry " + f.name, func(t *testing.T) (string, *model, want) {
				t.Helper()
				dir, m := crashed(t, syncedThen(t, 12, 0))
				e := entry(t, dir, 5)
				logtest.Flip(t, p(dir, seg1), e.Off+f.off, 0x02)
				return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 4, loc: loc{seg1, e.Off, 5}}
			}},
			corruptionCase{"flip/unsynced entry " + f.name, func(t *testing.T) (string, *model, want) {
				t.Helper()
				dir, m := crashed(t, syncedThen(t, 10, 4))
				e := entry(t, dir, 12)
				logtest.Flip(t, p(dir, seg1), e.Off+f.off, 0x02)
				return dir, m, want{status: recovery.StatusTorn, last: 11}
			}},
		)
	}
	cs = append(cs,
		corruptionCase{"flip/entry payload of a closed log", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, syncedThen(t, 12, 0))
			e := entry(t, dir, 5)
			logtest.Flip(t, p(dir, seg1), payloadOff(e), 0x80)
			at := loc{seg1, e.Off, 5}
			return dir, m, want{kind: readCorrupt, status: recovery.StatusCorrupt, last: 4, loc: at, bad: map[uint64]loc{5: at}}
		}},
		corruptionCase{"flip/entry in a sealed segment of a closed log", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, manySegments(t, 1500))
			e := entry(t, dir, 100)
			logtest.Flip(t, p(dir, seg1), payloadOff(e)+1, 0x80)
			at := loc{seg1, e.Off, 100}
			return dir, m, want{kind: readCorrupt, status: recovery.StatusCorrupt, last: 99, loc: at, bad: map[uint64]loc{100: at}}
		}},
	)
	// Other record types, in durable data.
	others := []struct {
		name string
		typ  format.Type
	}{{"vote", format.TypeVote}, {"commit", format.TypeCommit}, {"user data", format.TypeUserData}, {"purge", format.TypePurge}, {"truncate", format.TypeTruncate}}
	for _, o := range others {
		cs = append(cs, corruptionCase{"flip/durable " + o.name + " record", func(t *testing.T) (string, *model, want) {
			t.Helper()
			var kept *model
			dir, _ := crashed(t, func(l *mmaplog.Log, m *model) {
				m.appendN(t, l, 1, 6, 1, 3)
				kept = m.clone()
				must(t, l.SaveVote(mmaplog.Vote{Term: 1, NodeID: 2}))
				must(t, l.Commit(mmaplog.LogID{Term: 1, Index: 4}))
				must(t, l.SaveUserData([]byte("user data")))
				must(t, l.Purge(mmaplog.LogID{Term: 1, Index: 2}))
				m.truncate(t, l, 6)
				logtest.MustSync(t, l)
				m.appendN(t, l, 6, 8, 2, 1)
				logtest.MustSync(t, l)
			})
			r := lastOf(t, dir, o.typ)
			logtest.Flip(t, p(dir, seg1), r.Off+format.FrameSize+1, 0x01)
			first := uint64(1)
			if o.typ == format.TypeTruncate {
				first = 3 // the purge before it survives
			}
			return dir, kept, want{kind: corrupt, status: recovery.StatusCorrupt, first: first, last: 6, loc: loc{seg1, r.Off, 7}}
		}})
	}
	return cs
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
