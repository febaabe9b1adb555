package etcdraft_test

import (
	"errors"
	"math"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlog/raftlog/etcdraft"
	"github.com/raftlog/raftlog/mmaplog"
)

// The tests in this file port the cases of etcd raft's storage_test.go
// (v3.7.0), which are written against MemoryStorage, to Storage: the same
// inputs and expected results, in code of our own. MemoryStorage starts
// them from a log whose first slot is a "dummy" entry standing for the
// compaction point; here the same state is built with ApplySnapshot at
// the dummy's (Index, Term) followed by Append.

// testOptions keeps test segments small: the rafttest scripts open dozens
// of logs.
var testOptions = mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize}

// entsAt returns entries at consecutive indexes from first with the given
// terms (etcd's index(first).terms(...)).
func entsAt(first uint64, terms ...uint64) []*pb.Entry {
	out := make([]*pb.Entry, len(terms))
	for k, term := range terms {
		out[k] = &pb.Entry{Index: new(first + uint64(k)), Term: new(term)}
	}
	return out
}

// openStorage opens a Storage in a new directory, closed at cleanup.
func openStorage(t testing.TB) (*etcdraft.Storage, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := etcdraft.Open(dir, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, dir
}

// storageWith returns a Storage holding ents the way MemoryStorage{ents:
// ents} does: ents[0] is the compaction point, the rest are live.
func storageWith(t testing.TB, ents []*pb.Entry) *etcdraft.Storage {
	t.Helper()
	s, _ := openStorage(t)
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(ents[0].GetIndex()), Term: new(ents[0].GetTerm())}}
	if err := s.ApplySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ents[1:]); err != nil {
		t.Fatal(err)
	}
	return s
}

// contents returns what MemoryStorage keeps in its ents slice: a dummy
// entry for the compaction point, then every live entry.
func contents(t testing.TB, s *etcdraft.Storage) []*pb.Entry {
	t.Helper()
	first, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	term, err := s.Term(first - 1)
	if err != nil {
		t.Fatal(err)
	}
	out := []*pb.Entry{{Index: new(first - 1), Term: new(term)}}
	if last < first {
		return out
	}
	ents, err := s.Entries(first, last+1, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, ents...)
}

func requireEntries(t testing.TB, want, got []*pb.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries %v, want %d %v", len(got), got, len(want), want)
	}
	for k := range want {
		if !proto.Equal(want[k], got[k]) {
			t.Fatalf("entry %d: got %v, want %v", k, got[k], want[k])
		}
	}
}

// sameSnapshot compares snapshots by value, as raft reads them (through
// getters): an unset Index and a zero one are the same.
func sameSnapshot(a, b *pb.Snapshot) bool {
	cs := func(s *pb.Snapshot) *pb.ConfState {
		return pb.EnsureConfState(proto.Clone(s.GetMetadata().GetConfState()).(*pb.ConfState))
	}
	return a.GetMetadata().GetIndex() == b.GetMetadata().GetIndex() &&
		a.GetMetadata().GetTerm() == b.GetMetadata().GetTerm() &&
		string(a.GetData()) == string(b.GetData()) &&
		proto.Equal(cs(a), cs(b))
}

func TestStorageTerm(t *testing.T) {
	ents := entsAt(3, 3, 4, 5)
	tests := []struct {
		i     uint64
		werr  error
		wterm uint64
	}{
		{2, raft.ErrCompacted, 0},
		{3, nil, 3},
		{4, nil, 4},
		{5, nil, 5},
		{6, raft.ErrUnavailable, 0},
	}
	s := storageWith(t, ents)
	for _, tt := range tests {
		term, err := s.Term(tt.i)
		if !errors.Is(err, tt.werr) || (err != nil) != (tt.werr != nil) {
			t.Errorf("Term(%d): error %v, want %v", tt.i, err, tt.werr)
		}
		if term != tt.wterm {
			t.Errorf("Term(%d) = %d, want %d", tt.i, term, tt.wterm)
		}
	}
}

