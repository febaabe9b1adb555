package recovery

import (
	"fmt"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
)

// scan is the result of reading one segment's records in order.
type scan struct {
	end      int64  // offset after the last valid record
	prev     uint32 // CRC of the last valid record (chain value at end)
	stop     error  // why scanning stopped before the limit (nil: reached it)
	state    raftstate.State
	hasState bool // the initial State snapshot was valid
	base     uint64
	count    uint64
	slots    []uint32 // record offset / 8 of entries base..base+count-1
	stateOff int64
	first    uint64 // lowest existing index; 0 = Purged.Index+1
	lastType format.Type
	durable  uint64 // largest durable watermark seen
	entries  int    // entry records read
	records  int    // records read
}

// scanSegment reads records of data from the header to limit, replaying
// them on the segment's initial State snapshot. It stops at the first bytes
// that are not a valid, chained record. A valid record that breaks the
// log's rules (an entry out of order) is corruption and returns an error.
func scanSegment(path string, data []byte, seed uint32, limit int64, keepSlots bool) (*scan, error) {
	s := &scan{end: format.SegmentHeaderSize, prev: seed}
	c := format.NewChain(data[:limit], format.SegmentHeaderSize, seed)
	for s.end < limit {
		r, off, ok := c.Next()
		if !ok {
			s.stop = c.Err()
			break
		}
		if !s.hasState && r.Type != format.TypeState {
			s.stop = fmt.Errorf("%w: first record is %v, not State", format.ErrBadType, r.Type)
			break
		}
		if err := s.apply(path, off, r, keepSlots); err != nil {
			return nil, err
		}
		s.durable = max(s.durable, r.Durable)
		s.prev, s.lastType, s.end = r.CRC, r.Type, c.End()
		s.records++
	}
	return s, nil
}

func (s *scan) apply(path string, off int64, r format.Record, keepSlots bool) error {
	bad := func(err error) error { return format.Corruptf(path, off, 0, "%v", err) }
	switch r.Type {
	case format.TypeState:
		st, err := format.State(r.Body)
		if err != nil {
			return bad(err)
		}
		s.state, s.hasState, s.stateOff = st, true, off
		s.first = format.StateFirst(r.Body)
	case format.TypeEntry:
		id, err := format.EntryID(r.Body)
		if err != nil {
			return bad(err)
		}
		if err := raftstate.CheckAppend(&s.state, func(int) raftstate.LogID { return id }, 1); err != nil {
			return format.Corruptf(path, off, id.Index, "entry breaks the log order: %v", err)
		}
		if s.base == 0 {
			s.base = id.Index
		}
		if id.Index != s.base+s.count {
			return format.Corruptf(path, off, id.Index, "entry %d out of place in a segment holding %d..%d", id.Index, s.base, s.base+s.count-1)
		}
		if s.state.Last.Index < max(s.first, s.state.Purged.Index+1) {
			s.first = id.Index // an empty log starts where its first entry says
		}
		raftstate.ApplyAppend(&s.state, id)
		s.count++
		s.entries++
		if keepSlots {
			s.slots = append(s.slots, uint32(off/format.Align))
		}
	case format.TypeVote:
		v, err := format.Vote(r.Body)
		if err != nil {
			return bad(err)
		}
		s.state.Vote = v
	case format.TypeCommit:
		id, err := format.LogID(r.Body)
		if err != nil {
			return bad(err)
		}
		s.state.Committed = id
	case format.TypeTruncate:
		first, last, err := format.Truncate(r.Body)
		if err != nil {
			return bad(err)
		}
		// The writer truncates within [Purged+1, Last] and records the entry
		// before the cut (or Purged) as the new Last.
		if err := raftstate.CheckTruncate(&s.state, first); err != nil || (last.Index != first-1 && last != s.state.Purged) {
			return format.Corruptf(path, off, first, "truncate at %d to last %v breaks the log order (last %v, purged %v)", first, last, s.state.Last, s.state.Purged)
		}
		s.state.Last = last
		s.base, s.count = raftstate.TruncateSpan(s.base, s.count, first)
		if keepSlots {
			s.slots = s.slots[:s.count]
		}
	case format.TypePurge:
		id, err := format.LogID(r.Body)
		if err != nil {
			return bad(err)
		}
		raftstate.ApplyPurge(&s.state, id)
		s.first = max(s.first, id.Index+1)
	case format.TypeUserData:
		ud, err := format.UserData(r.Body)
		if err != nil {
			return bad(err)
		}
		if ud != nil {
			ud = append([]byte{}, ud...)
		}
		s.state.UserData = ud
	}
	return nil
}

// evidence is what lies beyond a stop point: valid records (found by
// trying every aligned offset) and the durable watermark they vouch for.
type evidence struct {
	durable  uint64 // largest durable watermark of a valid record found
	records  int
	entries  int
	lastByte int64 // offset after the last nonzero 8-byte word, or from
}

// unknownPos: see format.UnknownPos.
const unknownPos = format.UnknownPos

// resync looks for valid records in data[from:limit] at every aligned
// offset (format.Resync) and sums up what they vouch for.
func resync(data []byte, from, limit int64, startPos uint64) evidence {
	ev := evidence{lastByte: max(from, lastNonzero(data[:min(limit, int64(len(data)))], from))}
	format.Resync(data, from, limit, startPos, func(_ int64, r format.Record) {
		ev.records++
		if r.Type == format.TypeEntry {
			ev.entries++
		}
		ev.durable = max(ev.durable, r.Durable)
	})
	return ev
}

// SegmentSlots rebuilds the index slots of a segment whose records end at
// limit (record offset / 8 per live entry, from the first), by replaying
// its records: for a sealed index whose slots fail their checksum.
func SegmentSlots(path string, data []byte, limit int64) ([]uint32, error) {
	_, seed, err := format.ReadSegmentHeader(data)
	if err != nil {
		return nil, format.Corruptf(path, 0, 0, "%v", err)
	}
	var slots []uint32
	err = guardFault(func() error {
		sc, err := scanSegment(path, data, seed, limit, true)
		if err != nil {
			return err
		}
		if sc.end != limit {
			return format.Corruptf(path, sc.end, 0, "records stop at %d (%v) inside a sealed segment that ends at %d", sc.end, sc.stop, limit)
		}
		slots = sc.slots
		return nil
	})
	return slots, err
}
