package format

import (
	"errors"
	"fmt"

	"github.com/raftlog/raftlog/internal/checksum"
	"github.com/raftlog/raftlog/internal/raftstate"
)

// Record bodies (offsets within the body; all little-endian):
//
//	Entry     0 u64 term, 8 u64 index, 16 payload (body length - 16 bytes)
//	Vote      0 u64 term, 8 u64 node ID, 16 u8 committed (0/1), 17 [7] zero
//	Commit    0 u64 term, 8 u64 index
//	Truncate  0 u64 first removed index, 8 u64 new Last term, 16 u64 new Last index
//	Purge     0 u64 term, 8 u64 index
//	UserData  0 u8 present (0 = nil, 1 = set), 1 [7] zero, 8 data
//	State     0 Vote (24 bytes as above), 24 Last (term, index),
//	          40 Committed, 56 Purged, 72 u64 First (lowest index that
//	          exists, 0 = Purged.Index+1), 80 UserData (as above)
const (
	EntryHeadSize   = 16
	VoteBodySize    = 24
	LogIDBodySize   = 16
	TruncateSize    = 24
	userDataHead    = 8
	stateFixedSize  = VoteBodySize + 3*LogIDBodySize + 8
	StateHeadSize   = stateFixedSize + userDataHead
	maxUserDataBody = MaxBody - StateHeadSize
)

// ErrBadBody: a record's checksum is right but its body does not decode.
var ErrBadBody = errors.New("record: malformed body")

// PutEntryHead writes an entry body's term and index; the payload follows.
func PutEntryHead(b []byte, id raftstate.LogID) {
	le.PutUint64(b, id.Term)
	le.PutUint64(b[8:], id.Index)
}

// EntryID decodes an entry body's LogID.
func EntryID(body []byte) (raftstate.LogID, error) {
	if len(body) < EntryHeadSize {
		return raftstate.LogID{}, fmt.Errorf("%w: entry body of %d bytes", ErrBadBody, len(body))
	}
	return raftstate.LogID{Term: le.Uint64(body), Index: le.Uint64(body[8:])}, nil
}

// PutLogID encodes id as a Commit or Purge body.
func PutLogID(b []byte, id raftstate.LogID) {
	le.PutUint64(b, id.Term)
	le.PutUint64(b[8:], id.Index)
}

// LogID decodes a Commit or Purge body.
func LogID(body []byte) (raftstate.LogID, error) {
	if len(body) != LogIDBodySize {
		return raftstate.LogID{}, fmt.Errorf("%w: log id body of %d bytes", ErrBadBody, len(body))
	}
	return raftstate.LogID{Term: le.Uint64(body), Index: le.Uint64(body[8:])}, nil
}

// PutVote encodes v as a Vote body.
func PutVote(b []byte, v raftstate.Vote) {
	le.PutUint64(b, v.Term)
	le.PutUint64(b[8:], v.NodeID)
	clear(b[16:VoteBodySize])
	if v.Committed {
		b[16] = 1
	}
}

// Vote decodes a Vote body.
func Vote(body []byte) (raftstate.Vote, error) {
	if len(body) != VoteBodySize || body[16] > 1 || !isZero(body[17:24]) {
		return raftstate.Vote{}, fmt.Errorf("%w: vote body", ErrBadBody)
	}
	return raftstate.Vote{Term: le.Uint64(body), NodeID: le.Uint64(body[8:]), Committed: body[16] == 1}, nil
}

// PutTruncate encodes a Truncate body.
func PutTruncate(b []byte, first uint64, newLast raftstate.LogID) {
	le.PutUint64(b, first)
	le.PutUint64(b[8:], newLast.Term)
	le.PutUint64(b[16:], newLast.Index)
}

// Truncate decodes a Truncate body.
func Truncate(body []byte) (first uint64, newLast raftstate.LogID, err error) {
	if len(body) != TruncateSize {
		return 0, raftstate.LogID{}, fmt.Errorf("%w: truncate body", ErrBadBody)
	}
	return le.Uint64(body), raftstate.LogID{Term: le.Uint64(body[8:]), Index: le.Uint64(body[16:])}, nil
}

// UserDataSize is the body size of a UserData record holding data.
func UserDataSize(data []byte) int { return userDataHead + len(data) }

// PutUserData encodes data (nil = cleared) as a UserData body.
func PutUserData(b []byte, data []byte) {
	clear(b[:userDataHead])
	if data != nil {
		b[0] = 1
	}
	copy(b[userDataHead:], data)
}

// UserData decodes a UserData body. The result aliases body.
func UserData(body []byte) ([]byte, error) {
	if len(body) < userDataHead || body[0] > 1 || !isZero(body[1:userDataHead]) {
		return nil, fmt.Errorf("%w: user data body", ErrBadBody)
	}
	if body[0] == 0 {
		if len(body) != userDataHead {
			return nil, fmt.Errorf("%w: nil user data with %d data bytes", ErrBadBody, len(body)-userDataHead)
		}
		return nil, nil
	}
	return body[userDataHead:], nil
}

