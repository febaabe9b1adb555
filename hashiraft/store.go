package hashiraft

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/raftlog/raftlog/mmaplog"
)

// errClosed is returned by every method called after Close.
var errClosed = mmaplog.ErrClosed

// Store implements raft.LogStore, raft.StableStore, raft.MonotonicLogStore,
// raft.CommitTrackingLogStore and io.Closer for github.com/hashicorp/raft,
// on one mmaplog.Log.
type Store struct {
	log    *mmaplog.Log
	closed atomic.Bool

	// first and last are the raft-visible index range, both 0 when the log
	// is empty. Written under mu, read without it.
	first, last atomic.Uint64
	// stable is the current stable store snapshot, replaced under mu.
	stable atomic.Pointer[kv]
	// staged is the commit index raft staged for the next StoreLogs;
	// commit is the recorded one (committed.Index), read without mu.
	staged, commit atomic.Uint64

	// mu serializes mutations: StoreLogs, DeleteRange and Set. It is never
	// held across a disk sync, so concurrent callers share group commits.
	mu      sync.Mutex
	buf     []byte          // encode scratch, guarded by mu
	entries []mmaplog.Entry // batch scratch, guarded by mu
	// committed is the log's Committed LogID, guarded by mu.
	committed mmaplog.LogID
	// terms are the terms of the entries from terms[0].first to LastIndex
	// as far as this Store has seen them (see termAt), guarded by mu.
	terms []termRun
}

// Interface checks.
var (
	_ raft.LogStore          = (*Store)(nil)
	_ raft.StableStore       = (*Store)(nil)
	_ raft.MonotonicLogStore = (*Store)(nil)
)

// Open opens (creating if needed) the log in dir and returns a Store on it.
// opts is passed to mmaplog.Open. Only one Store may have dir open at a time.
func Open(dir string, opts mmaplog.Options) (*Store, error) {
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("hashiraft: %w", err)
	}
	st := l.State()
	m, err := decodeStable(st.UserData)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("hashiraft: open %s: %w", dir, err), l.Close())
	}
	s := &Store{log: l, committed: st.Committed}
	s.stable.Store(&m)
	s.commit.Store(st.Committed.Index)
	if st.Last.Index > st.Purged.Index {
		s.first.Store(st.Purged.Index + 1)
		s.last.Store(st.Last.Index)
		s.terms = []termRun{{st.Last.Index, st.Last.Term}}
	}
	return s, nil
}

// Close closes the log, flushing and syncing it. A second Close is a no-op.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	// Wait for an in-flight mutation to finish its write.
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Close()
}

// Stats returns the underlying log's statistics (segments, syncs, sync
// latency, the sticky failure if any), for metrics.
func (s *Store) Stats() mmaplog.Stats { return s.log.Stats() }

// IsMonotonic reports true: the log cannot hold gaps, so hashicorp/raft
// deletes every entry after restoring a snapshot (see DeleteRange).
func (s *Store) IsMonotonic() bool { return true }

// FirstIndex returns the first index in the log, 0 when it is empty. It does
// no I/O.
func (s *Store) FirstIndex() (uint64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	return s.first.Load(), nil
}

// LastIndex returns the last index in the log, 0 when it is empty. It does
// no I/O.
func (s *Store) LastIndex() (uint64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	return s.last.Load(), nil
}

// GetLog reads the entry at index into log. An index not in the log returns
// raft.ErrLogNotFound (unwrapped: hashicorp/raft compares it with ==).
// log.Data and log.Extensions are owned by the caller. GetLog never waits
// for a disk sync.
func (s *Store) GetLog(index uint64, log *raft.Log) error {
	if s.closed.Load() {
		return errClosed
	}
	e, err := s.log.Get(index)
	if errors.Is(err, mmaplog.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("hashiraft: get log %d: %w", index, err)
	}
	return decodeLog(e.ID.Index, e.ID.Term, e.Payload, log)
}

// StoreLog appends one entry; it is durable when StoreLog returns.
func (s *Store) StoreLog(log *raft.Log) error {
	return s.StoreLogs([]*raft.Log{log})
}

// StoreLogs appends logs, which must have consecutive indexes following
// LastIndex. They are durable when StoreLogs returns (one sync per call,
// shared with concurrent callers). A commit index staged with
// StageCommitIndex is recorded after the entries, in the same sync.
//
// When the log is empty (new, or emptied by DeleteRange) the batch may
// start at any index and term. Store first moves the log's purge point to
// the batch's first index - 1, stamped with the batch's first term: with
// mmaplog.Log.Purge when that is above the current purge point, else with
// mmaplog.Log.Rewind. This is how a new log, a migrated log, or a log
// emptied after a snapshot restore takes its first entries.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	if err := s.storeLogs(logs); err != nil {
		return err
	}
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("hashiraft: store logs [%d, %d]: %w", logs[0].Index, logs[len(logs)-1].Index, err)
	}
	return nil
}

