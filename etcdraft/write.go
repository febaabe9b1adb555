package etcdraft

import (
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlog/raftlog/mmaplog"
)

// Save persists one Ready's snapshot, entries and HardState, in that order,
// and returns once they are durable (it syncs when raft.MustSync says so:
// new entries, a snapshot, or a new term or vote; a commit-only change is
// written and becomes durable with the next sync). It is the write half of
// a Ready loop without Config.AsyncStorageWrites:
//
//	rd := node.Ready()
//	if err := st.Save(rd.HardState, rd.Entries, rd.Snapshot); err != nil { ... }
//	send(rd.Messages)
//	apply(rd.CommittedEntries)
//	node.Advance()
func (s *Storage) Save(hs *pb.HardState, ents []*pb.Entry, snap *pb.Snapshot) error {
	mustSync, err := s.write(hs, ents, snap)
	if err != nil || !mustSync {
		return err
	}
	return s.log.Sync()
}

// StorageAppend handles a MsgStorageAppend from a RawNode or Node running
// with Config.AsyncStorageWrites: it writes the message's snapshot, entries
// and HardState, then calls deliver with the message's responses once they
// are durable, from the log's flusher goroutine. Calls must come in the
// order raft emitted the messages (one append thread); deliver calls then
// come in the same order, one per message. When deliver gets a non-nil
// error the writes may not be durable: the responses must be dropped, and
// the Storage has failed (every later write fails; reopen it). deliver must
// not call Sync or Close and should not block for long: it holds up the
// next flush's callbacks.
//
// An error returned by StorageAppend itself means deliver will not be
// called for this message.
func (s *Storage) StorageAppend(m *pb.Message, deliver func(resps []*pb.Message, err error)) error {
	if m.GetType() != pb.MsgStorageAppend {
		return fmt.Errorf("%w: %s", ErrNotStorageAppend, m.GetType())
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	hs := &pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
	if _, err := s.write(hs, m.GetEntries(), m.GetSnapshot()); err != nil {
		return err
	}
	resps := m.GetResponses()
	return s.log.Flush(func(err error) { deliver(resps, err) })
}

// write applies a snapshot, entries and a HardState (each may be empty)
// and reports whether raft needs them synced before it sends messages.
func (s *Storage) write(hs *pb.HardState, ents []*pb.Entry, snap *pb.Snapshot) (mustSync bool, err error) {
	if !raft.IsEmptySnap(snap) {
		if err := s.ApplySnapshot(snap); err != nil {
			return false, err
		}
		mustSync = true
	}
	if err := s.Append(ents); err != nil {
		return false, err
	}
	if !raft.IsEmptyHardState(hs) {
		s.mu.RLock()
		prev := &pb.HardState{Term: new(s.vote.Term), Vote: new(s.vote.NodeID)}
		s.mu.RUnlock()
		mustSync = mustSync || raft.MustSync(hs, prev, len(ents))
		if err := s.SetHardState(hs); err != nil {
			return false, err
		}
	}
	return mustSync || len(ents) > 0, nil
}

// Append adds entries to the log, as MemoryStorage.Append does: entries at
// or below the compaction point are skipped, and the log's entries from
// the first new index on are discarded, except that a prefix the log
// already holds (same index and term) is kept rather than rewritten. The
// first new entry must not leave a gap after LastIndex(), the batch must
// be consecutive and its terms must not go down (ErrInvalidEntries;
// nothing is written then). Written, not yet durable: see Sync and Save.
func (s *Storage) Append(ents []*pb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := ents[0].GetIndex()
	if start == 0 {
		return fmt.Errorf("%w: entry index 0", ErrInvalidEntries)
	}
	for k := 1; k < len(ents); k++ {
		if ents[k].GetIndex() != start+uint64(k) {
			return fmt.Errorf("%w: entry %d follows %d", ErrInvalidEntries, ents[k].GetIndex(), ents[k-1].GetIndex())
		}
		if ents[k].GetTerm() < ents[k-1].GetTerm() {
			return fmt.Errorf("%w: entry %d has term %d below the previous entry's %d", ErrInvalidEntries, ents[k].GetIndex(), ents[k].GetTerm(), ents[k-1].GetTerm())
		}
	}
	first := s.purged.Index + 1
	end := start + uint64(len(ents)) // one past the batch
	if end <= first {
		return nil // all compacted
	}
	if start < first {
		ents, start = ents[first-start:], first
	}
	if start > s.last+1 {
		return fmt.Errorf("%w: entry %d would leave a gap after the last entry %d", ErrInvalidEntries, start, s.last)
	}
	for len(ents) > 0 && start <= s.last && s.termAt(start) == ents[0].GetTerm() {
		ents, start = ents[1:], start+1
	}
	if len(ents) > 0 {
		if prev := s.termAt(start - 1); ents[0].GetTerm() < prev {
			return fmt.Errorf("%w: entry %d has term %d below the previous entry's %d", ErrInvalidEntries, start, ents[0].GetTerm(), prev)
		}
	}
	batch, err := s.encode(ents)
	if err != nil {
		return err
	}
	if start <= s.last {
		if err := s.log.Truncate(start); err != nil {
			return fmt.Errorf("etcdraft: discard entries from %d: %w", start, err)
		}
		s.terms.truncate(start)
		s.last = start - 1
	}
	if len(batch) > 0 {
		if err := s.log.Append(batch...); err != nil {
			return fmt.Errorf("etcdraft: append entries %d-%d: %w", start, end-1, err)
		}
		for _, e := range ents {
			s.terms.add(e.GetIndex(), e.GetTerm())
		}
		s.last = end - 1
	}
	return s.persistCommit()
}

// maxKeptBuffer bounds the payload buffer Append keeps between calls.
const maxKeptBuffer = 4 << 20

// encode turns ents into mmaplog entries whose payloads share one buffer,
// valid until the next encode. Call with mu held.
func (s *Storage) encode(ents []*pb.Entry) ([]mmaplog.Entry, error) {
	n := 0
	for _, e := range ents {
		if len(e.GetData())+1 > mmaplog.MaxPayload {
			return nil, fmt.Errorf("etcdraft: entry %d of %d bytes: %w", e.GetIndex(), len(e.GetData()), mmaplog.ErrTooLarge)
		}
		n += 1 + len(e.GetData())
	}
	if cap(s.enc) < n || cap(s.enc) > maxKeptBuffer {
		s.enc = make([]byte, 0, n)
	}
	buf := s.enc[:0]
	batch := s.ents[:0]
	for _, e := range ents {
		at := len(buf)
		var err error
		if buf, err = putEntry(buf, e); err != nil {
			return nil, err
		}
		batch = append(batch, mmaplog.Entry{ID: mmaplog.LogID{Term: e.GetTerm(), Index: e.GetIndex()}, Payload: buf[at:len(buf):len(buf)]})
	}
	s.enc, s.ents = buf, batch
	return batch, nil
}

// termAt is Term for an index in [purged.Index, last]. Call with mu held.
func (s *Storage) termAt(idx uint64) uint64 {
	if idx == s.purged.Index {
		return s.purged.Term
	}
	return s.terms.at(idx)
}

// SetHardState saves the term, vote and commit index. Term and vote go to
// the log's vote (mmaplog.ErrVoteReversal when they would move back), the
// commit index to its commit record once the entry it names is in the log
// (a HardState saved ahead of its entries, as rafttest does, has its commit
// persisted by the Append or ApplySnapshot that follows). A commit below
// the current one is ErrHardStateReversal. Written, not yet durable.
func (s *Storage) SetHardState(hs *pb.HardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if hs.GetCommit() < s.commit {
		return fmt.Errorf("%w: commit %d below %d", ErrHardStateReversal, hs.GetCommit(), s.commit)
	}
	if v := (mmaplog.Vote{Term: hs.GetTerm(), NodeID: hs.GetVote()}); v != s.vote {
		if err := s.log.SaveVote(v); err != nil {
			return fmt.Errorf("etcdraft: save term %d vote %d: %w", v.Term, v.NodeID, err)
		}
		s.vote = v
	}
	s.commit = hs.GetCommit()
	return s.persistCommit()
}

// persistCommit writes the commit index as far as the log holds its entry.
// Call with mu held.
func (s *Storage) persistCommit() error {
	idx := min(s.commit, s.last)
	if idx < s.purged.Index || idx <= s.stored {
		return nil
	}
	id := mmaplog.LogID{Term: s.termAt(idx), Index: idx}
	if err := s.log.Commit(id); err != nil {
		return fmt.Errorf("etcdraft: save commit %d: %w", idx, err)
	}
	s.stored = idx
	return nil
}

// ApplySnapshot replaces the log with snap: every entry is discarded, the
// compaction point becomes the snapshot's (Index, Term), and the snapshot
// (metadata and data) is saved for Snapshot and InitialState. A snapshot
// not newer than the current one, or than the compaction point, is
// raft.ErrSnapOutOfDate. Index 0 (a bootstrap ConfState, as etcd writes)
// only saves the snapshot and empties the log. Written, not yet durable;
// a crash part-way is finished by the next Open.
func (s *Storage) ApplySnapshot(snap *pb.Snapshot) error {
	snap = cloneSnapshot(snap)
	id := logIDOf(snap)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.snap.GetMetadata().GetIndex(); cur != 0 && cur >= id.Index {
		return raft.ErrSnapOutOfDate
	}
	if s.purged.Index != 0 && id.Index <= s.purged.Index {
		return raft.ErrSnapOutOfDate
	}
	meta, err := encodeMeta(snap, true)
	if err != nil {
		return err
	}
	// The snapshot goes first: a crash after it makes Open finish the
	// reset (see load), so the log never pairs a new compaction point
	// with an old ConfState.
	if err := s.log.SaveUserData(meta); err != nil {
		return fmt.Errorf("etcdraft: save snapshot %d: %w", id.Index, err)
	}
	s.snap = snap
	if err := s.resetLog(s.purged.Index, s.last, id); err != nil {
		return err
	}
	if id.Index > 0 {
		s.purged = id
	}
	s.last = s.purged.Index
	s.terms.reset()
	return s.persistCommit()
}

// resetLog discards every entry of a log whose compaction point is purged
// and last entry last, and moves the compaction point to id when id is
// beyond it.
func (s *Storage) resetLog(purged, last uint64, id mmaplog.LogID) error {
	if last > purged {
		if err := s.log.Truncate(purged + 1); err != nil {
			return fmt.Errorf("etcdraft: discard entries for snapshot %d: %w", id.Index, err)
		}
	}
	if id.Index > purged {
		if err := s.log.Purge(id); err != nil {
			return fmt.Errorf("etcdraft: compact to snapshot %d: %w", id.Index, err)
		}
	}
	return nil
}

// CreateSnapshot records a snapshot of the state machine at entry i, as
// MemoryStorage.CreateSnapshot does: Snapshot returns it from now on, with
// cs (when not nil; else the previous snapshot's ConfState) and data. The
// log is unchanged; Compact(i) may follow. i not above the current
// snapshot is raft.ErrSnapOutOfDate, i beyond LastIndex() is
// raft.ErrUnavailable, i below the compaction point raft.ErrCompacted.
// Data is stored in the log's user data, which mmaplog repeats at the head
// of every segment file: keep it small (or store a reference to the state
// elsewhere, as etcd does with its database file). Written, not yet
// durable.
func (s *Storage) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case i <= s.snap.GetMetadata().GetIndex():
		return nil, raft.ErrSnapOutOfDate
	case i > s.last:
		return nil, fmt.Errorf("etcdraft: snapshot at %d beyond the last entry %d: %w", i, s.last, raft.ErrUnavailable)
	case i < s.purged.Index:
		return nil, raft.ErrCompacted
	}
	if cs == nil {
		cs = s.snap.GetMetadata().GetConfState()
	}
	snap := &pb.Snapshot{
		Data: append([]byte(nil), data...),
		Metadata: &pb.SnapshotMetadata{
			Index:     new(i),
			Term:      new(s.termAt(i)),
			ConfState: proto.Clone(cs).(*pb.ConfState),
		},
	}
	if data == nil {
		snap.Data = nil
	}
	meta, err := encodeMeta(snap, false)
	if err != nil {
		return nil, err
	}
	if err := s.log.SaveUserData(meta); err != nil {
		return nil, fmt.Errorf("etcdraft: save snapshot %d: %w", i, err)
	}
	s.snap = snap
	return proto.Clone(snap).(*pb.Snapshot), nil
}

