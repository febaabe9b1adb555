package etcdraft

import (
	"errors"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlog/raftlog/mmaplog"
)

var smallSegments = mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize}

// TestOpenFinishesRestore leaves a log as a crash part-way through
// ApplySnapshot would (the snapshot written, the log not yet emptied, or
// emptied but not yet moved to the snapshot's point) and checks that Open
// completes the restore.
func TestOpenFinishesRestore(t *testing.T) {
	snap := &pb.Snapshot{Data: []byte("leader state"), Metadata: &pb.SnapshotMetadata{
		Index: new(uint64(20)), Term: new(uint64(3)), ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}}
	for _, crash := range []string{"after the snapshot", "after the truncation"} {
		t.Run(crash, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, smallSegments)
			if err != nil {
				t.Fatal(err)
			}
			ents := make([]*pb.Entry, 10)
			for k := range ents {
				ents[k] = &pb.Entry{Index: new(uint64(k + 1)), Term: new(uint64(1)), Data: []byte("old")}
			}
			hs := &pb.HardState{Term: new(uint64(2)), Vote: new(uint64(1)), Commit: new(uint64(5))}
			if err := s.Save(hs, ents, nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			// The first steps of ApplySnapshot, done by hand.
			l, err := mmaplog.Open(dir, smallSegments)
			if err != nil {
				t.Fatal(err)
			}
			meta, err := encodeMeta(snap, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.SaveUserData(meta); err != nil {
				t.Fatal(err)
			}
			if crash == "after the truncation" {
				if err := l.Truncate(1); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}

			s, err = Open(dir, smallSegments)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			first, _ := s.FirstIndex()
			last, _ := s.LastIndex()
			term, err := s.Term(20)
			if first != 21 || last != 20 || term != 3 || err != nil {
				t.Fatalf("after Open: first %d last %d Term(20) %d %v; want 21 20 3", first, last, term, err)
			}
			if _, err := s.Entries(5, 6, 100); !errors.Is(err, raft.ErrCompacted) {
				t.Errorf("Entries(5) = %v, want ErrCompacted", err)
			}
			gotHS, cs, _ := s.InitialState()
			if !proto.Equal(cs, pb.EnsureConfState(proto.Clone(snap.Metadata.ConfState).(*pb.ConfState))) {
				t.Errorf("ConfState %v, want %v", cs, snap.Metadata.ConfState)
			}
			// The commit index was 5; the restore moved the log past it,
			// and raft refuses a commit below the compaction point.
			if gotHS.GetCommit() != 20 || gotHS.GetTerm() != 2 || gotHS.GetVote() != 1 {
				t.Errorf("HardState %v, want term 2 vote 1 commit 20", gotHS)
			}
			// The restore is durable and not redone: entries appended
			// after it survive the next Open.
			if err := s.Save(nil, []*pb.Entry{{Index: new(uint64(21)), Term: new(uint64(3))}}, nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err = Open(dir, smallSegments); err != nil {
				t.Fatal(err)
			}
			if last, _ := s.LastIndex(); last != 21 {
				t.Errorf("after a second Open: LastIndex %d, want 21", last)
			}
		})
	}
}

func TestOpenForeignUserData(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, smallSegments)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SaveUserData([]byte("hashiraft stable keys")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, smallSegments); !errors.Is(err, ErrForeignData) {
		t.Fatalf("Open: %v, want ErrForeignData", err)
	}
	// The directory lock was released: the log opens again.
	l, err = mmaplog.Open(dir, smallSegments)
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
}
