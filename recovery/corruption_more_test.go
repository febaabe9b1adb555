package recovery_test

import (
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

var le = binary.LittleEndian

// indexCases damage index files: every one is detected and rebuilt, or
// (for a slot of an index Open trusts) never returns a wrong entry and is
// rebuilt by Repair.
func indexCases() []corruptionCase {
	var cs []corruptionCase
	fields := []struct {
		name string
		off  int64
	}{{"magic", 1}, {"segment", 8}, {"base", 16}, {"count", 24}, {"valid end", 33}, {"state offset", 40}, {"flags", 48}, {"crc", 57}}
	for _, f := range fields {
		cs = append(cs, corruptionCase{"index/flip header " + f.name + " of a closed log", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, syncedThen(t, 20, 0))
			logtest.Flip(t, p(dir, idx1), f.off, 0x01)
			return dir, m, want{status: recovery.StatusRecoverable, last: 20}
		}})
	}
	slotOff := func(i uint64) int64 { return index.HeaderSize + int64(i-1)*index.SlotSize }
	cs = append(cs,
		corruptionCase{"index/flip slot of a closed log", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, syncedThen(t, 20, 0))
			// A sealed index proves its slots with a checksum: a slot that
			// does not match it is never trusted, and the index is rebuilt.
			logtest.Flip(t, p(dir, idx1), slotOff(7), 0x01) // 8 bytes off the record
			return dir, m, want{status: recovery.StatusRecoverable, last: 20}
		}},
		corruptionCase{"index/slot pointing at another entry", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, syncedThen(t, 20, 0))
			e8 := entry(t, dir, 8)
			b := make([]byte, 4)
			le.PutUint32(b, uint32(e8.Off/8))
			logtest.WriteAt(t, p(dir, idx1), slotOff(7), b)
			return dir, m, want{status: recovery.StatusRecoverable, last: 20}
		}},
		corruptionCase{"index/flip slot of a sealed segment", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, manySegments(t, 1500))
			logtest.Flip(t, p(dir, idx1), slotOff(10)+2, 0x40) // far past the file
			return dir, m, want{status: recovery.StatusRecoverable, last: 1500}
		}},
		corruptionCase{"index/flip slot of a crashed log", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 20, 0))
			logtest.Flip(t, p(dir, idx1), slotOff(7), 0x01)
			return dir, m, want{status: recovery.StatusRecoverable, last: 20}
		}},
		corruptionCase{"index/ahead of its segment after a crash", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// The open index's slots for 21..30 reached the disk; the
			// segment's pages holding those entries (never synced) did not.
			dir, m := crashed(t, syncedThen(t, 20, 10))
			e := entry(t, dir, 21)
			logtest.Zero(t, p(dir, seg1), e.Off, 4096)
			return dir, m, want{status: recovery.StatusRecoverable, last: 20}
		}},
		corruptionCase{"index/sealed, ahead of its segment", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// A sealed index says the segment was durable further than its
			// records go: the segment lost durable bytes (or the files come
			// from different times). Repair cuts nothing that exists and
			// drops the index.
			a, m := closed(t, syncedThen(t, 20, 0))
			b := grown(t, a, m.clone(), func(l *mmaplog.Log, m *model) { m.appendN(t, l, 21, 40, 1, 5) })
			logtest.WriteAt(t, p(a, idx1), 0, logtest.ReadFile(t, p(b, idx1)))
			end := lastOf(t, a, format.TypeState)
			return a, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 20, loc: loc{seg1, end.Off + end.Size, 21}}
		}},
		corruptionCase{"index/behind its segment", func(t *testing.T) (string, *model, want) {
			t.Helper()
			a, m := closed(t, syncedThen(t, 20, 0))
			b := grown(t, a, m, func(l *mmaplog.Log, m *model) { m.appendN(t, l, 21, 40, 1, 5) })
			logtest.WriteAt(t, p(b, idx1), 0, logtest.ReadFile(t, p(a, idx1)))
			return b, m, want{status: recovery.StatusRecoverable, last: 40}
		}},
		corruptionCase{"index/behind its sealed segment", func(t *testing.T) (string, *model, want) {
			t.Helper()
			a, m := closed(t, syncedThen(t, 20, 0))
			b := grown(t, a, m, rotated(t, true))
			logtest.WriteAt(t, p(b, idx1), 0, logtest.ReadFile(t, p(a, idx1)))
			return b, m, want{status: recovery.StatusRecoverable, last: m.last()}
		}},
		corruptionCase{"index/zeroed", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, syncedThen(t, 20, 0))
			logtest.Zero(t, p(dir, idx1), 0, int64(len(logtest.ReadFile(t, p(dir, idx1)))))
			return dir, m, want{status: recovery.StatusRecoverable, last: 20}
		}},
		corruptionCase{"index/missing", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, syncedThen(t, 20, 0))
			must(t, os.Remove(p(dir, idx1)))
			return dir, m, want{status: recovery.StatusRecoverable, last: 20}
		}},
		corruptionCase{"index/missing in a crashed multi-segment log", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, manySegments(t, 1500))
			must(t, os.Remove(p(dir, idx1)))
			must(t, os.Remove(p(dir, idx2)))
			return dir, m, want{status: recovery.StatusRecoverable, last: 1500}
		}},
		corruptionCase{"index/short file", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, syncedThen(t, 20, 0))
			must(t, os.Truncate(p(dir, idx1), 10))
			return dir, m, want{status: recovery.StatusRecoverable, last: 20}
		}},
		corruptionCase{"index/of another segment", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, manySegments(t, 1500))
			// A misplaced index is corruption (Open refuses it), fixed
			// without loss: Repair deletes it and Open rebuilds it.
			logtest.WriteAt(t, p(dir, idx1), 0, logtest.ReadFile(t, p(dir, idx2)))
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 1500, noCut: true, loc: loc{idx1, 8, 0}}
		}},
	)
	return cs
}

