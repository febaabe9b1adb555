// Package raftstate holds the durable Raft state types shared by every layer
// of raftlog (mmaplog re-exports them as aliases) and the ordering rules that
// both the live writer and recovery's replay enforce.
//
// Everything here is pure: no I/O, no locking. Callers serialize access.
package raftstate

import (
	"bytes"
	"errors"
	"fmt"
)

// LogID names one entry. The zero LogID means "none". Indexes start at 1.
// LogIDs are ordered by (Term, Index).
type LogID struct{ Term, Index uint64 }

// IsZero reports whether id is the zero LogID ("none").
func (id LogID) IsZero() bool { return id == LogID{} }

// Less reports whether id orders before o by (Term, Index).
func (id LogID) Less(o LogID) bool {
	if id.Term != o.Term {
		return id.Term < o.Term
	}
	return id.Index < o.Index
}

// String formats id as "term-index", or "none" for the zero LogID.
func (id LogID) String() string {
	if id.IsZero() {
		return "none"
	}
	return fmt.Sprintf("%d-%d", id.Term, id.Index)
}

// Entry is one log entry.
type Entry struct {
	ID      LogID
	Payload []byte
}

// Vote is the node's vote. NodeID 0 means "voted for nobody yet".
type Vote struct {
	Term      uint64
	NodeID    uint64
	Committed bool // the voted-for leader is established
}

// String formats v as "term:node" with a "+c" suffix when committed.
func (v Vote) String() string {
	s := fmt.Sprintf("%d:%d", v.Term, v.NodeID)
	if v.Committed {
		s += "+c"
	}
	return s
}

// State is the durable Raft state apart from the entries themselves.
type State struct {
	Vote      Vote
	Last      LogID // last entry appended (or the purge point when the log is empty)
	Committed LogID
	Purged    LogID // every entry with Index <= Purged.Index is gone
	UserData  []byte
}

// Clone returns a deep copy of s (UserData is copied).
func (s State) Clone() State {
	if s.UserData != nil {
		s.UserData = bytes.Clone(s.UserData)
	}
	return s
}

// Equal reports whether s and o hold the same state.
func (s State) Equal(o State) bool {
	return s.Vote == o.Vote && s.Last == o.Last && s.Committed == o.Committed &&
		s.Purged == o.Purged && bytes.Equal(s.UserData, o.UserData) &&
		(s.UserData == nil) == (o.UserData == nil)
}

// Rule violations. mmaplog re-exports these sentinels.
var (
	ErrNotFound       = errors.New("mmaplog: not found")
	ErrVoteReversal   = errors.New("mmaplog: vote reversal")
	ErrLogIDReversal  = errors.New("mmaplog: log id reversal")
	ErrNonConsecutive = errors.New("mmaplog: log id not consecutive")
)

// CheckVote returns nil when moving from cur to v is allowed: a higher term;
// within a term the same vote, NodeID 0 to a candidate, or the same candidate
// from uncommitted to committed.
func CheckVote(cur, v Vote) error {
	switch {
	case v.Term > cur.Term:
		return nil
	case v.Term == cur.Term:
		// NodeID 0 is nobody: it moves to a candidate, and is never
		// committed (a committed vote names its leader).
		if v == cur ||
			(cur.NodeID == 0 && !cur.Committed && v.NodeID != 0) ||
			(v.NodeID == cur.NodeID && v.NodeID != 0 && !cur.Committed && v.Committed) {
			return nil
		}
	}
	return fmt.Errorf("%w: current %v, attempted %v", ErrVoteReversal, cur, v)
}

// CheckAppend validates appending ids (in order) to a log whose state is s.
// The first append to an empty, never-purged log may start at any index >= 1.
func CheckAppend(s *State, ids func(i int) LogID, n int) error {
	last := s.Last
	for i := range n {
		id := ids(i)
		if id.Index == 0 {
			return fmt.Errorf("%w: entry %d has index 0", ErrNonConsecutive, i)
		}
		if !last.IsZero() && !last.Less(id) {
			return fmt.Errorf("%w: append: last %v, attempted %v", ErrLogIDReversal, last, id)
		}
		if !last.IsZero() && id.Index != last.Index+1 {
			return fmt.Errorf("%w: last %v, attempted %v", ErrNonConsecutive, last, id)
		}
		last = id
	}
	return nil
}

// ApplyAppend makes id the new Last. (The first entry of an empty,
// never-purged log may start above 1: the indexes below it simply do not
// exist, and Purged stays as it is.)
func ApplyAppend(s *State, id LogID) { s.Last = id }

// CheckCommit validates committing id on state s.
func CheckCommit(s *State, id LogID) error {
	if id.Less(s.Committed) {
		return fmt.Errorf("%w: commit: current %v, attempted %v", ErrLogIDReversal, s.Committed, id)
	}
	return nil
}

// CheckTruncate validates Truncate(index) on state s: it must lie in
// [Purged.Index+1, Last.Index+1].
func CheckTruncate(s *State, index uint64) error {
	if index < s.Purged.Index+1 || index > s.Last.Index+1 || index == 0 {
		return fmt.Errorf("%w: truncate at %d outside [%d, %d]", ErrNotFound, index, s.Purged.Index+1, s.Last.Index+1)
	}
	return nil
}

// IsPurgeNoop reports whether Purge(upto) changes nothing on s.
func IsPurgeNoop(s *State, upto LogID) bool { return upto.Index <= s.Purged.Index }

// ApplyPurge sets Purged = upto and, when upto is beyond Last, Last = upto.
func ApplyPurge(s *State, upto LogID) {
	if upto.Index <= s.Purged.Index {
		return
	}
	s.Purged = upto
	if s.Last.Index <= upto.Index {
		s.Last = upto
	}
}

// TruncateSpan is what Truncate(first) leaves of a segment holding count
// entries from base (base 0: none): the entries below first. A segment
// emptied this way holds nothing (0, 0) and may take entries from any
// index again, which the writer and recovery's replay both rely on.
func TruncateSpan(base, count, first uint64) (uint64, uint64) {
	if base == 0 || first <= base {
		return 0, 0
	}
	return base, min(count, first-base)
}