func TestStorageEntries(t *testing.T) {
	ents := entsAt(3, 3, 4, 5, 6)
	size := func(k int) uint64 { return uint64(proto.Size(ents[k])) }
	tests := []struct {
		lo, hi, maxsize uint64
		werr            error
		wentries        []*pb.Entry
	}{
		{2, 6, math.MaxUint64, raft.ErrCompacted, nil},
		{3, 4, math.MaxUint64, raft.ErrCompacted, nil},
		{4, 5, math.MaxUint64, nil, entsAt(4, 4)},
		{4, 6, math.MaxUint64, nil, entsAt(4, 4, 5)},
		{4, 7, math.MaxUint64, nil, entsAt(4, 4, 5, 6)},
		// Even with maxsize 0 the first entry is returned.
		{4, 7, 0, nil, entsAt(4, 4)},
		// Limited to two entries.
		{4, 7, size(1) + size(2), nil, entsAt(4, 4, 5)},
		{4, 7, size(1) + size(2) + size(3)/2, nil, entsAt(4, 4, 5)},
		{4, 7, size(1) + size(2) + size(3) - 1, nil, entsAt(4, 4, 5)},
		// All.
		{4, 7, size(1) + size(2) + size(3), nil, entsAt(4, 4, 5, 6)},
		// Beyond MemoryStorage's table: past the end is ErrUnavailable
		// (MemoryStorage panics), as storage.go's contract says.
		{4, 8, math.MaxUint64, raft.ErrUnavailable, nil},
	}
	s := storageWith(t, ents)
	for _, tt := range tests {
		got, err := s.Entries(tt.lo, tt.hi, tt.maxsize)
		if !errors.Is(err, tt.werr) || (err != nil) != (tt.werr != nil) {
			t.Errorf("Entries(%d, %d, %d): error %v, want %v", tt.lo, tt.hi, tt.maxsize, err, tt.werr)
			continue
		}
		requireEntries(t, tt.wentries, got)
	}
}

func TestStorageLastIndex(t *testing.T) {
	s := storageWith(t, entsAt(3, 3, 4, 5))
	if last, err := s.LastIndex(); err != nil || last != 5 {
		t.Fatalf("LastIndex = %d, %v; want 5", last, err)
	}
	if err := s.Append(entsAt(6, 5)); err != nil {
		t.Fatal(err)
	}
	if last, err := s.LastIndex(); err != nil || last != 6 {
		t.Fatalf("LastIndex = %d, %v; want 6", last, err)
	}
}

func TestStorageFirstIndex(t *testing.T) {
	s := storageWith(t, entsAt(3, 3, 4, 5))
	if first, err := s.FirstIndex(); err != nil || first != 4 {
		t.Fatalf("FirstIndex = %d, %v; want 4", first, err)
	}
	if err := s.Compact(4); err != nil {
		t.Fatal(err)
	}
	if first, err := s.FirstIndex(); err != nil || first != 5 {
		t.Fatalf("FirstIndex = %d, %v; want 5", first, err)
	}
}

func TestStorageCompact(t *testing.T) {
	tests := []struct {
		i      uint64
		werr   error
		windex uint64
		wterm  uint64
		wlen   int
	}{
		{2, raft.ErrCompacted, 3, 3, 3},
		{3, raft.ErrCompacted, 3, 3, 3},
		{4, nil, 4, 4, 2},
		{5, nil, 5, 5, 1},
	}
	for _, tt := range tests {
		s := storageWith(t, entsAt(3, 3, 4, 5))
		if err := s.Compact(tt.i); !errors.Is(err, tt.werr) || (err != nil) != (tt.werr != nil) {
			t.Errorf("Compact(%d) = %v, want %v", tt.i, err, tt.werr)
		}
		got := contents(t, s)
		if got[0].GetIndex() != tt.windex || got[0].GetTerm() != tt.wterm || len(got) != tt.wlen {
			t.Errorf("after Compact(%d): compaction point %d/%d with %d slots, want %d/%d with %d",
				tt.i, got[0].GetIndex(), got[0].GetTerm(), len(got), tt.windex, tt.wterm, tt.wlen)
		}
	}
}