// segmentCases damage segment files as wholes and the chain of segments.
func segmentCases() []corruptionCase {
	return []corruptionCase{
		{"segment/empty middle segment", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, manySegments(t, 2100))
			must(t, os.Truncate(p(dir, seg2), 0))
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: lastEntryIn(t, dir, seg1), loc: loc{seg2, 0, 0}}
		}},
		{"segment/missing middle segment", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, manySegments(t, 2100))
			last := lastEntryIn(t, dir, seg1)
			must(t, os.Remove(p(dir, seg2)))
			must(t, os.Remove(p(dir, idx2)))
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: last, loc: loc{seg3, 0, 0}}
		}},
		{"segment/missing first segment", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// No prefix of the log is whole: Repair cuts all of it.
			dir, m := closed(t, manySegments(t, 2100))
			must(t, os.Remove(p(dir, seg1)))
			must(t, os.Remove(p(dir, idx1)))
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 0, loc: loc{seg2, 0, 0}}
		}},
		{"segment/purged log missing its first remaining segment", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, func(l *mmaplog.Log, m *model) {
				manySegments(t, 2100)(l, m)
				must(t, l.Purge(mmaplog.LogID{Term: 1, Index: 100}))
			})
			must(t, os.Remove(p(dir, seg1)))
			must(t, os.Remove(p(dir, idx1)))
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 0, loc: loc{seg3, 0, 101},
				verifyLoc: &loc{seg2, format.SegmentHeaderSize, 101}}
		}},
		{"segment/file longer than its header says", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, syncedThen(t, 20, 0))
			size := int64(len(logtest.ReadFile(t, p(dir, seg1))))
			logtest.WriteAt(t, p(dir, seg1), size, []byte("appended by someone else"))
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 20, loc: loc{seg1, 0, 0},
				verifyLoc: &loc{seg1, size, 0}}
		}},
		{"segment/start position does not follow", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, manySegments(t, 2100))
			rewriteHeader(t, p(dir, seg2), func(h *format.SegmentHeader) { h.StartPos += 4096 })
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: lastEntryIn(t, dir, seg1), loc: loc{seg2, 24, 0}}
		}},
		{"segment/previous end outside the previous segment", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, manySegments(t, 2100))
			rewriteHeader(t, p(dir, seg2), func(h *format.SegmentHeader) { h.PrevEnd = 12345 })
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: lastEntryIn(t, dir, seg1), loc: loc{seg2, 32, 0}}
		}},
		{"segment/previous end short of the previous segment's records", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// A valid header whose prevEnd cuts the previous segment inside a
			// record: the records there do not end where they must.
			dir, m := closed(t, manySegments(t, 2100))
			e := entry(t, dir, 100)
			rewriteHeader(t, p(dir, seg2), func(h *format.SegmentHeader) { h.PrevEnd = uint64(e.Off + 8) })
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 99, loc: loc{seg1, e.Off, 100}}
		}},
		{"segment/only segment after a purge has no State", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, rotated(t, false))
			must(t, os.Remove(p(dir, seg1)))
			must(t, os.Remove(p(dir, idx1)))
			logtest.Flip(t, p(dir, seg2), snapshotByte, 0x01)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 0, loc: loc{seg2, format.SegmentHeaderSize, 0}}
		}},
		{"segment/only segment after a purge has a zero header", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, rotated(t, false))
			must(t, os.Remove(p(dir, seg1)))
			must(t, os.Remove(p(dir, idx1)))
			logtest.Zero(t, p(dir, seg2), 0, format.SegmentHeaderSize)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 0, loc: loc{seg2, 0, 0}}
		}},
		{"segment/rotation crash, the new snapshot torn", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, rotated(t, false))
			logtest.Flip(t, p(dir, seg2), snapshotByte, 0x01)
			return dir, m, want{status: recovery.StatusTorn, last: lastEntryIn(t, dir, seg1), torn: format.ErrBadChecksum}
		}},
		{"segment/rotation, both snapshots damaged", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// segmentFile 1 holds a closing State after its snapshot, so its
			// sealed index is trusted without reading the snapshot; the
			// fallback from segment 2's damaged snapshot rescans it.
			a, m := closed(t, syncedThen(t, 10, 0))
			dir := crashedIn(t, a, m, rotated(t, true))
			logtest.Flip(t, p(dir, seg1), snapshotByte, 0x01)
			logtest.Flip(t, p(dir, seg2), snapshotByte, 0x01)
			// segmentFile 1's seal vouches for segment 2's snapshot: Open
			// stops there; Verify finds segment 1's damage first.
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 0, loc: loc{seg2, format.SegmentHeaderSize, 0},
				verifyLoc: &loc{seg1, format.SegmentHeaderSize, 0}}
		}},
		{"segment/rotation, new snapshot and an old entry damaged", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, rotated(t, true))
			e := entry(t, dir, 5)
			logtest.Flip(t, p(dir, seg1), payloadOff(e), 0x01)
			logtest.Flip(t, p(dir, seg2), snapshotByte, 0x01)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 4, loc: loc{seg2, format.SegmentHeaderSize, 0},
				verifyLoc: &loc{seg1, e.Off, 5}}
		}},
		{"segment/torn tail in a segment that is not the last", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, rotated(t, false))
			last := lastEntryIn(t, dir, seg1)
			e := entry(t, dir, last)
			logtest.Flip(t, p(dir, seg1), payloadOff(e), 0x01)
			return dir, m, want{status: recovery.StatusTorn, last: last - 1, torn: format.ErrBadChecksum}
		}},
		{"segment/snapshot disagrees with the previous segment", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, manySegments(t, 1500))
			mutateRecord(t, p(dir, seg2), format.SegmentHeaderSize, func(body []byte) { body[40] = 9 }) // Committed.Term
			return dir, m, want{kind: readCorrupt, status: recovery.StatusCorrupt, last: lastEntryIn(t, dir, seg1),
				loc: loc{seg2, format.SegmentHeaderSize, 0}}
		}},
		{"segment/first append above index 1", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, func(l *mmaplog.Log, m *model) { m.appendN(t, l, 100, 110, 1, 4) })
			return dir, m, want{status: recovery.StatusClean, first: 100, last: 110}
		}},
		{"segment/first append above index 1, crashed", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, func(l *mmaplog.Log, m *model) {
				m.appendN(t, l, 100, 1200, 1, 20)
				logtest.MustSync(t, l)
			})
			return dir, m, want{status: recovery.StatusRecoverable, first: 100, last: 1200}
		}},
		{"segment/first append above index 1, damaged", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, func(l *mmaplog.Log, m *model) {
				m.appendN(t, l, 100, 1200, 1, 20)
				logtest.MustSync(t, l)
			})
			// segmentFile 1 is sealed: Open trusts its index and does not read it.
			e := entry(t, dir, 150)
			logtest.Flip(t, p(dir, seg1), payloadOff(e), 0x01)
			at := loc{seg1, e.Off, 150}
			return dir, m, want{kind: readCorrupt, status: recovery.StatusCorrupt, first: 100, last: 149, loc: at, bad: map[uint64]loc{150: at}}
		}},
		{"segment/purged segments", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, func(l *mmaplog.Log, m *model) {
				manySegments(t, 2100)(l, m)
				must(t, l.Purge(mmaplog.LogID{Term: 1, Index: 1500}))
				logtest.MustSync(t, l)
				m.appendN(t, l, 2101, 2110, 1, 10)
				logtest.MustSync(t, l)
				// Purged files go in the background once the purge is durable.
				for deadline := time.Now().Add(10 * time.Second); l.Stats().PendingRemovals > 0 && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
			})
			if _, err := os.Stat(p(dir, seg1)); !os.IsNotExist(err) {
				t.Fatalf("segment 1 was not deleted by the purge: %v", err)
			}
			return dir, m, want{status: recovery.StatusRecoverable, first: 1501, last: 2110}
		}},
	}
}