// storeLogs validates and writes logs, without syncing.
func (s *Store) storeLogs(logs []*raft.Log) error {
	if s.closed.Load() {
		return errClosed
	}
	for i := 1; i < len(logs); i++ {
		if logs[i].Index != logs[i-1].Index+1 || logs[i].Term < logs[i-1].Term {
			return fmt.Errorf("hashiraft: store logs: entry %d-%d after %d-%d: %w",
				logs[i].Term, logs[i].Index, logs[i-1].Term, logs[i-1].Index, mmaplog.ErrNonConsecutive)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return errClosed
	}

	n := 0
	for _, l := range logs {
		n += encodedSizeBound(l)
	}
	buf := s.buf[:0]
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	entries := s.entries[:0]
	for _, l := range logs {
		start := len(buf)
		buf = appendLog(buf, l) // never reallocates: cap(buf) >= n
		entries = append(entries, mmaplog.Entry{
			ID:      mmaplog.LogID{Term: l.Term, Index: l.Index},
			Payload: buf[start:len(buf):len(buf)],
		})
	}
	defer s.keepScratch(buf, entries)

	for i := range entries {
		if len(entries[i].Payload) > mmaplog.MaxPayload {
			// Checked before an empty log's purge point moves.
			return fmt.Errorf("hashiraft: store logs: entry %d is %d bytes encoded: %w",
				entries[i].ID.Index, len(entries[i].Payload), mmaplog.ErrTooLarge)
		}
	}

	first := logs[0]
	if s.last.Load() == 0 {
		if err := s.startAt(first); err != nil {
			return fmt.Errorf("hashiraft: store logs at %d: %w", first.Index, err)
		}
	}
	staged := s.staged.Load()
	commit, doCommit, err := s.planCommit(staged, logs)
	if err != nil {
		return err
	}
	if err := s.log.Append(entries...); err != nil {
		return fmt.Errorf("hashiraft: store logs [%d, %d]: %w", first.Index, logs[len(logs)-1].Index, err)
	}
	if s.first.Load() == 0 {
		s.first.Store(first.Index)
	}
	s.last.Store(logs[len(logs)-1].Index)
	s.noteAppended(logs)
	s.staged.CompareAndSwap(staged, 0) // it was for this batch
	if doCommit {
		return s.recordCommit(commit)
	}
	return nil
}

// startAt prepares an empty log for a batch whose first entry is first:
// the log's end (its purge point) moves to first.Index-1, stamped with
// first.Term, unless the batch already follows it. Call with s.mu held.
func (s *Store) startAt(first *raft.Log) error {
	st := s.log.State()
	to := mmaplog.LogID{Term: first.Term, Index: first.Index - 1}
	switch {
	case to.Less(st.Committed):
		// The batch rewrites entries the recorded commit index covers:
		// that commit belongs to the history being replaced.
	case st.Last.IsZero() && first.Index == 1:
		return nil // a new log, or emptied and never purged
	case !st.Last.IsZero() && st.Last.Index == to.Index && st.Last.Term <= to.Term:
		return nil // the batch follows on
	case to.Index > st.Last.Index:
		return s.log.Purge(to)
	}
	// Back to, or below, the purge point, or below the recorded commit:
	// restart the log at to. Rewind forgets a commit above to.
	if err := s.log.Rewind(to); err != nil {
		return err
	}
	s.committed = s.log.State().Committed
	s.commit.Store(s.committed.Index)
	return nil
}

// keepScratch keeps small scratch buffers for the next call and lets large
// ones go. The entries' payloads are cleared so they do not pin buf.
func (s *Store) keepScratch(buf []byte, entries []mmaplog.Entry) {
	const maxKeep = 1 << 20
	clear(entries)
	if cap(buf) <= maxKeep {
		s.buf, s.entries = buf[:0], entries[:0]
	} else {
		s.buf, s.entries = nil, nil
	}
}

// DeleteRange deletes the entries with min <= Index <= max and syncs. The
// range must be a prefix or a suffix of the log (or cover it):
//
//   - a prefix [FirstIndex, max] is mmaplog.Log.Purge up to max;
//   - a suffix [min, LastIndex] is mmaplog.Log.Truncate(min);
//   - the whole log is Truncate(FirstIndex): the log is then empty and its
//     purge point unchanged, so the next StoreLogs may start at any index
//     above it (see StoreLogs). hashicorp/raft deletes everything this way
//     after restoring a snapshot into a MonotonicLogStore.
//
// Parts of the range outside the log are ignored; a range that misses the
// log, or min > max, is a no-op. A range strictly inside the log is an error.
func (s *Store) DeleteRange(min, max uint64) error {
	if s.closed.Load() {
		return errClosed
	}
	if min > max {
		return nil
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return errClosed
	}
	err := s.deleteRange(min, max)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("hashiraft: delete range [%d, %d]: %w", min, max, err)
	}
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("hashiraft: delete range [%d, %d]: %w", min, max, err)
	}
	return nil
}

// deleteRange does DeleteRange's work under s.mu, without syncing. The
// raft-visible range shrinks before the entries go, so that a reader that
// finds an entry gone also finds the range without it; a failed removal
// puts the range back.
func (s *Store) deleteRange(min, max uint64) error {
	first, last := s.first.Load(), s.last.Load()
	restore := func(err error) error {
		s.first.Store(first)
		s.last.Store(last)
		return err
	}
	switch {
	case first == 0 || max < first || min > last:
		return nil
	case min <= first && max >= last:
		s.last.Store(0)
		s.first.Store(0)
		if err := s.log.Truncate(first); err != nil {
			return restore(err)
		}
		s.terms = s.terms[:0]
	case min <= first:
		e, err := s.log.Get(max)
		if err != nil {
			return err
		}
		s.first.Store(max + 1)
		if err := s.log.Purge(e.ID); err != nil {
			return restore(err)
		}
		s.notePurged(max + 1)
	case max >= last:
		s.last.Store(min - 1)
		if err := s.log.Truncate(min); err != nil {
			return restore(err)
		}
		s.noteTruncated(min)
	default:
		return fmt.Errorf("only a prefix or suffix of [%d, %d] can be deleted", first, last)
	}
	return nil
}