// StateSize is the body size of a State record for s.
func StateSize(s *raftstate.State) int { return stateFixedSize + UserDataSize(s.UserData) }

// PutState encodes s as a State body into b[:StateSize(s)], with First 0
// (meaning Purged.Index+1).
func PutState(b []byte, s *raftstate.State) { PutStateFirst(b, s, 0) }

// PutStateFirst is PutState recording first, the lowest index that
// exists (it differs from Purged.Index+1 when a never-purged log's first
// append started above 1).
func PutStateFirst(b []byte, s *raftstate.State, first uint64) {
	PutVote(b, s.Vote)
	PutLogID(b[24:], s.Last)
	PutLogID(b[40:], s.Committed)
	PutLogID(b[56:], s.Purged)
	le.PutUint64(b[72:], first)
	PutUserData(b[80:], s.UserData)
}

// StateFirst returns the First field of a State body (0 when absent).
func StateFirst(body []byte) uint64 {
	if len(body) < StateHeadSize {
		return 0
	}
	return le.Uint64(body[72:])
}

// State decodes a State body. UserData is copied.
func State(body []byte) (raftstate.State, error) {
	var s raftstate.State
	if len(body) < StateHeadSize {
		return s, fmt.Errorf("%w: state body of %d bytes", ErrBadBody, len(body))
	}
	var err error
	if s.Vote, err = Vote(body[:24]); err != nil {
		return s, err
	}
	s.Last, _ = LogID(body[24:40])
	s.Committed, _ = LogID(body[40:56])
	s.Purged, _ = LogID(body[56:72])
	ud, err := UserData(body[80:])
	if err != nil {
		return s, err
	}
	if ud != nil {
		s.UserData = append([]byte{}, ud...)
	}
	return s, nil
}

// EntryAt reads the record at off of a segment's data (file path) that an
// index says holds entry i, and checks it: a valid record, an entry, entry
// i. Its payload aliases data. Anything else is a *CorruptError.
func EntryAt(path string, data []byte, off int64, i uint64) (raftstate.LogID, []byte, *CorruptError) {
	if id, payload, ok := ReadEntry(data, off, i); ok {
		return id, payload, nil
	}
	return entryAtSlow(path, data, off, i)
}

// ReadEntry is EntryAt's fast path, for readers that look entries up by
// index: it makes every check EntryAt makes (frame, length, checksum,
// padding, type, entry index) in one pass, without building an error, and
// reports ok false exactly where EntryAt returns an error. Its payload
// aliases data.
func ReadEntry(data []byte, off int64, i uint64) (id raftstate.LogID, payload []byte, ok bool) {
	if off < 0 || off > int64(len(data))-FrameSize {
		return id, nil, false
	}
	f := (*[FrameSize]byte)(data[off:])
	// Type, reserved bytes and length in one word: an entry's type byte
	// is TypeEntry and its reserved bytes are zero.
	head := le.Uint64(f[:8])
	n := int64(head >> 32)
	if uint32(head) != uint32(TypeEntry) || n < EntryHeadSize {
		return id, nil, false
	}
	size := alignUp(FrameSize + n)
	if size > int64(len(data))-off {
		return id, nil, false
	}
	rec := data[off : off+size]
	body := rec[FrameSize : FrameSize+n]
	if checksum.Update(checksum.Sum(f[:20]), body) != le.Uint32(f[20:]) {
		return id, nil, false
	}
	// The padding is the top bytes of the record's last word (size is at
	// least FrameSize+EntryHeadSize, so that word is past the frame).
	if pad := size - FrameSize - n; pad != 0 && le.Uint64(rec[size-8:])>>(64-8*uint(pad)) != 0 {
		return id, nil, false
	}
	id = raftstate.LogID{Term: le.Uint64(body), Index: le.Uint64(body[8:])}
	if id.Index != i {
		return raftstate.LogID{}, nil, false
	}
	return id, body[EntryHeadSize:], true
}

// entryAtSlow is EntryAt for a record ReadEntry refused: it finds the
// reason.
func entryAtSlow(path string, data []byte, off int64, i uint64) (raftstate.LogID, []byte, *CorruptError) {
	r, err := ReadRecord(data, off)
	if err != nil {
		return raftstate.LogID{}, nil, Corruptf(path, off, i, "%v", err)
	}
	if r.Type != TypeEntry {
		return raftstate.LogID{}, nil, Corruptf(path, off, i, "index points at a %v record", r.Type)
	}
	id, err := EntryID(r.Body)
	if err != nil || id.Index != i {
		return raftstate.LogID{}, nil, Corruptf(path, off, i, "index points at entry %d", id.Index)
	}
	return id, r.Body[EntryHeadSize:], nil
}