// craftedCases write well-formed records (right checksum and chain) that
// break the format's or the log's rules, as a buggy writer would: every
// CorruptError site of the replay in scan.go.
func craftedCases() []corruptionCase {
	type body func() []byte
	malformed := []struct {
		name string
		typ  format.Type
		body body
	}{
		{"entry body too short", format.TypeEntry, func() []byte { return make([]byte, 8) }},
		{"vote body malformed", format.TypeVote, func() []byte { b := make([]byte, 24); b[16] = 2; return b }},
		{"commit body of the wrong size", format.TypeCommit, func() []byte { return make([]byte, 8) }},
		{"truncate body of the wrong size", format.TypeTruncate, func() []byte { return make([]byte, 16) }},
		{"purge body of the wrong size", format.TypePurge, func() []byte { return make([]byte, 20) }},
		{"user data body malformed", format.TypeUserData, func() []byte { b := make([]byte, 8); b[0] = 2; return b }},
	}
	var cs []corruptionCase
	for _, c := range malformed {
		cs = append(cs, corruptionCase{"crafted/" + c.name, func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 0))
			off := appendRecord(t, dir, seg1, c.typ, c.body(), 0)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 10, loc: loc{seg1, off, 0}}
		}})
	}
	entryBody := func(term, idx uint64) []byte {
		b := make([]byte, format.EntryHeadSize+4)
		le.PutUint64(b, term)
		le.PutUint64(b[8:], idx)
		copy(b[16:], "evil")
		return b
	}
	logID := func(term, idx uint64) []byte {
		b := make([]byte, 16)
		le.PutUint64(b, term)
		le.PutUint64(b[8:], idx)
		return b
	}
	cs = append(cs,
		corruptionCase{"crafted/State snapshot malformed", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 0))
			mutateRecord(t, p(dir, seg1), format.SegmentHeaderSize, func(b []byte) { b[16] = 2 })
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 0, loc: loc{seg1, format.SegmentHeaderSize, 0}}
		}},
		corruptionCase{"crafted/entry out of order", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 0))
			off := appendRecord(t, dir, seg1, format.TypeEntry, entryBody(1, 13), 0)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 10, loc: loc{seg1, off, 13}}
		}},
		corruptionCase{"crafted/entry term going back", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 0))
			off := appendRecord(t, dir, seg1, format.TypeEntry, entryBody(0, 11), 0)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 10, loc: loc{seg1, off, 11}}
		}},
		corruptionCase{"crafted/entry out of place after a purge", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// The writer starts a new segment for an entry after a purge
			// beyond Last; one in the same segment is out of place.
			dir, m := crashed(t, syncedThen(t, 10, 0))
			appendRecord(t, dir, seg1, format.TypePurge, logID(1, 15), 0)
			off := appendRecord(t, dir, seg1, format.TypeEntry, entryBody(1, 16), 0)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, first: 16, last: 15, loc: loc{seg1, off, 16}}
		}},
		corruptionCase{"crafted/truncate beyond the last entry", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 0))
			b := make([]byte, format.TruncateSize)
			le.PutUint64(b, 20)
			le.PutUint64(b[8:], 1)
			le.PutUint64(b[16:], 19)
			off := appendRecord(t, dir, seg1, format.TypeTruncate, b, 0)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 10, loc: loc{seg1, off, 20}}
		}},
		corruptionCase{"crafted/the rotation fallback finds an entry out of order", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// segmentFile 1 is sealed and trusted (its last State is intact), so
			// only the fallback from segment 2's torn snapshot rescans it.
			a, m := closed(t, syncedThen(t, 10, 0))
			dir := crashedIn(t, a, m, rotated(t, true))
			e := entry(t, dir, 5)
			mutateRecord(t, p(dir, seg1), e.Off, func(b []byte) { b[8] = 7 })
			logtest.Flip(t, p(dir, seg2), snapshotByte, 0x01)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 4, loc: loc{seg2, format.SegmentHeaderSize, 0},
				verifyLoc: &loc{seg1, e.Off, 7}}
		}},
		corruptionCase{"crafted/first record of a new segment is not a State", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, rotated(t, false))
			last := lastEntryIn(t, dir, seg1)
			data := logtest.ReadFile(t, p(dir, seg2))
			_, seed, err := format.ReadSegmentHeader(data)
			must(t, err)
			b := make([]byte, format.RecordSize(format.EntryHeadSize+4))
			copy(b[format.FrameSize:], entryBody(1, last+1))
			format.PutFrame(b, format.TypeEntry, format.EntryHeadSize+4, 0, seed)
			logtest.WriteAt(t, p(dir, seg2), format.SegmentHeaderSize, b)
			return dir, m, want{status: recovery.StatusTorn, last: last, torn: format.ErrBadType}
		}},
	)
	return cs
}