// Compact discards the entries up to and including compactIndex, which
// becomes the compaction point (FirstIndex() is compactIndex+1). As with
// MemoryStorage, the caller must not compact beyond its applied index, and
// should CreateSnapshot first so that a restart finds a snapshot (and its
// ConfState) covering the discarded entries. compactIndex at or below the
// compaction point is raft.ErrCompacted, beyond LastIndex()
// raft.ErrUnavailable. Segment files are deleted after the next sync.
func (s *Storage) Compact(compactIndex uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case compactIndex <= s.purged.Index:
		return raft.ErrCompacted
	case compactIndex > s.last:
		return fmt.Errorf("etcdraft: compact to %d beyond the last entry %d: %w", compactIndex, s.last, raft.ErrUnavailable)
	}
	id := mmaplog.LogID{Term: s.termAt(compactIndex), Index: compactIndex}
	if err := s.log.Purge(id); err != nil {
		return fmt.Errorf("etcdraft: compact to %d: %w", compactIndex, err)
	}
	s.purged = id
	if compactIndex == s.last {
		s.terms.reset()
	} else {
		s.terms.purge(compactIndex)
	}
	return nil
}

// cloneSnapshot copies snap with its Metadata, Index, Term and ConfState
// set (a nil snap is the empty snapshot). Unlike pb.EnsureSnapshot it
// leaves ConfState.AutoLeave as given, so a snapshot reads back equal.
func cloneSnapshot(snap *pb.Snapshot) *pb.Snapshot {
	if snap == nil {
		return pb.EnsureSnapshot(nil)
	}
	snap = proto.Clone(snap).(*pb.Snapshot)
	if snap.Metadata == nil {
		snap.Metadata = &pb.SnapshotMetadata{}
	}
	m := snap.Metadata
	if m.Index == nil {
		m.Index = new(uint64)
	}
	if m.Term == nil {
		m.Term = new(uint64)
	}
	if m.ConfState == nil {
		m.ConfState = &pb.ConfState{}
	}
	return snap
}
