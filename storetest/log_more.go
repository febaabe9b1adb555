package storetest

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

var monotonicCases = []testCase[*lc]{
	{"monotonic-rejects-gap", "a MonotonicLogStore fails StoreLogs that would leave a gap, and changes nothing",
		script(monotonicOnly, put(1, 10, 1), rejects(mkLogs(12, 13, 1), "[12, 13] after 10"), holds(span{1, 10, 1}), put(11, 11, 1))},
	{"monotonic-rejects-gap-in-batch", "a MonotonicLogStore fails a batch with a gap inside, and changes nothing",
		script(monotonicOnly, put(1, 10, 1), rejects([]*raft.Log{mkLog(11, 1), mkLog(13, 1)}, "[11, 13]"), holds(span{1, 10, 1}))},
	{"monotonic-rejects-overwrite", "a MonotonicLogStore fails StoreLogs at or below LastIndex without a DeleteRange, and changes nothing",
		script(monotonicOnly, put(1, 10, 1), rejects(mkLogs(5, 6, 2), "[5, 6] over [1, 10]"), holds(span{1, 10, 1}))},
}

var concurrencyCases = []testCase[*lc]{
	{"concurrent-readers", "GetLog of any index in [FirstIndex, LastIndex] during appends and prefix deletes returns the entry or, once purged, ErrLogNotFound", func(c *lc) {
		s := c.newStore()
		c.store(s, mkLogs(1, 50, 1)...)
		readers(c, s, 4, func(rng *rand.Rand) {
			first, err1 := s.FirstIndex()
			last, err2 := s.LastIndex()
			if err1 != nil || err2 != nil {
				c.Errorf("FirstIndex, LastIndex: %v, %v", err1, err2)
				return
			}
			if first == 0 || last < first {
				c.Errorf("FirstIndex, LastIndex = %d, %d while the store holds at least 50 entries", first, last)
				return
			}
			idx := first + rng.Uint64N(last-first+1)
			var l raft.Log
			err := s.GetLog(idx, &l)
			switch err {
			case nil:
				if d := diffLog(&l, mkLog(idx, 1)); d != "" {
					c.Errorf("GetLog(%d) during writes: %s", idx, d)
				}
			case raft.ErrLogNotFound: //nolint:errorlint // raft compares with ==
				if f, _ := s.FirstIndex(); f <= idx {
					c.Errorf("GetLog(%d) = ErrLogNotFound, yet FirstIndex is still %d", idx, f)
				}
			default:
				c.Errorf("GetLog(%d) during writes: %v", idx, err)
			}
		}, func() {
			for b := range uint64(60) {
				next := 51 + b*8
				c.store(s, mkLogs(next, next+7, 1)...)
				if b%10 == 9 {
					c.deleteRange(s, 0, next+7-50)
				}
			}
		})
	}},
	{"concurrent-last-index-readable", "during appends, the entry at the LastIndex a reader just saw is readable (raft replicates up to it)", func(c *lc) {
		s := c.newStore()
		c.store(s, mkLog(1, 1))
		readers(c, s, 4, func(*rand.Rand) {
			last, err := s.LastIndex()
			if err != nil {
				c.Errorf("LastIndex: %v", err)
				return
			}
			var l raft.Log
			if err := s.GetLog(last, &l); err != nil {
				c.Errorf("GetLog(LastIndex %d): %v", last, err)
			} else if d := diffLog(&l, mkLog(last, 1)); d != "" {
				c.Errorf("GetLog(LastIndex %d): %s", last, d)
			}
			if first, err := s.FirstIndex(); err != nil || first != 1 {
				c.Errorf("FirstIndex = %d, %v during appends, want 1", first, err)
			}
		}, func() {
			for b := range uint64(80) {
				c.store(s, mkLogs(2+b*4, 5+b*4, 1)...)
			}
		})
	}},
}

// readers runs n goroutines calling read in a loop while write runs on the
// case's goroutine, and fails the case if no read happened.
func readers(c *lc, s raft.LogStore, n int, read func(rng *rand.Rand), write func()) {
	c.Helper()
	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	for r := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for !stop.Load() {
				read(rng)
				reads.Add(1)
			}
		}()
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	// Write only once every reader is reading, so that even a fast store's
	// writes overlap reads.
	for reads.Load() < int64(n) {
		runtime.Gosched()
	}
	write()
}

