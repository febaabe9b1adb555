package logdir

import (
	"github.com/raftlog/raftlog/internal/format"
)

// Evidence is what lies beyond a stop point: valid records (found by
// trying every aligned offset) and the durable watermark they vouch for.
type Evidence struct {
	Durable  uint64 // largest durable watermark of a valid record found
	Records  int
	Entries  int
	LastByte int64 // offset after the last nonzero 8-byte word, or from
}

// Resync looks for valid records in data[from:limit] at every aligned
// offset (format.Resync) and sums up what they vouch for. startPos is the
// segment's global start (format.UnknownPos when its header is
// unreadable).
func Resync(data []byte, from, limit int64, startPos uint64) Evidence {
	ev := Evidence{LastByte: max(from, LastNonzero(data[:min(limit, int64(len(data)))], from))}
	format.Resync(data, from, limit, startPos, func(_ int64, r format.Record) {
		ev.Records++
		if r.Type == format.TypeEntry {
			ev.Entries++
		}
		ev.Durable = max(ev.Durable, r.Durable)
	})
	return ev
}

// IndexEvidence is the global position a segment's complete index header
// vouches for (its Vouched), or 0. The complete flag is written only after
// the log was durable that far, whatever the segment file holds now (it
// may have been emptied or cut short since).
func IndexEvidence(seg SegmentFile) uint64 {
	if seg.Index == nil {
		return 0
	}
	h, err := seg.Index.Header()
	if err != nil || !h.Complete || h.SegmentID != seg.ID {
		return 0
	}
	return h.Vouched
}

// chainBreakEvidence returns the global start position of segment bad
// (where the chain breaks) and the largest durable watermark that any
// valid record in segments bad and later vouches for.
func chainBreakEvidence(segs []SegmentFile, hdrs []format.SegmentHeader, bad int) (start, vouched uint64) {
	if bad > 0 {
		start = hdrs[bad-1].StartPos + hdrs[bad-1].FileSize
		// Sealed at rotation, the previous segment's index vouches for
		// this segment's header and snapshot.
		vouched = IndexEvidence(segs[bad-1])
	}
	for j := bad; j < len(segs); j++ {
		pos := format.UnknownPos
		if j == bad && bad > 0 && segs[j].ID == segs[bad-1].ID+1 {
			pos = start // its header may be the damage
		} else if h, _, err := format.ReadSegmentHeader(segs[j].Data); err == nil && h.ID == segs[j].ID {
			pos = h.StartPos
		}
		ev := Resync(segs[j].Data, format.SegmentHeaderSize, int64(len(segs[j].Data)), pos)
		vouched = max(vouched, ev.Durable)
		// A complete index proves its segment was durable, header
		// included, whatever the header now says.
		vouched = max(vouched, IndexEvidence(segs[j]))
	}
	return start, vouched
}

// CreationCrash reports whether seg, the last segment, whose header is
// unreadable, is a crash leftover: nothing written vouches that the log
// was durable past its start. prev holds the headers before it.
func CreationCrash(seg SegmentFile, prev []format.SegmentHeader) bool {
	segs := make([]SegmentFile, len(prev)+1)
	segs[len(prev)] = seg
	start, vouched := chainBreakEvidence(segs, prev, len(prev))
	return (len(prev) > 0 || seg.ID == 1) && vouched <= start
}

// LastNonzero returns the offset after the last nonzero byte of data at
// or after from, rounded up to a word (from when there is none).
func LastNonzero(data []byte, from int64) int64 {
	const chunk = 4096
	end := int64(len(data))
	for end-from >= chunk && format.IsZero(data[end-chunk:end]) {
		end -= chunk
	}
	for end > from {
		k := max(from, (end-1)&^(format.Align-1))
		if !format.IsZero(data[k:end]) {
			return min(format.AlignUp(end), int64(len(data)))
		}
		end = k
	}
	return from
}
