package logdir

import (
	"fmt"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
)

// Scan is the result of reading one segment's records in order and
// replaying them on its initial State snapshot.
type Scan struct {
	End      int64  // offset after the last valid record
	Prev     uint32 // CRC of the last valid record (chain value at End)
	Stop     error  // why scanning stopped before the limit (nil: reached it)
	State    raftstate.State
	HasState bool // the initial State snapshot was valid
	Base     uint64
	Count    uint64
	Slots    []uint32 // record offset / 8 of entries Base..Base+Count-1
	StateOff int64    // offset of the last State record
	First    uint64   // lowest existing index; 0 = Purged.Index+1
	Records  int      // records read

	lastType format.Type
	durable  uint64 // largest durable watermark seen
	entries  int    // entry records read

	path      string // for the errors of replay
	keepSlots bool
}

// ScanSegment reads records of data from the header to limit, replaying
// them on the segment's initial State snapshot (seed is the header's chain
// value). It stops at the first bytes that are not a valid, chained record
// (Scan.Stop says why). A valid record that breaks the log's rules (an
// entry out of order) is corruption and returns a *format.CorruptError.
// keepSlots keeps the entries' offsets (Scan.Slots).
func ScanSegment(path string, data []byte, seed uint32, limit int64, keepSlots bool) (*Scan, error) {
	s := &Scan{End: format.SegmentHeaderSize, Prev: seed, path: path, keepSlots: keepSlots}
	c := format.NewChain(data[:limit], format.SegmentHeaderSize, seed)
	for s.End < limit {
		r, off, ok := c.Next()
		if !ok {
			s.Stop = c.Err()
			break
		}
		if !s.HasState && r.Type != format.TypeState {
			s.Stop = fmt.Errorf("%w: first record is %v, not State", format.ErrBadType, r.Type)
			break
		}
		if err := s.replay(off, r); err != nil {
			return nil, err
		}
		s.durable = max(s.durable, r.Durable)
		s.Prev, s.lastType, s.End = r.CRC, r.Type, c.End()
		s.Records++
	}
	return s, nil
}

// replay applies the record r, found at off, to the scanned state, by the
// writer's rules: a State record replaces the state, an entry must extend
// the log in order (replayEntry), a Truncate must cut inside it
// (replayTruncate), and a Vote, Commit, Purge or UserData record sets its
// field. A body that does not decode, or a record that breaks a rule, is a
// *format.CorruptError.
func (s *Scan) replay(off int64, r format.Record) error {
	bad := func(err error) error { return format.Corruptf(s.path, off, 0, "%v", err) }
	switch r.Type {
	case format.TypeState:
		st, err := format.State(r.Body)
		if err != nil {
			return bad(err)
		}
		s.State, s.HasState, s.StateOff = st, true, off
		s.First = format.StateFirst(r.Body)
	case format.TypeEntry:
		id, err := format.EntryID(r.Body)
		if err != nil {
			return bad(err)
		}
		return s.replayEntry(off, id)
	case format.TypeVote:
		v, err := format.Vote(r.Body)
		if err != nil {
			return bad(err)
		}
		s.State.Vote = v
	case format.TypeCommit:
		id, err := format.LogID(r.Body)
		if err != nil {
			return bad(err)
		}
		s.State.Committed = id
	case format.TypeTruncate:
		first, last, err := format.Truncate(r.Body)
		if err != nil {
			return bad(err)
		}
		return s.replayTruncate(off, first, last)
	case format.TypePurge:
		id, err := format.LogID(r.Body)
		if err != nil {
			return bad(err)
		}
		raftstate.ApplyPurge(&s.State, id)
		s.First = max(s.First, id.Index+1)
	case format.TypeUserData:
		ud, err := format.UserData(r.Body)
		if err != nil {
			return bad(err)
		}
		if ud != nil {
			ud = append([]byte{}, ud...)
		}
		s.State.UserData = ud
	}
	return nil
}

// replayEntry appends entry id, found at off: it must follow the log's
// last entry (raftstate.CheckAppend) and this segment's entries.
func (s *Scan) replayEntry(off int64, id raftstate.LogID) error {
	if err := raftstate.CheckAppend(&s.State, func(int) raftstate.LogID { return id }, 1); err != nil {
		return format.Corruptf(s.path, off, id.Index, "entry breaks the log order: %v", err)
	}
	if s.Base == 0 {
		s.Base = id.Index
	}
	if id.Index != s.Base+s.Count {
		return format.Corruptf(s.path, off, id.Index, "entry %d out of place in a segment holding %d..%d", id.Index, s.Base, s.Base+s.Count-1)
	}
	if s.State.Last.Index < max(s.First, s.State.Purged.Index+1) {
		s.First = id.Index // an empty log starts where its first entry says
	}
	raftstate.ApplyAppend(&s.State, id)
	s.Count++
	s.entries++
	if s.keepSlots {
		s.Slots = append(s.Slots, uint32(off/format.Align))
	}
	return nil
}

// replayTruncate removes the entries from first on, found at off. The
// writer truncates within [Purged+1, Last] and records the entry before
// the cut (or Purged) as the new Last.
func (s *Scan) replayTruncate(off int64, first uint64, last raftstate.LogID) error {
	if err := raftstate.CheckTruncate(&s.State, first); err != nil || (last.Index != first-1 && last != s.State.Purged) {
		return format.Corruptf(s.path, off, first, "truncate at %d to last %v breaks the log order (last %v, purged %v)", first, last, s.State.Last, s.State.Purged)
	}
	s.State.Last = last
	s.Base, s.Count = raftstate.TruncateSpan(s.Base, s.Count, first)
	if s.keepSlots {
		s.Slots = s.Slots[:s.Count]
	}
	return nil
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
		sc, err := ScanSegment(path, data, seed, limit, true)
		if err != nil {
			return err
		}
		if sc.End != limit {
			return format.Corruptf(path, sc.End, 0, "records stop at %d (%v) inside a sealed segment that ends at %d", sc.End, sc.Stop, limit)
		}
		slots = sc.Slots
		return nil
	})
	return slots, err
}