// randomOps compares the store with a model over seeded random appends
// (anywhere when the store is empty), prefix, suffix and whole deletes, and
// reopens for a persistent store. Terms never go down, as in raft.
func randomOps(c *lc) {
	const seed = 20260805
	rng := rand.New(rand.NewPCG(seed, 0))
	s := c.newStore()
	var model []*raft.Log // contiguous
	term := uint64(1)
	for op := range 300 {
		var what string
		switch r := rng.IntN(20); {
		case r < 11:
			next := uint64(1)
			if len(model) > 0 {
				next = model[len(model)-1].Index + 1
			} else if rng.IntN(2) == 0 {
				next = 1 + rng.Uint64N(2000)
			}
			if rng.IntN(6) == 0 {
				term++
			}
			b := mkLogs(next, next+uint64(rng.IntN(16)), term)
			c.store(s, b...)
			model = append(model, b...)
			what = "append"
		case r < 14 && len(model) > 0:
			k := rng.IntN(len(model))
			min := model[0].Index
			if rng.IntN(2) == 0 {
				min = 0
			}
			c.deleteRange(s, min, model[k].Index)
			model = model[k+1:]
			what = "delete prefix"
		case r < 17 && len(model) > 0:
			k := rng.IntN(len(model))
			max := model[len(model)-1].Index
			if rng.IntN(2) == 0 {
				max += 1 + rng.Uint64N(1000)
			}
			c.deleteRange(s, model[k].Index, max)
			model = model[:k]
			term++ // a new leader's entries replace the suffix
			what = "delete suffix"
		case r < 18 && len(model) > 0:
			c.deleteRange(s, rng.Uint64N(model[0].Index+1), model[len(model)-1].Index+rng.Uint64N(3))
			model = nil
			what = "delete all"
		case c.f.Persistent:
			s = c.reopen(s)
			what = "reopen"
		default:
			continue
		}
		first, last := c.indexes(s)
		wantFirst, wantLast := uint64(0), uint64(0)
		if len(model) > 0 {
			wantFirst, wantLast = model[0].Index, model[len(model)-1].Index
		}
		if first != wantFirst || last != wantLast {
			c.Fatalf("seed %d, op %d (%s): FirstIndex, LastIndex = %d, %d; want %d, %d", seed, op, what, first, last, wantFirst, wantLast)
		}
		if len(model) > 0 {
			c.checkLog(s, model[rng.IntN(len(model))])
			c.checkMissing(s, wantLast+1)
		}
	}
	c.checkHolds(s, model)
}

var reopenCases = []testCase[*lc]{
	{"reopen-empty", "a new store closed and reopened is empty",
		script(reopened, holds())},
	{"reopen-entries", "entries of several batches and terms survive Close and Open",
		script(put(1, 40, 1), put(41, 100, 2), reopened, holds(span{1, 40, 1}, span{41, 100, 2}))},
	{"reopen-first-above-one", "a log that started at 1000 still starts at 1000 after reopening",
		script(put(1000, 1099, 1), reopened, holds(span{1000, 1099, 1}))},
	{"reopen-after-prefix-delete", "FirstIndex after a prefix delete survives reopening",
		script(put(1, 100, 1), del(1, 40), reopened, holds(span{41, 100, 1}))},
	{"reopen-after-suffix-delete", "a suffix delete and the entries that replaced it survive reopening",
		script(put(1, 100, 1), del(60, 100), put(60, 65, 2), reopened, holds(span{1, 59, 1}, span{60, 65, 2}))},
	{"reopen-after-delete-all", "an emptied store is empty after reopening and then takes a batch anywhere",
		script(put(1, 100, 1), del(1, 50), del(51, 100), reopened, holds(), put(20, 30, 2), holds(span{20, 30, 2}))},
	{"reopen-after-store-at-1", "an emptied store that took a batch at index 1 holds it after reopening",
		script(put(1000, 1109, 1), del(1000, 1109), put(1, 5, 1), reopened, holds(span{1, 5, 1}))},
	{"reopen-then-append", "after reopening, the next batch follows LastIndex, and all survives another reopen",
		script(put(1, 10, 1), reopened, put(11, 20, 2), reopened, holds(span{1, 10, 1}, span{11, 20, 2}))},
}

var crashCases = []testCase[*lc]{
	{"crash-after-store-logs", "after StoreLogs returns, a kill (files copied while open, no Close) keeps every entry, and the copy takes more",
		script(put(1, 10, 1), put(11, 20, 2), put(21, 30, 3), put(31, 40, 4), put(41, 50, 5), crashed,
			holds(span{1, 10, 1}, span{11, 20, 2}, span{21, 30, 3}, span{31, 40, 4}, span{41, 50, 5}), put(51, 51, 6))},
	{"crash-after-suffix-delete", "after a suffix delete and new entries in its place, a kill keeps the new entries, not the old ones",
		script(put(1, 20, 1), del(15, 20), put(15, 18, 2), crashed, holds(span{1, 14, 1}, span{15, 18, 2}))},
	{"crash-after-prefix-delete", "after a prefix delete, a kill keeps every entry above it (the prefix may come back)", func(c *lc) {
		s := c.newStore()
		c.store(s, mkLogs(1, 100, 1)...)
		c.deleteRange(s, 1, 40)
		k := c.crash(s)
		first, last := c.indexes(k)
		if first == 0 || first > 41 || last != 100 {
			c.Fatalf("after a kill FirstIndex, LastIndex = %d, %d; want <= 41, 100", first, last)
		}
		c.checkLogs(k, mkLogs(first, 100, 1))
	}},
	{"crash-after-store-at-1", "after deleting everything and storing at index 1, a kill holds exactly the new entries",
		script(put(1000, 1109, 1), del(1000, 1109), put(1, 5, 2), crashed, holds(span{1, 5, 2}))},
	{"crash-then-reopen", "a store opened from a kill's files works on: append, Close, reopen",
		script(put(1, 30, 1), crashed, put(31, 40, 2), reopened, holds(span{1, 30, 1}, span{31, 40, 2}))},
}
