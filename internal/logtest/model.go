package logtest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/raftlog/raftlog/mmaplog"
)

// Model is a log in memory. The zero Model is an empty log.
//
// The live entries are always one run, First..State().Last.Index: an
// append continues at Last.Index+1, except the first one of an empty,
// never-purged log, which may start at any index (the indexes below it
// then do not exist and Purged stays zero).
//
// A Model keeps the payload and user-data slices it is given and hands
// them out again: neither it nor its callers may modify them.
type Model struct {
	st    mmaplog.State
	first uint64          // index of ents[0] (meaningless when ents is empty)
	ents  []mmaplog.Entry // the live entries, first..st.Last.Index
}

// Clone returns an independent copy of m (payloads are shared).
func (m *Model) Clone() *Model {
	c := *m
	c.ents = slices.Clone(m.ents)
	return &c
}

// State returns the state: what mmaplog's State must return.
func (m *Model) State() mmaplog.State { return m.st }

// First returns the first live index: Purged.Index+1, or where the first
// append of a never-purged log started. With no live entry it is
// Last.Index+1.
func (m *Model) First() uint64 {
	if len(m.ents) == 0 {
		return m.st.Last.Index + 1
	}
	return m.first
}

// Len returns the number of live entries.
func (m *Model) Len() int { return len(m.ents) }

// Entry returns the live entry at idx.
func (m *Model) Entry(idx uint64) (mmaplog.Entry, bool) {
	if len(m.ents) == 0 || idx < m.first || idx > m.st.Last.Index {
		return mmaplog.Entry{}, false
	}
	return m.ents[idx-m.first], true
}

// Entries returns the live entries with from <= index < to, in order
// (nil when there is none).
func (m *Model) Entries(from, to uint64) []mmaplog.Entry {
	lo, hi := max(from, m.First()), min(to, m.st.Last.Index+1)
	if lo >= hi {
		return nil
	}
	return slices.Clone(m.ents[lo-m.first : hi-m.first])
}

// Append appends es as one batch, or returns the error mmaplog returns
// for it and changes nothing. Each entry must be above Last (in (Term,
// Index) order) and at Last.Index+1; the first entry of an empty,
// never-purged log (Last zero) may have any index but 0. Where an entry
// breaks both rules, the error is the one mmaplog checks first:
// ErrNonConsecutive for index 0, then ErrLogIDReversal, then
// ErrNonConsecutive. The error is the sentinel itself, so that
// errors.Is(logErr, modelErr) compares the two outcomes (nil with nil).
func (m *Model) Append(es ...mmaplog.Entry) error {
	last := m.st.Last
	for _, e := range es {
		switch {
		case e.ID.Index == 0:
			return mmaplog.ErrNonConsecutive
		case last.IsZero():
			// The first entry of an empty, never-purged log.
		case !last.Less(e.ID):
			return mmaplog.ErrLogIDReversal
		case e.ID.Index != last.Index+1:
			return mmaplog.ErrNonConsecutive
		}
		last = e.ID
	}
	if len(es) == 0 {
		return nil
	}
	if len(m.ents) == 0 {
		m.first = es[0].ID.Index
	}
	m.ents = append(m.ents, es...)
	m.st.Last = last
	return nil
}

// SaveVote records v, or returns ErrVoteReversal and changes nothing.
// Allowed: a higher term; within the term the same vote, a move from
// NodeID 0 to a candidate, or the same candidate from uncommitted to
// committed.
func (m *Model) SaveVote(v mmaplog.Vote) error {
	if !voteAllowed(m.st.Vote, v) {
		return mmaplog.ErrVoteReversal
	}
	m.st.Vote = v
	return nil
}

func voteAllowed(cur, v mmaplog.Vote) bool {
	switch {
	case v.Term != cur.Term:
		return v.Term > cur.Term
	case v == cur:
		return true
	case cur.NodeID == 0 && !cur.Committed && v.NodeID != 0:
		return true
	default:
		return cur.NodeID != 0 && v.NodeID == cur.NodeID && !cur.Committed && v.Committed
	}
}

