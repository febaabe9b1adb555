package hashiraft

import (
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/raft"

	"github.com/raftlog/raftlog/mmaplog"
)

var _ raft.CommitTrackingLogStore = (*Store)(nil)

// StageCommitIndex stages idx as the commit index, implementing
// raft.CommitTrackingLogStore. Nothing is written: the next StoreLogs that
// succeeds records it (as an mmaplog Commit of the entry's LogID) after its
// entries, in the same sync, so a crash never keeps the commit index
// without the batch it came with, and unstages it. A staged index at or
// below the recorded one changes nothing, and one beyond the batch's last
// entry is recorded as that entry (a lower bound of what is committed is
// still true).
func (s *Store) StageCommitIndex(idx uint64) error {
	if s.closed.Load() {
		return errClosed
	}
	s.staged.Store(idx)
	return nil
}

// GetCommitIndex returns the commit index recorded by StoreLogs, implementing
// raft.CommitTrackingLogStore: at most LastIndex (a log cut behind its
// recorded commit index answers with its last index), 0 when none was
// recorded or the log is empty. It does no I/O.
func (s *Store) GetCommitIndex() (uint64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	return min(s.commit.Load(), s.last.Load()), nil
}

// termRun says that the entries from index first on (up to the next run's
// first, or LastIndex) have term term.
type termRun struct{ first, term uint64 }

// planCommit returns the LogID to record as committed with the batch logs,
// about to be appended, for the staged index staged, and false when there
// is nothing to record: the staged index is not above the recorded one,
// or its entry is below the log (a purged index tells raft nothing: it
// restores from its snapshot and then from FirstIndex on). Call with s.mu
// held, before appending, so that a failed read fails StoreLogs before
// anything is written.
func (s *Store) planCommit(staged uint64, logs []*raft.Log) (mmaplog.LogID, bool, error) {
	idx := min(staged, logs[len(logs)-1].Index)
	if idx <= s.committed.Index {
		return mmaplog.LogID{}, false, nil
	}
	term, err := s.termAt(idx, logs)
	if err != nil || term == 0 {
		return mmaplog.LogID{}, false, err
	}
	id := mmaplog.LogID{Term: term, Index: idx}
	// A term below the recorded commit's would be an entry of a history
	// the recorded commit is not part of (raft's terms never go down
	// along a log); keep the recorded one.
	return id, !id.Less(s.committed), nil
}

// recordCommit writes id, planned by planCommit, as the commit index. Call
// with s.mu held, after the batch was appended; the caller syncs.
func (s *Store) recordCommit(id mmaplog.LogID) error {
	if err := s.log.Commit(id); err != nil {
		return fmt.Errorf("hashiraft: record commit index %d: %w", id.Index, err)
	}
	s.committed = id
	s.commit.Store(id.Index)
	return nil
}

// termAt returns the term of the entry at idx: from logs (the batch just
// appended), from the runs of terms this Store has seen, or read from the
// log. Call with s.mu held.
func (s *Store) termAt(idx uint64, logs []*raft.Log) (uint64, error) {
	if first := logs[0].Index; idx >= first {
		return logs[idx-first].Term, nil
	}
	if n := len(s.terms); n > 0 && idx >= s.terms[0].first {
		k := sort.Search(n, func(k int) bool { return s.terms[k].first > idx }) - 1
		return s.terms[k].term, nil
	}
	e, err := s.log.Get(idx)
	if errors.Is(err, mmaplog.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("hashiraft: term of commit index %d: %w", idx, err)
	}
	return e.ID.Term, nil
}

// noteAppended extends the term runs with a batch just appended. Call with
// s.mu held.
func (s *Store) noteAppended(logs []*raft.Log) {
	for _, l := range logs {
		if n := len(s.terms); n == 0 || s.terms[n-1].term != l.Term {
			s.terms = append(s.terms, termRun{l.Index, l.Term})
		}
	}
}

// notePurged drops the term runs below first, the new FirstIndex.
func (s *Store) notePurged(first uint64) {
	k := 0
	for k+1 < len(s.terms) && s.terms[k+1].first <= first {
		k++
	}
	s.terms = append(s.terms[:0], s.terms[k:]...)
	if len(s.terms) > 0 && s.terms[0].first < first {
		s.terms[0].first = first
	}
}

// noteTruncated drops the term runs of the entries from idx on.
func (s *Store) noteTruncated(idx uint64) {
	k := sort.Search(len(s.terms), func(k int) bool { return s.terms[k].first >= idx })
	s.terms = s.terms[:k]
}
