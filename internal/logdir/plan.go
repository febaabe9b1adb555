package logdir

import (
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
)

// Plan is what Analyze decided about a log directory: the state Open
// recovers, the segments that survive and what each holds, the files to
// delete and the torn tail to cut. Nothing on disk has been changed yet;
// Open carries it out, Verify reports it.
type Plan struct {
	State    raftstate.State
	First    uint64        // lowest index that exists (Purged.Index+1 unless the log started above 1)
	Durable  uint64        // global position proven durable
	Segments []SegmentPlan // survivors, in ID order
	Remove   []int         // positions (in Analyze's input) of files to delete
	Torn     *Torn         // nil when there was no torn tail
	Clean    bool          // the log was closed cleanly: nothing was scanned
}

// end is the global position after the last record that the plan keeps.
func (p *Plan) end() uint64 {
	if len(p.Segments) == 0 {
		return 0
	}
	last := &p.Segments[len(p.Segments)-1]
	return last.Header.StartPos + uint64(last.End)
}

// SegmentPlan is what Analyze established about one surviving segment:
// where its records end (where appends go), the entries it holds, and
// whether its index file is trusted or rebuilt.
type SegmentPlan struct {
	ID       uint64
	Header   format.SegmentHeader
	End      int64  // offset after the last valid record: where appends go
	Prev     uint32 // chain value at End (CRC of the last record)
	Base     uint64 // index of the first entry in the segment (0: none)
	Count    uint64 // entries live in this segment's own view
	StateOff int64  // offset of the last State record
	// Slots holds the rebuilt index (record offset / 8 per entry) when the
	// index file must be rewritten; nil when the index file is trusted.
	Slots        []uint32
	RebuildIndex bool
	// Checkpoint: the last record is a State record (a clean close).
	Checkpoint bool
	// SlotsUnchecked: the index was trusted on its header; its slots must
	// be checked against the seal's checksum (index.File.SlotsProven)
	// before the first lookup (and, in the last segment, before anything
	// is written), and rebuilt with SegmentSlots when they fail it. The
	// last segment's index is then still sealed: Open leaves marking it
	// open to the writer (see RecoveredSegment).
	SlotsUnchecked bool
}

// fromScan fills sp from a scan of its segment; the index is rebuilt.
func (sp *SegmentPlan) fromScan(sc *Scan) {
	sp.End, sp.Prev, sp.StateOff = sc.End, sc.Prev, sc.StateOff
	sp.Base, sp.Count = EntrySpan(sc.Base, sc.Count)
	sp.Slots, sp.RebuildIndex, sp.Checkpoint = sc.Slots, true, sc.lastType == format.TypeState
	sp.SlotsUnchecked = false
}

// Torn is a torn tail that recovery cuts off: bytes after the last valid
// record that nothing proves durable, never acknowledged.
type Torn struct {
	Path          string // segment where the cut is
	Offset, Bytes int64  // offset of the cut; nonzero bytes dropped (aligned words, approximate)
	// Records and Entries count the checksum-valid records, and the entries
	// among them, found beyond the cut.
	Records, Entries int
	Reason           error // what was found at the cut
}