// tornCases: the torn-tail sites and the one ambiguity.
func tornCases() []corruptionCase {
	return []corruptionCase{
		{"torn/nonzero padding", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 4))
			for i := uint64(11); i <= 14; i++ {
				e := entry(t, dir, i)
				if pad := e.Size - format.FrameSize - int64(e.Body); pad > 0 {
					logtest.WriteAt(t, p(dir, seg1), e.Off+e.Size-1, []byte{1})
					return dir, m, want{status: recovery.StatusTorn, last: i - 1, torn: format.ErrBadPadding}
				}
			}
			t.Fatal("no entry with padding")
			return "", nil, want{}
		}},
		{"torn/the whole unsynced batch is zeros", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 4))
			e := entry(t, dir, 11)
			logtest.Zero(t, p(dir, seg1), e.Off, 4096)
			return dir, m, want{status: recovery.StatusRecoverable, last: 10}
		}},
		{"torn/garbage after the end", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, syncedThen(t, 10, 0))
			e := entry(t, dir, 10)
			logtest.WriteAt(t, p(dir, seg1), e.Off+e.Size, []byte("\x09garbage written by a crash in the middle of a page"))
			return dir, m, want{status: recovery.StatusTorn, last: 10, torn: format.ErrBadType}
		}},
		{"torn/ambiguity: the last synced batch damaged, nothing after it", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// Entry 10 was synced (acknowledged) and nothing durable was
			// written after it: its damage cannot be told from a torn write.
			// This is the one case where an acknowledged entry is cut.
			dir, m := crashed(t, syncedThen(t, 10, 0))
			e := entry(t, dir, 10)
			logtest.Flip(t, p(dir, seg1), payloadOff(e), 0x01)
			return dir, m, want{status: recovery.StatusTorn, last: 9, torn: format.ErrBadChecksum}
		}},
		{"torn/the only State of a new log", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// A crash right after the first segment was created (its index
			// not sealed): nothing vouches for the snapshot.
			dir, m := crashed(t, func(l *mmaplog.Log, m *model) {})
			logtest.Flip(t, p(dir, seg1), snapshotByte, 0x01)
			return dir, m, want{status: recovery.StatusTorn, last: 0, torn: format.ErrBadChecksum}
		}},
	}
}

