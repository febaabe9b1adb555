package storetest

import (
	"bytes"
	"math"
	"time"

	"github.com/hashicorp/raft"
)

// logCases are the log store cases, in the order they run and are listed.
func logCases() []testCase[*lc] {
	var cs []testCase[*lc]
	for _, group := range [][]testCase[*lc]{
		basicCases, deleteCases, monotonicCases, concurrencyCases,
		reopenCases, crashCases, commitCases,
	} {
		cs = append(cs, group...)
	}
	return cs
}

var basicCases = []testCase[*lc]{
	{"empty-indexes", "a new store has FirstIndex 0 and LastIndex 0", func(c *lc) {
		c.checkRange(c.newStore(), 0, 0)
	}},
	{"empty-get-missing", "GetLog on a new store is raft.ErrLogNotFound (==) for 0, 1 and the largest index",
		script(missing(0, 1, 2, math.MaxUint64))},
	{"store-one", "StoreLog of entry 1 makes it readable; FirstIndex = LastIndex = 1", func(c *lc) {
		s := c.newStore()
		if err := s.StoreLog(mkLog(1, 1)); err != nil {
			c.Fatalf("StoreLog: %v", err)
		}
		c.checkHolds(s, mkLogs(1, 1, 1))
	}},
	{"store-batch", "one StoreLogs of 100 entries: all readable with every field",
		script(put(1, 100, 2), holds(span{1, 100, 2}))},
	{"store-batches", "StoreLogs batches of 1, 7 and 64 entries, in several terms, follow each other", func(c *lc) {
		s := c.newStore()
		var all []*raft.Log
		next, term := uint64(1), uint64(1)
		for _, n := range []uint64{1, 7, 64, 1, 64, 7} {
			b := mkLogs(next, next+n-1, term)
			c.store(s, b...)
			all = append(all, b...)
			next, term = next+n, term+1
		}
		c.checkHolds(s, all)
	}},
	{"store-first-above-one", "a new store's first batch may start above 1 (a follower after a snapshot); FirstIndex is that index",
		script(put(1000, 1099, 3), holds(span{1000, 1099, 3}), missing(1))},
	{"fields-round-trip", "every LogType, nil and empty Data, a 1 MiB Data, Extensions and AppendedAt (zero too) read back", func(c *lc) {
		s := c.newStore()
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
		types := []raft.LogType{raft.LogCommand, raft.LogNoop, raft.LogAddPeerDeprecated,
			raft.LogRemovePeerDeprecated, raft.LogBarrier, raft.LogConfiguration}
		var logs []*raft.Log
		for i, typ := range types {
			l := mkLog(uint64(i+1), 1)
			l.Type = typ
			logs = append(logs, l)
		}
		n := uint64(len(logs))
		logs = append(logs,
			&raft.Log{Index: n + 1, Term: 1, Type: raft.LogCommand},
			&raft.Log{Index: n + 2, Term: 1, Type: raft.LogCommand, Data: []byte{}, Extensions: []byte{}},
			&raft.Log{Index: n + 3, Term: 2, Type: raft.LogCommand, Data: big, AppendedAt: time.Unix(1, 2)},
		)
		c.store(s, logs...)
		c.checkHolds(s, logs)
	}},
	{"get-log-owned", "GetLog's Data belongs to the caller, and StoreLogs keeps no reference to the caller's entries", func(c *lc) {
		s := c.newStore()
		in := mkLogs(1, 3, 1)
		c.store(s, in...)
		for _, l := range in {
			l.Data[0], l.Extensions[0] = 'X', 'X'
		}
		var got raft.Log
		if err := s.GetLog(2, &got); err != nil {
			c.Fatalf("GetLog(2): %v", err)
		}
		got.Data[0] = 'Y'
		c.checkLogs(s, mkLogs(1, 3, 1))
	}},
	{"get-log-resets-target", "GetLog fills every field of the target, leaving nothing of what it held before", func(c *lc) {
		s := c.newStore()
		want := &raft.Log{Index: 1, Term: 1, Type: raft.LogNoop}
		c.store(s, want)
		got := *mkLog(9, 9)
		if err := s.GetLog(1, &got); err != nil {
			c.Fatalf("GetLog(1): %v", err)
		}
		if d := diffLog(&got, want); d != "" {
			c.Fatalf("GetLog(1) into a used raft.Log: %s", d)
		}
	}},
	{"get-out-of-range", "GetLog below FirstIndex, above LastIndex and of 0 is raft.ErrLogNotFound",
		script(put(10, 20, 1), missing(0, 1, 9, 21, 22, math.MaxUint64))},
}

var deleteCases = []testCase[*lc]{
	{"delete-prefix", "DeleteRange(FirstIndex, k) removes a prefix: FirstIndex becomes k+1",
		script(put(1, 100, 1), del(1, 40), holds(span{41, 100, 1}))},
	{"delete-prefix-from-zero", "DeleteRange(0, k), a range starting below FirstIndex, removes the same prefix",
		script(put(1, 100, 1), del(0, 40), holds(span{41, 100, 1}))},
	{"delete-prefix-overlapping", "a second prefix delete starting below FirstIndex removes up to its end",
		script(put(1, 100, 1), del(1, 40), del(1, 60), holds(span{61, 100, 1}))},
	{"delete-suffix", "DeleteRange(k, LastIndex) removes a suffix: LastIndex becomes k-1",
		script(put(1, 100, 1), del(60, 100), holds(span{1, 59, 1}))},
	{"delete-suffix-then-append", "after a suffix delete, entries of a new term take the freed indexes (a follower's conflict)",
		script(put(1, 100, 1), del(60, 100), put(60, 70, 2), holds(span{1, 59, 1}, span{60, 70, 2}))},
	{"delete-all", "DeleteRange(FirstIndex, LastIndex) empties the store: both indexes 0",
		script(put(1, 100, 1), del(1, 100), holds(), missing(50))},
	{"delete-all-wide", "DeleteRange from 0 to far beyond LastIndex empties the store",
		script(put(5, 100, 1), del(0, 100+1<<20), holds())},
	{"delete-prefix-covering-all", "prefix deletes that together cover the whole log empty it",
		script(put(1, 100, 1), del(1, 50), del(51, 100), holds())},
	{"delete-all-then-store-above", "an emptied store takes the next batch far above its old entries (after a snapshot install)",
		script(put(1, 100, 1), del(1, 60), del(61, 100), put(500, 510, 2), holds(span{500, 510, 2}))},
	{"delete-all-then-store-at-1", "an emptied store whose log started at 1000 takes a batch at index 1 (raft-wal's own test)",
		script(put(1000, 1109, 1), del(1000, 1109), holds(), put(1, 5, 1), holds(span{1, 5, 1}))},
	{"delete-all-then-store-below-purged", "a store emptied by prefix deletes takes a batch below its old FirstIndex",
		script(put(1, 100, 2), del(1, 80), del(81, 100), put(3, 9, 2), holds(span{3, 9, 2}))},
	{"delete-all-then-store-lower-term", "an emptied store takes a batch in a lower term than its old entries",
		script(put(1, 50, 5), del(1, 30), del(31, 50), put(1, 10, 1), holds(span{1, 10, 1}))},
	{"delete-range-no-op", "DeleteRange with min > max, below FirstIndex, above LastIndex, or on an empty store changes nothing",
		script(del(1, 10), holds(), put(10, 20, 1), del(15, 12), del(1, 9), del(21, 30), del(0, 0), holds(span{10, 20, 1}))},
	{"random-ops", "300 seeded random appends, prefix/suffix/whole deletes (and reopens) match a model", randomOps},
}
