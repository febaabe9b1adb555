package etcdraft

import (
	"fmt"
	"sync"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlog/raftlog/mmaplog"
)

// Storage is a durable raft.Storage for go.etcd.io/raft/v3 on one
// mmaplog.Log. It also implements the write side a Ready loop needs (Save,
// StorageAppend, or the MemoryStorage-style Append, SetHardState,
// ApplySnapshot, CreateSnapshot and Compact), and so rafttest.Storage.
type Storage struct {
	log *mmaplog.Log

	// amu serializes StorageAppend calls, so that their writes and their
	// Flush calls (hence their callbacks) keep one order.
	amu sync.Mutex

	// mu guards the fields below: readers share it, writers hold it
	// exclusively while they change the log and these mirrors of it.
	mu     sync.RWMutex
	purged mmaplog.LogID // compaction point: Term(FirstIndex()-1) and FirstIndex()-1
	last   uint64        // LastIndex(); == purged.Index when no entry is live
	terms  termRuns      // terms of the live entries (purged.Index, last]
	vote   mmaplog.Vote  // HardState Term and Vote
	commit uint64        // HardState Commit as last set (may run ahead of last; see persistCommit)
	stored uint64        // the commit index in the log's commit record
	snap   *pb.Snapshot  // what Snapshot returns; never nil

	enc  []byte          // Append's payload buffer
	ents []mmaplog.Entry // Append's batch buffer
}

var _ raft.Storage = (*Storage)(nil)

// Open opens or creates the Storage in dir (an mmaplog directory, created
// if missing). A snapshot restore that a crash interrupted is finished
// here, durably, before Open returns. Close the Storage when done.
func Open(dir string, opts mmaplog.Options) (*Storage, error) {
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	s := &Storage{log: l}
	if err := s.load(); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("etcdraft: open %s: %w", dir, err)
	}
	return s, nil
}

// load fills the mirrors from the log, finishing an interrupted restore.
func (s *Storage) load() error {
	st := s.log.State()
	snap, restore, err := decodeMeta(st.UserData)
	if err != nil {
		return err
	}
	s.snap = snap
	if restore && snap.GetMetadata().GetIndex() > st.Purged.Index {
		// ApplySnapshot wrote the snapshot and then crashed before the
		// log was emptied at its point. Do it now.
		if err := s.resetLog(st.Purged.Index, st.Last.Index, logIDOf(snap)); err != nil {
			return err
		}
		if err := s.log.Sync(); err != nil {
			return err
		}
		st = s.log.State()
	}
	s.purged, s.last, s.vote = st.Purged, st.Last.Index, st.Vote
	s.commit, s.stored = st.Committed.Index, st.Committed.Index
	return s.loadTerms(st)
}

// loadTerms builds the term runs of the live entries with a binary search
// per term: O(terms * log(entries)) reads, one when the log spans one term.
func (s *Storage) loadTerms(st mmaplog.State) error {
	termAt := func(idx uint64) (uint64, error) {
		e, err := s.log.Get(idx)
		if err != nil {
			return 0, fmt.Errorf("etcdraft: term of entry %d: %w", idx, err)
		}
		return e.ID.Term, nil
	}
	for idx := st.Purged.Index + 1; idx <= st.Last.Index; {
		term, err := termAt(idx)
		if err != nil {
			return err
		}
		s.terms.add(idx, term)
		// The largest index in [idx, last] with this term.
		lo, hi := idx, st.Last.Index
		if st.Last.Term == term {
			lo = hi
		}
		for lo < hi {
			mid := lo + (hi-lo+1)/2
			t, err := termAt(mid)
			if err != nil {
				return err
			}
			if t == term {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		idx = lo + 1
	}
	return nil
}

// Close flushes and closes the log. Methods called afterwards return
// errors wrapping mmaplog.ErrClosed. A second Close is a no-op.
func (s *Storage) Close() error { return s.log.Close() }

// Sync makes every write that returned nil durable. It must not be called
// from a StorageAppend callback.
func (s *Storage) Sync() error { return s.log.Sync() }

// Log returns the underlying log, for Stats and Dump. Writing to it
// directly breaks the Storage.
func (s *Storage) Log() *mmaplog.Log { return s.log }

// InitialState returns the saved HardState and the ConfState of the
// snapshot. The HardState is empty when no vote or commit was ever saved;
// its Commit is kept within [FirstIndex()-1, LastIndex()], the range raft
// accepts on start, since entries before FirstIndex are applied and hence
// committed, and a commit index is only persisted once its entry is. The
// ConfState is never nil. Both are copies.
func (s *Storage) InitialState() (*pb.HardState, *pb.ConfState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cs := proto.Clone(s.snap.GetMetadata().GetConfState()).(*pb.ConfState)
	cs = pb.EnsureConfState(cs)
	if s.vote == (mmaplog.Vote{}) && s.commit == 0 {
		return &pb.HardState{}, cs, nil
	}
	commit := min(max(s.commit, s.purged.Index), s.last)
	return &pb.HardState{Term: new(s.vote.Term), Vote: new(s.vote.NodeID), Commit: new(commit)}, cs, nil
}

// FirstIndex returns the index of the first entry after the compaction
// point (LastIndex()+1 when no entry is live).
func (s *Storage) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.purged.Index + 1, nil
}

// LastIndex returns the index of the last entry, or the compaction point
// when no entry is live.
func (s *Storage) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.last, nil
}