// repairCases check what Repair keeps beyond the entries.
func repairCases() []corruptionCase {
	v33 := mmaplog.Vote{Term: 3, NodeID: 3}
	v41 := mmaplog.Vote{Term: 4, NodeID: 1, Committed: true}
	return []corruptionCase{
		{"repair/a newer vote beyond the cut is written back", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, func(l *mmaplog.Log, m *model) {
				m.appendN(t, l, 1, 10, 1, 5)
				must(t, l.SaveVote(mmaplog.Vote{Term: 1, NodeID: 2}))
				logtest.MustSync(t, l)
				m.appendN(t, l, 11, 20, 1, 5)
				must(t, l.SaveVote(v33))
				logtest.MustSync(t, l)
				m.appendN(t, l, 21, 22, 3, 2)
				logtest.MustSync(t, l)
			})
			e := entry(t, dir, 5)
			logtest.Flip(t, p(dir, seg1), payloadOff(e), 0x01)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 4, loc: loc{seg1, e.Off, 5}, vote: &v33}
		}},
		{"repair/nothing survives, the vote does", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := crashed(t, func(l *mmaplog.Log, m *model) {
				must(t, l.SaveVote(v41))
				logtest.MustSync(t, l)
				m.appendN(t, l, 1, 10, 4, 5)
				logtest.MustSync(t, l)
			})
			logtest.Flip(t, p(dir, seg1), snapshotByte, 0x01) // the State snapshot
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 0, loc: loc{seg1, format.SegmentHeaderSize, 0}, vote: &v41}
		}},
		{"repair/damage before a header that cannot be rebuilt", func(t *testing.T) (string, *model, want) {
			t.Helper()
			// segmentFile 3's header can only be proven with segment 2's end,
			// which the damage in segment 2 hides. Verify still finds that
			// damage first (records after it in segment 2 vouch for it).
			v := mmaplog.Vote{Term: 3, NodeID: 2}
			dir, m := crashed(t, manyThenVote(t, v))
			e := entry(t, dir, 1500)
			logtest.Flip(t, p(dir, e.Seg), payloadOff(e), 0x01)
			logtest.Flip(t, p(dir, seg3), 5, 0x01)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 1499, loc: loc{seg3, 0, 0},
				verifyLoc: &loc{e.Seg, e.Off, 1500}, vote: &v}
		}},
		{"repair/the earliest of two problems", func(t *testing.T) (string, *model, want) {
			t.Helper()
			dir, m := closed(t, manySegments(t, 2100))
			e := entry(t, dir, 100)
			logtest.Flip(t, p(dir, seg1), payloadOff(e), 0x01)
			logtest.Flip(t, p(dir, seg3), 0, 0x01)
			return dir, m, want{kind: corrupt, status: recovery.StatusCorrupt, last: 99, loc: loc{seg3, 0, 0}, verifyLoc: &loc{seg1, e.Off, 100}}
		}},
	}
}