// Commit records id as Committed, or returns ErrLogIDReversal when it is
// below the current one (equal is fine) and changes nothing. It is not
// checked against the entries.
func (m *Model) Commit(id mmaplog.LogID) error {
	if id.Less(m.st.Committed) {
		return mmaplog.ErrLogIDReversal
	}
	m.st.Committed = id
	return nil
}

// SaveUserData replaces the user data; nil clears it (nil and empty
// differ in State).
func (m *Model) SaveUserData(data []byte) { m.st.UserData = data }

// Truncate keeps the entries below idx, or returns ErrNotFound and changes
// nothing when idx is outside [Purged.Index+1, Last.Index+1]. Last becomes
// the entry at idx-1, or Purged when none is left; Last.Index+1 is a no-op.
// Committed is not changed.
func (m *Model) Truncate(idx uint64) error {
	if idx < m.st.Purged.Index+1 || idx > m.st.Last.Index+1 {
		return mmaplog.ErrNotFound
	}
	if idx == m.st.Last.Index+1 {
		return nil
	}
	if len(m.ents) == 0 || idx <= m.first {
		m.ents = nil
		m.st.Last = m.st.Purged
		return nil
	}
	m.ents = m.ents[:idx-m.first]
	m.st.Last = m.ents[len(m.ents)-1].ID
	return nil
}

// Purge drops the entries up to upto.Index and makes Purged upto; when
// upto.Index is at or beyond Last.Index, Last becomes upto too (the next
// append must be upto.Index+1). upto.Index <= Purged.Index is a no-op.
// mmaplog compares with Last by index, as here.
func (m *Model) Purge(upto mmaplog.LogID) {
	if upto.Index <= m.st.Purged.Index {
		return
	}
	m.st.Purged = upto
	if m.st.Last.Index <= upto.Index {
		m.st.Last = upto
		m.ents = nil
		return
	}
	if len(m.ents) > 0 && upto.Index >= m.first {
		m.ents = m.ents[upto.Index+1-m.first:]
		m.first = upto.Index + 1
	}
}

// Restore returns the model of a log whose state is st and whose live
// entries are ents (in index order), reached through the model's own
// operations; an error when its rules allow no such log.
func Restore(st mmaplog.State, ents []mmaplog.Entry) (*Model, error) {
	m := &Model{}
	m.Purge(st.Purged)
	if err := m.Append(ents...); err != nil {
		return nil, fmt.Errorf("logtest: restore: append after purge point %v: %w", st.Purged, err)
	}
	if err := m.SaveVote(st.Vote); err != nil {
		return nil, fmt.Errorf("logtest: restore: vote %v: %w", st.Vote, err)
	}
	if err := m.Commit(st.Committed); err != nil {
		return nil, fmt.Errorf("logtest: restore: commit %v: %w", st.Committed, err)
	}
	m.SaveUserData(st.UserData)
	if !m.st.Equal(st) {
		return nil, fmt.Errorf("logtest: restore: the entries give state {%s}, want {%s}", StateString(m.st), StateString(st))
	}
	return m, nil
}

// ErrMismatch matches every error of the Check methods that says the log
// differs from the model. An error the log returned where the model has an
// entry is wrapped as it is, without ErrMismatch: the log could not be
// read, which is another finding than a wrong answer.
var ErrMismatch = errors.New("logtest: log does not match the model")

// Check compares l with m: CheckState, CheckRange over the live entries and
// CheckScan.
func (m *Model) Check(l *mmaplog.Log) error {
	if err := m.CheckState(l); err != nil {
		return err
	}
	if err := m.CheckRange(l, m.First(), m.st.Last.Index); err != nil {
		return err
	}
	return m.CheckScan(l)
}

