package logdir

import (
	"fmt"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
)

// The rules below are the one statement of each check that both Open
// (Analyze, which stops at the first problem) and recovery.Verify (which
// collects every problem) apply. Each returns nil or the problem, worded
// once.

// RuleConsecutive checks that segment IDs follow each other without a
// gap.
func RuleConsecutive(prev, cur SegmentFile) *format.CorruptError {
	if cur.ID != prev.ID+1 {
		return format.Corruptf(cur.Path, 0, 0, "segment %d missing between %d and %d", prev.ID+1, prev.ID, cur.ID)
	}
	return nil
}

// RuleStart checks that a segment starts where its predecessor's file
// ends.
func RuleStart(seg SegmentFile, h, prev format.SegmentHeader, prevID uint64) *format.CorruptError {
	if want := prev.StartPos + prev.FileSize; h.StartPos != want {
		return format.Corruptf(seg.Path, 24, 0, "start position %d does not follow segment %d (%d + %d)", h.StartPos, prevID, prev.StartPos, prev.FileSize)
	}
	return nil
}

// RulePrevEnd checks that where next's header says its predecessor's
// records end lies inside the predecessor (of size bytes), record-aligned.
func RulePrevEnd(next, prev SegmentFile, pe, size int64) *format.CorruptError {
	if pe < format.SegmentHeaderSize || pe > size || pe%format.Align != 0 {
		return format.Corruptf(next.Path, 32, 0, "previous segment end %d outside %s (%d bytes)", pe, prev.Path, size)
	}
	return nil
}

// RuleNeverPurged checks that a log that was never purged starts with
// segment 1: only a purge deletes segments.
func RuleNeverPurged(st *raftstate.State, first SegmentFile) *format.CorruptError {
	if st.Purged.IsZero() && first.ID != 1 {
		return format.Corruptf(first.Path, 0, 0, "segments 1..%d missing in a log that was never purged", first.ID-1)
	}
	return nil
}

// RuleCoverage checks that the segments (n of them, each holding count
// entries from base) hold every live entry [first, Last] of st. path and
// off name the file the problem is reported in.
func RuleCoverage(st *raftstate.State, first uint64, n int, span func(i int) (base, count uint64), path string, off int64) *format.CorruptError {
	want := max(first, st.Purged.Index+1)
	if st.Last.Index < want {
		return nil
	}
	runs := AppendRuns(nil, n, span)
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

// RuleDurable judges records that stop at global position pos: when a
// sealed index or a later record proved the log durable past it
// (vouched), the stop is damage, not a torn tail. idx is the entry
// expected there (0: unknown), why what was found.
func RuleDurable(seg SegmentFile, off int64, idx, pos, vouched uint64, why string) *format.CorruptError {
	if pos < vouched {
		return format.Corruptf(seg.Path, off, idx, "invalid record (%s) before the durable watermark: the log was proven durable to position %d, this is position %d", why, vouched, pos)
	}
	return nil
}

// StopReason words why a scan stopped, for RuleDurable.
func StopReason(sc *Scan) string {
	if sc.Stop != nil {
		return sc.Stop.Error()
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

// HeaderMismatch is the problem of a header naming another segment.
func HeaderMismatch(h format.SegmentHeader, seg SegmentFile) error {
	return fmt.Errorf("segment header names segment %d of %d bytes; file is segment %d of %d bytes", h.ID, h.FileSize, seg.ID, len(seg.Data))
}

// EntrySpan is a segment's entries as (base, count): base is 0 when the
// segment holds none, whatever was recorded.
func EntrySpan(base, count uint64) (uint64, uint64) {
	if count == 0 {
		return 0, 0
	}
	return base, count
}

// Run is a maximal range of log indexes held by one segment: it starts at
// First and ends where the next run starts (or at the log's Last).
type Run struct {
	First uint64
	Seg   int // position in the segment list
}

// AppendRuns computes the runs of n segments in ID order, given each
// one's first entry index and entry count, into runs[:0] (reusing its
// storage): a later segment that starts at or below an earlier run's first
// index supersedes it (a truncation followed by re-appends).
func AppendRuns(runs []Run, n int, span func(i int) (base, count uint64)) []Run {
	runs = runs[:0]
	for i := range n {
		base, count := span(i)
		if count == 0 {
			continue
		}
		for len(runs) > 0 && runs[len(runs)-1].First >= base {
			runs = runs[:len(runs)-1]
		}
		runs = append(runs, Run{First: base, Seg: i})
	}
	return runs
}