func TestStorageCreateSnapshot(t *testing.T) {
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	data := []byte("data")
	tests := []struct {
		i     uint64
		werr  error
		wsnap *pb.Snapshot
	}{
		{4, nil, &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{Index: new(uint64(4)), Term: new(uint64(4)), ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}}},
		{5, nil, &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{Index: new(uint64(5)), Term: new(uint64(5)), ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}}},
	}
	for _, tt := range tests {
		s := storageWith(t, entsAt(3, 3, 4, 5))
		snap, err := s.CreateSnapshot(tt.i, cs, data)
		if !errors.Is(err, tt.werr) || (err != nil) != (tt.werr != nil) {
			t.Fatalf("CreateSnapshot(%d): %v, want %v", tt.i, err, tt.werr)
		}
		if !proto.Equal(tt.wsnap, snap) {
			t.Errorf("CreateSnapshot(%d) = %v, want %v", tt.i, snap, tt.wsnap)
		}
		if got, _ := s.Snapshot(); !proto.Equal(tt.wsnap, got) {
			t.Errorf("Snapshot after CreateSnapshot(%d) = %v, want %v", tt.i, got, tt.wsnap)
		}
	}
}

func TestStorageAppend(t *testing.T) {
	tests := []struct {
		entries  []*pb.Entry
		werr     error
		wentries []*pb.Entry
	}{
		{entsAt(1, 1, 2), nil, entsAt(3, 3, 4, 5)},
		{entsAt(3, 3, 4, 5), nil, entsAt(3, 3, 4, 5)},
		{entsAt(3, 3, 6, 6), nil, entsAt(3, 3, 6, 6)},
		{entsAt(3, 3, 4, 5, 5), nil, entsAt(3, 3, 4, 5, 5)},
		// Truncate the incoming entries, truncate the existing ones and append.
		{entsAt(2, 3, 3, 5), nil, entsAt(3, 3, 5)},
		// Truncate the existing entries and append.
		{entsAt(4, 5), nil, entsAt(3, 3, 5)},
		// Direct append.
		{entsAt(6, 5), nil, entsAt(3, 3, 4, 5, 5)},
	}
	for _, tt := range tests {
		s := storageWith(t, entsAt(3, 3, 4, 5))
		if err := s.Append(tt.entries); !errors.Is(err, tt.werr) || (err != nil) != (tt.werr != nil) {
			t.Errorf("Append(%v) = %v, want %v", tt.entries, err, tt.werr)
		}
		requireEntries(t, tt.wentries, contents(t, s))
	}
}

func TestStorageApplySnapshot(t *testing.T) {
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	data := []byte("data")
	tests := []struct {
		name      string
		snapshots []*pb.Snapshot
		werr      error
	}{
		{"normal case", []*pb.Snapshot{
			{Data: data, Metadata: &pb.SnapshotMetadata{Index: new(uint64(4)), Term: new(uint64(4)), ConfState: cs}},
		}, nil},
		{"snapshot out of date", []*pb.Snapshot{
			{Data: data, Metadata: &pb.SnapshotMetadata{Index: new(uint64(4)), Term: new(uint64(4)), ConfState: cs}},
			{Data: data, Metadata: &pb.SnapshotMetadata{Index: new(uint64(3)), Term: new(uint64(3)), ConfState: cs}},
		}, raft.ErrSnapOutOfDate},
		{"bootstrap with confState", []*pb.Snapshot{
			{Data: data, Metadata: &pb.SnapshotMetadata{ConfState: cs}},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openStorage(t)
			var err error
			for _, sn := range tt.snapshots {
				err = s.ApplySnapshot(sn)
			}
			if !errors.Is(err, tt.werr) || (err != nil) != (tt.werr != nil) {
				t.Fatalf("ApplySnapshot: %v, want %v", err, tt.werr)
			}
			// Beyond MemoryStorage's table: the snapshot that applied is
			// what Snapshot and InitialState serve.
			good := tt.snapshots[0]
			if got, _ := s.Snapshot(); !sameSnapshot(got, good) {
				t.Errorf("Snapshot = %v, want %v", got, good)
			}
			if _, gcs, _ := s.InitialState(); !proto.Equal(pb.EnsureConfState(proto.Clone(cs).(*pb.ConfState)), gcs) {
				t.Errorf("InitialState ConfState = %v, want %v", gcs, cs)
			}
			if first, _ := s.FirstIndex(); first != good.GetMetadata().GetIndex()+1 {
				t.Errorf("FirstIndex = %d, want %d", first, good.GetMetadata().GetIndex()+1)
			}
		})
	}
}
