package recovery

import (
	"fmt"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
)

// The rules below are the one statement of each check that both Open
// (analyze, which stops at the first problem) and Verify (which collects
// every problem) apply. Each returns nil or the problem, worded once.

// ruleConsecutive: segment IDs follow each other without a gap.
func ruleConsecutive(prev, cur segmentFile) *format.CorruptError {
	if cur.ID != prev.ID+1 {
		return format.Corruptf(cur.Path, 0, 0, "segment %d missing between %d and %d", prev.ID+1, prev.ID, cur.ID)
	}
	return nil
}

// ruleStart: a segment starts where its predecessor's file ends.
func ruleStart(seg segmentFile, h, prev format.SegmentHeader, prevID uint64) *format.CorruptError {
	if want := prev.StartPos + prev.FileSize; h.StartPos != want {
		return format.Corruptf(seg.Path, 24, 0, "start position %d does not follow segment %d (%d + %d)", h.StartPos, prevID, prev.StartPos, prev.FileSize)
	}
	return nil
}

// rulePrevEnd: where next's header says its predecessor's records end
// lies inside the predecessor (of size bytes), record-aligned.
func rulePrevEnd(next, prev segmentFile, pe, size int64) *format.CorruptError {
	if pe < format.SegmentHeaderSize || pe > size || pe%format.Align != 0 {
		return format.Corruptf(next.Path, 32, 0, "previous segment end %d outside %s (%d bytes)", pe, prev.Path, size)
	}
	return nil
}

// ruleNeverPurged: only a purge deletes segments, so a log that was never
// purged starts with segment 1.
func ruleNeverPurged(st *raftstate.State, first segmentFile) *format.CorruptError {
	if st.Purged.IsZero() && first.ID != 1 {
		return format.Corruptf(first.Path, 0, 0, "segments 1..%d missing in a log that was never purged", first.ID-1)
	}
	return nil
}

// ruleCoverage: the segments (n of them, each holding count entries from
// base) hold every live entry [first, Last] of st. path and off name the
// file the problem is reported in.
func ruleCoverage(st *raftstate.State, first uint64, n int, span func(i int) (base, count uint64), path string, off int64) *format.CorruptError {
	want := max(first, st.Purged.Index+1)
	if st.Last.Index < want {
		return nil
	}
	runs := buildRuns(n, span)
	for k, r := range runs {
		base, count := span(r.Seg)
		end := base + count // exclusive
		if k+1 < len(runs) {
			end = min(end, runs[k+1].First)
		}
		if r.First > want {
			break
		}
		want = max(want, end)
		if want > st.Last.Index {
			return nil
		}
	}
	return format.Corruptf(path, off, want, "entries %d..%d are in no segment (state: purged %v, last %v)", want, st.Last.Index, st.Purged, st.Last)
}

// ruleDurable: the records stop at global position pos, which a sealed
// index or a later record proved durable (vouched): damage, not a torn
// tail. idx is the entry expected there (0: unknown), why what was found.
func ruleDurable(seg segmentFile, off int64, idx, pos, vouched uint64, why string) *format.CorruptError {
	if pos < vouched {
		return format.Corruptf(seg.Path, off, idx, "invalid record (%s) before the durable watermark: the log was proven durable to position %d, this is position %d", why, vouched, pos)
	}
	return nil
}

// stopReason words why a scan stopped, for ruleDurable.
func stopReason(sc *scan) string {
	if sc.stop != nil {
		return sc.stop.Error()
	}
	return "bytes"
}

// ruleBreak: a break in the chain of segments (a missing or unreadable
// segment at global position start, described by cause) is a crash
// leftover only when nothing vouches that the log was durable past it,
// and never when it is the first segment of a log whose segment 1 is gone
// (first: only a purge deletes segments, and it never deletes them all).
func ruleBreak(cause *format.CorruptError, start, vouched uint64, first bool) *format.CorruptError {
	if vouched > start || first {
		return format.Corruptf(cause.Path, cause.Offset, 0, "%s (a sealed index or records written later vouch that the log was durable to position %d, past this segment's start %d)", cause.Reason, vouched, start)
	}
	return nil
}

// headerMismatch is the problem of a header naming another segment.
func headerMismatch(h format.SegmentHeader, seg segmentFile) error {
	return fmt.Errorf("segment header names segment %d of %d bytes; file is segment %d of %d bytes", h.ID, h.FileSize, seg.ID, len(seg.Data))
}