// CheckState compares l.State() with m's state (nil and empty user data
// differ).
func (m *Model) CheckState(l *mmaplog.Log) error {
	if got := l.State(); !got.Equal(m.st) {
		return fmt.Errorf("%w: State() = {%s}, model {%s}", ErrMismatch, StateString(got), StateString(m.st))
	}
	return nil
}

// CheckRange checks that l holds m's entries first..last, bit-exact, by
// Get, and that Get of first-1 (when above 0) and of last+1 is ErrNotFound.
// Every index in first..last must be a live entry of m.
func (m *Model) CheckRange(l *mmaplog.Log, first, last uint64) error {
	for i := first; i <= last; i++ {
		want, ok := m.Entry(i)
		if !ok {
			return fmt.Errorf("logtest: entry %d is not in the model (it holds %d..%d)", i, m.First(), m.st.Last.Index)
		}
		got, err := l.Get(i)
		if err != nil {
			return fmt.Errorf("Get(%d): %w", i, err)
		}
		if got.ID != want.ID || !bytes.Equal(got.Payload, want.Payload) {
			return fmt.Errorf("%w: Get(%d) = %s, want %s", ErrMismatch, i, entryString(got, want), entryString(want, got))
		}
	}
	outside := []uint64{last + 1}
	if first > 1 {
		outside = []uint64{first - 1, last + 1}
	}
	for _, x := range outside {
		got, err := l.Get(x)
		switch {
		case err == nil:
			return fmt.Errorf("%w: Get(%d) outside [%d, %d] = %s, want ErrNotFound", ErrMismatch, x, first, last, entryString(got, got))
		case !errors.Is(err, mmaplog.ErrNotFound):
			return fmt.Errorf("%w: Get(%d) outside [%d, %d]: %w, want ErrNotFound", ErrMismatch, x, first, last, err)
		}
	}
	return nil
}

// CheckScan checks that l.Entries over every index up to Last.Index+1
// yields exactly m's live entries, in order.
func (m *Model) CheckScan(l *mmaplog.Log) error {
	to := m.st.Last.Index + 2
	k := 0
	for got, err := range l.Entries(0, to) {
		if err != nil {
			return fmt.Errorf("Entries(0, %d) after %d entries: %w", to, k, err)
		}
		if k == len(m.ents) {
			return fmt.Errorf("%w: Entries(0, %d) yields %s after the model's %d entries", ErrMismatch, to, entryString(got, got), k)
		}
		if want := m.ents[k]; got.ID != want.ID || !bytes.Equal(got.Payload, want.Payload) {
			return fmt.Errorf("%w: Entries(0, %d) yields %s at position %d, want %s", ErrMismatch, to, entryString(got, want), k, entryString(want, got))
		}
		k++
	}
	if k != len(m.ents) {
		return fmt.Errorf("%w: Entries(0, %d) yields %d entries, the model has %d (%d..%d)", ErrMismatch, to, k, len(m.ents), m.First(), m.st.Last.Index)
	}
	return nil
}

// entryString describes e for a mismatch with other: ID, size and the
// start of the payload, noting when only the bytes differ.
func entryString(e, other mmaplog.Entry) string {
	s := fmt.Sprintf("%v with %d bytes %.24q", e.ID, len(e.Payload), e.Payload)
	if e.ID == other.ID && len(e.Payload) == len(other.Payload) && !bytes.Equal(e.Payload, other.Payload) {
		s += " (other bytes)"
	}
	return s
}

// StateString describes s on one line.
func StateString(s mmaplog.State) string {
	ud := "nil"
	if s.UserData != nil {
		ud = fmt.Sprintf("%d bytes %.24q", len(s.UserData), s.UserData)
	}
	return fmt.Sprintf("vote %v, last %v, committed %v, purged %v, user data %s", s.Vote, s.Last, s.Committed, s.Purged, ud)
}