// Term returns the term of entry i in [FirstIndex()-1, LastIndex()]; the
// term at FirstIndex()-1 is the compaction point's. Below that range it
// returns raft.ErrCompacted, above it raft.ErrUnavailable. It reads memory
// only.
func (s *Storage) Term(i uint64) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case i < s.purged.Index:
		return 0, raft.ErrCompacted
	case i == s.purged.Index:
		return s.purged.Term, nil
	case i > s.last:
		return 0, raft.ErrUnavailable
	}
	return s.terms.at(i), nil
}

// boxBatch is how many entries Entries decodes into one allocation.
const boxBatch = 64

// Entries returns the entries in [lo, hi), as many as fit in maxSize bytes
// of their protobuf encoding but at least one. lo below FirstIndex() is
// raft.ErrCompacted; hi beyond LastIndex()+1, or an empty log, is
// raft.ErrUnavailable. The slice and the entries are freshly allocated:
// the caller may append to the slice; nobody may change the entries.
func (s *Storage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case lo <= s.purged.Index:
		return nil, raft.ErrCompacted
	case hi > s.last+1 || s.last == s.purged.Index:
		return nil, raft.ErrUnavailable
	case lo > hi:
		return nil, fmt.Errorf("etcdraft: entries [%d, %d): inverted range", lo, hi)
	case lo == hi:
		return nil, nil
	}
	out := make([]*pb.Entry, 0, min(hi-lo, boxBatch))
	var boxes []entryBox
	var size uint64
	full := false
	for e, err := range s.log.Entries(lo, hi) {
		if err != nil {
			return nil, fmt.Errorf("etcdraft: entries [%d, %d): %w", lo, hi, err)
		}
		if want := lo + uint64(len(out)); e.ID.Index != want {
			return nil, fmt.Errorf("etcdraft: entries [%d, %d): got entry %d, want %d: %w", lo, hi, e.ID.Index, want, errCorrupt)
		}
		if len(boxes) == 0 {
			// Grow the batches (1, 2, 4, ... boxBatch): a read cut short
			// by maxSize wastes at most as many boxes as it used.
			boxes = make([]entryBox, min(hi-e.ID.Index, max(1, min(uint64(len(out)), boxBatch))))
		}
		b := &boxes[0]
		boxes = boxes[1:]
		if err := decodeEntry(b, e); err != nil {
			return nil, err
		}
		size += entrySize(&b.e)
		if size > maxSize && len(out) > 0 {
			full = true
			break
		}
		out = append(out, &b.e)
	}
	if !full && uint64(len(out)) != hi-lo {
		// The log ended early: only a writer going around this Storage,
		// or damage, can do that.
		return nil, fmt.Errorf("etcdraft: entries [%d, %d): the log yielded %d: %w", lo, hi, len(out), raft.ErrUnavailable)
	}
	return out, nil
}

// Snapshot returns a copy of the most recent snapshot, the one given to
// ApplySnapshot or made by CreateSnapshot, whichever came last. Before any,
// it is an empty snapshot (Index 0), with a non-nil Metadata and ConfState.
func (s *Storage) Snapshot() (*pb.Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return proto.Clone(s.snap).(*pb.Snapshot), nil
}

// logIDOf is the LogID of a snapshot's last entry.
func logIDOf(snap *pb.Snapshot) mmaplog.LogID {
	m := snap.GetMetadata()
	return mmaplog.LogID{Term: m.GetTerm(), Index: m.GetIndex()}
}
