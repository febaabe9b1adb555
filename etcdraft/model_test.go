package etcdraft_test

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlog/raftlog/etcdraft"
)

var modelSeed = flag.Uint64("etcdraft.seed", 0, "seed for TestModel (0: time-based)")

// TestModel drives a Storage and a raft.MemoryStorage with the same random
// Raft-shaped operations (appends that overwrite a suffix, compactions,
// snapshots applied and created, hard states) and compares every read
// after each step. Every few steps the Storage is closed and reopened, and
// must come back with the same contents.
func TestModel(t *testing.T) {
	seed := *modelSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -etcdraft.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))

	dir := t.TempDir()
	s, err := etcdraft.Open(dir, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	mem := raft.NewMemoryStorage()
	term := uint64(1)
	var commit uint64
	hs := &pb.HardState{}

	for step := range 600 {
		first, _ := mem.FirstIndex()
		last, _ := mem.LastIndex()
		var what string
		switch op := rng.IntN(20); {
		case op < 12: // append, maybe replacing a suffix above the commit index
			from := last + 1
			if rng.IntN(4) == 0 {
				term++
			}
			var ents []*pb.Entry
			if last > commit && rng.IntN(3) == 0 {
				// A new leader's entries replace ours above the commit
				// index. Its batch may start with entries we hold (same
				// index and term, hence the same entries).
				from = commit + 1 + rng.Uint64N(last-commit)
				if rng.IntN(2) == 0 {
					held, _ := mem.Entries(from, min(last, from+2)+1, math.MaxUint64)
					ents = append(ents, held...)
				}
				term++
			}
			next := from + uint64(len(ents))
			for k := range 1 + rng.IntN(8) {
				ents = append(ents, randomEntry(rng, next+uint64(k), term))
			}
			what = fmt.Sprintf("append %d-%d, new from %d term %d", from, from+uint64(len(ents))-1, next, term)
			mustBoth(t, what, s.Append(ents), mem.Append(ents))
		case op < 14 && commit >= first: // compact up to the commit index
			idx := first + rng.Uint64N(commit-first+1)
			what = fmt.Sprintf("compact %d", idx)
			mustBoth(t, what, s.Compact(idx), mem.Compact(idx))
		case op < 15 && commit >= first: // snapshot at the commit index
			cs := &pb.ConfState{Voters: []uint64{1, 2, uint64(3 + step)}}
			data := []byte(fmt.Sprintf("state@%d", commit))
			what = fmt.Sprintf("create snapshot %d", commit)
			gs, err1 := s.CreateSnapshot(commit, cs, data)
			ws, err2 := mem.CreateSnapshot(commit, cs, data)
			mustBoth(t, what, err1, err2)
			if err1 == nil && !sameSnapshot(gs, ws) {
				t.Fatalf("step %d %s: got %v, want %v", step, what, gs, ws)
			}
		case op < 16: // a snapshot from a leader, beyond our log
			term++
			idx := last + 1 + rng.Uint64N(20)
			snap := &pb.Snapshot{Data: []byte("leader"), Metadata: &pb.SnapshotMetadata{
				Index: new(idx), Term: new(term), ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}}}
			what = fmt.Sprintf("apply snapshot %d term %d", idx, term)
			mustBoth(t, what, s.ApplySnapshot(snap), mem.ApplySnapshot(proto.Clone(snap).(*pb.Snapshot)))
			commit = idx
			hs = &pb.HardState{Term: new(term), Vote: new(hs.GetVote()), Commit: new(commit)}
			mustBoth(t, what, s.SetHardState(hs), mem.SetHardState(hs))
		default: // commit some of the log; sometimes a new term and vote
			if last > commit {
				commit += 1 + rng.Uint64N(last-commit)
			}
			vote := hs.GetVote()
			if rng.IntN(3) == 0 {
				term++
				vote = uint64(rng.IntN(4))
			}
			hs = &pb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
			what = fmt.Sprintf("hard state %v", hs)
			mustBoth(t, what, s.SetHardState(hs), mem.SetHardState(hs))
		}
		compare(t, fmt.Sprintf("step %d %s", step, what), s, mem)
		if step%50 == 49 {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err = etcdraft.Open(dir, testOptions); err != nil {
				t.Fatal(err)
			}
			compare(t, fmt.Sprintf("step %d reopen", step), s, mem)
		}
	}
}

func randomEntry(rng *rand.Rand, idx, term uint64) *pb.Entry {
	e := &pb.Entry{Index: new(idx), Term: new(term)}
	if rng.IntN(2) == 0 {
		e.Type = pb.EntryType(rng.IntN(3)).Enum()
	}
	if n := rng.IntN(40) - 5; n >= 0 {
		e.Data = make([]byte, n)
		for k := range e.Data {
			e.Data[k] = byte(rng.Uint32())
		}
	}
	return e
}

func mustBoth(t *testing.T, what string, got, want error) {
	t.Helper()
	if (got == nil) != (want == nil) || (want != nil && !errors.Is(got, want)) {
		t.Fatalf("%s: got error %v, MemoryStorage %v", what, got, want)
	}
}

// compare checks that every read of s answers as mem does.
func compare(t *testing.T, what string, s *etcdraft.Storage, mem *raft.MemoryStorage) {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	wfirst, _ := mem.FirstIndex()
	wlast, _ := mem.LastIndex()
	if first != wfirst || last != wlast {
		t.Fatalf("%s: first/last %d/%d, MemoryStorage %d/%d", what, first, last, wfirst, wlast)
	}
	for i := first - 1; i <= last+1; i++ {
		got, err1 := s.Term(i)
		want, err2 := mem.Term(i)
		if got != want || !errors.Is(err1, err2) {
			t.Fatalf("%s: Term(%d) = %d, %v; MemoryStorage %d, %v", what, i, got, err1, want, err2)
		}
	}
	if last >= first {
		for _, max := range []uint64{0, 30, 100, math.MaxUint64} {
			got, err := s.Entries(first, last+1, max)
			if err != nil {
				t.Fatalf("%s: Entries: %v", what, err)
			}
			want, _ := mem.Entries(first, last+1, max)
			if len(got) != len(want) {
				t.Fatalf("%s: Entries(max %d): %d entries, MemoryStorage %d", what, max, len(got), len(want))
			}
			for k := range want {
				if !proto.Equal(got[k], want[k]) {
					t.Fatalf("%s: entry %d = %v, MemoryStorage %v", what, first+uint64(k), got[k], want[k])
				}
			}
		}
	}
	gsnap, _ := s.Snapshot()
	wsnap, _ := mem.Snapshot()
	if !sameSnapshot(gsnap, wsnap) {
		t.Fatalf("%s: Snapshot = %v, MemoryStorage %v", what, gsnap, wsnap)
	}
	ghs, gcs, _ := s.InitialState()
	whs, wcs, _ := mem.InitialState()
	if ghs.GetTerm() != whs.GetTerm() || ghs.GetVote() != whs.GetVote() || ghs.GetCommit() != whs.GetCommit() {
		t.Fatalf("%s: HardState %v, MemoryStorage %v", what, ghs, whs)
	}
	if !proto.Equal(gcs, pb.EnsureConfState(proto.Clone(wcs).(*pb.ConfState))) {
		t.Fatalf("%s: ConfState %v, MemoryStorage %v", what, gcs, wcs)
	}
}
