package etcdraft_test

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// TestConcurrentReads reads while one writer appends, overwrites suffixes
// with a higher term and compacts. Every entry's Data encodes its own
// index and term, so a read can be checked for a torn answer: each entry
// matches its Data, terms never go down along a result, and the only
// errors are the contract's ErrCompacted and ErrUnavailable.
func TestConcurrentReads(t *testing.T) {
	s, _ := openStorage(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	check := func(e *pb.Entry) bool {
		return string(e.GetData()) == string(entryData(e.GetIndex(), e.GetTerm()))
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				first, _ := s.FirstIndex()
				last, _ := s.LastIndex()
				if last < first {
					continue
				}
				ents, err := s.Entries(first, last+1, math.MaxUint64)
				if errors.Is(err, raft.ErrCompacted) || errors.Is(err, raft.ErrUnavailable) {
					continue // a writer moved the bounds since
				}
				if err != nil {
					t.Error(err)
					return
				}
				for k, e := range ents {
					if !check(e) || (k > 0 && e.GetTerm() < ents[k-1].GetTerm()) {
						t.Errorf("entry %v (after %v) is torn", e, ents[max(k-1, 0)])
						return
					}
				}
				if _, err := s.Term(last); err != nil && !errors.Is(err, raft.ErrCompacted) && !errors.Is(err, raft.ErrUnavailable) {
					t.Error(err)
					return
				}
				if _, _, err := s.InitialState(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	term := uint64(1)
	for i := uint64(1); i <= 2000; i += 10 {
		from := i
		if i > 50 && i%70 == 1 {
			from = i - 5 // a new leader overwrites our last entries
			term++
		}
		var ents []*pb.Entry
		for idx := from; idx < i+10; idx++ {
			ents = append(ents, &pb.Entry{Index: new(idx), Term: new(term), Data: entryData(idx, term)})
		}
		if err := s.Append(ents); err != nil {
			t.Fatal(err)
		}
		if i%200 == 1 && i > 100 {
			if err := s.Compact(i - 100); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
}

func entryData(idx, term uint64) []byte {
	return []byte{byte(idx), byte(idx >> 8), byte(term)}
}
