package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// lc is a log store case's test.
type lc struct{ *tc[raft.LogStore] }

// mkLog builds the entry the suite stores at (index, term): every field
// set, distinct per index and term, so a read that returns the wrong entry,
// or one of an older term at the same index, is caught.
func mkLog(index, term uint64) *raft.Log {
	return &raft.Log{
		Index:      index,
		Term:       term,
		Type:       raft.LogCommand,
		Data:       fmt.Appendf(nil, "data %d/%d", index, term),
		Extensions: fmt.Appendf(nil, "ext %d", index*7+term),
		AppendedAt: time.Unix(1_700_000_000+int64(index), int64(term)).UTC(),
	}
}

// mkLogs builds entries from..to (inclusive) of one term.
func mkLogs(from, to, term uint64) []*raft.Log {
	ls := make([]*raft.Log, 0, to-from+1)
	for i := from; i <= to; i++ {
		ls = append(ls, mkLog(i, term))
	}
	return ls
}

// diffLog describes how got differs from want ("" when equal). Data and
// Extensions compare by content (nil equals empty); AppendedAt by instant.
func diffLog(got, want *raft.Log) string {
	switch {
	case got.Index != want.Index:
		return fmt.Sprintf("Index %d, want %d", got.Index, want.Index)
	case got.Term != want.Term:
		return fmt.Sprintf("Term %d, want %d", got.Term, want.Term)
	case got.Type != want.Type:
		return fmt.Sprintf("Type %v, want %v", got.Type, want.Type)
	case !bytes.Equal(got.Data, want.Data):
		return fmt.Sprintf("Data %q, want %q", clip(got.Data), clip(want.Data))
	case !bytes.Equal(got.Extensions, want.Extensions):
		return fmt.Sprintf("Extensions %q, want %q", clip(got.Extensions), clip(want.Extensions))
	case !got.AppendedAt.Equal(want.AppendedAt):
		return fmt.Sprintf("AppendedAt %v, want %v", got.AppendedAt, want.AppendedAt)
	}
	return ""
}

func clip(b []byte) []byte {
	if len(b) > 48 {
		return b[:48]
	}
	return b
}

func (c *lc) store(s raft.LogStore, logs ...*raft.Log) {
	c.Helper()
	if err := s.StoreLogs(logs); err != nil {
		c.Fatalf("StoreLogs [%d, %d]: %v", logs[0].Index, logs[len(logs)-1].Index, err)
	}
}

func (c *lc) deleteRange(s raft.LogStore, min, max uint64) {
	c.Helper()
	if err := s.DeleteRange(min, max); err != nil {
		c.Fatalf("DeleteRange(%d, %d): %v", min, max, err)
	}
}

// indexes returns FirstIndex and LastIndex, failing the case on an error.
func (c *lc) indexes(s raft.LogStore) (first, last uint64) {
	c.Helper()
	first, err1 := s.FirstIndex()
	last, err2 := s.LastIndex()
	if err1 != nil || err2 != nil {
		c.Fatalf("FirstIndex, LastIndex: %v, %v", err1, err2)
	}
	return first, last
}

// checkRange asserts FirstIndex and LastIndex.
func (c *lc) checkRange(s raft.LogStore, first, last uint64) {
	c.Helper()
	f, l := c.indexes(s)
	if f != first || l != last {
		c.Fatalf("FirstIndex, LastIndex = %d, %d; want %d, %d", f, l, first, last)
	}
}

// checkLog asserts that GetLog(want.Index) returns want.
func (c *lc) checkLog(s raft.LogStore, want *raft.Log) {
	c.Helper()
	var got raft.Log
	if err := s.GetLog(want.Index, &got); err != nil {
		c.Fatalf("GetLog(%d): %v", want.Index, err)
	}
	if d := diffLog(&got, want); d != "" {
		c.Fatalf("GetLog(%d): %s", want.Index, d)
	}
}

// checkLogs asserts every entry of want.
func (c *lc) checkLogs(s raft.LogStore, want []*raft.Log) {
	c.Helper()
	for _, w := range want {
		c.checkLog(s, w)
	}
}

// checkMissing asserts that GetLog(index) returns raft.ErrLogNotFound
// itself: hashicorp/raft's replication compares with ==, and any other
// error stops replication to that follower instead of sending a snapshot.
func (c *lc) checkMissing(s raft.LogStore, index uint64) {
	c.Helper()
	var got raft.Log
	err := s.GetLog(index, &got)
	switch {
	case err == raft.ErrLogNotFound: //nolint:errorlint // raft compares with ==
	case errors.Is(err, raft.ErrLogNotFound):
		c.Fatalf("GetLog(%d) = %v: wraps raft.ErrLogNotFound, but raft compares with ==", index, err)
	case err == nil:
		c.Fatalf("GetLog(%d) found %d-%d, want raft.ErrLogNotFound", index, got.Term, got.Index)
	default:
		c.Fatalf("GetLog(%d) = %v, want raft.ErrLogNotFound", index, err)
	}
}

// checkHolds asserts the store holds exactly want: the range, every entry,
// and the indexes just outside it missing.
func (c *lc) checkHolds(s raft.LogStore, want []*raft.Log) {
	c.Helper()
	if len(want) == 0 {
		c.checkRange(s, 0, 0)
		c.checkMissing(s, 1)
		return
	}
	first, last := want[0].Index, want[len(want)-1].Index
	c.checkRange(s, first, last)
	c.checkLogs(s, want)
	if first > 1 {
		c.checkMissing(s, first-1)
	}
	c.checkMissing(s, last+1)
}

// monotonic skips the case unless s declares itself a MonotonicLogStore.
func (c *lc) monotonic(s raft.LogStore) {
	if m, ok := s.(raft.MonotonicLogStore); !ok || !m.IsMonotonic() {
		c.Skipf("not a raft.MonotonicLogStore")
	}
}

// commitTracking returns s as a CommitTrackingLogStore or skips the case.
func (c *lc) commitTracking(s raft.LogStore) raft.CommitTrackingLogStore {
	ct, ok := s.(raft.CommitTrackingLogStore)
	if !ok {
		c.Skipf("not a raft.CommitTrackingLogStore")
	}
	return ct
}

// A step is one operation of a scripted log case on the store the case
// has open: what it does, for failure messages, and do, which returns the
// store to go on with (another one after a reopen or a crash).
type step struct {
	what string
	do   func(c *lc, s raft.LogStore) raft.LogStore
}

// script is a log case that runs steps in order on a new store. A failure
// is located by its step ("step 3 (holds 41..100/1)") instead of a line.
func script(steps ...step) func(c *lc) {
	return func(c *lc) {
		s := c.newStore()
		for k, st := range steps {
			c.setAt(fmt.Sprintf("step %d (%s)", k+1, st.what))
			s = st.do(c, s)
		}
		c.setAt("")
	}
}

// span is the entries from..to (inclusive) of one term, as mkLogs builds
// them.
type span struct{ from, to, term uint64 }

func (sp span) String() string { return fmt.Sprintf("%d..%d/%d", sp.from, sp.to, sp.term) }

// logsOf builds the entries of spans, in order.
func logsOf(spans ...span) []*raft.Log {
	var ls []*raft.Log
	for _, sp := range spans {
		ls = append(ls, mkLogs(sp.from, sp.to, sp.term)...)
	}
	return ls
}

// put stores entries from..to of term in one StoreLogs.
func put(from, to, term uint64) step {
	return step{"put " + span{from, to, term}.String(), func(c *lc, s raft.LogStore) raft.LogStore {
		c.store(s, mkLogs(from, to, term)...)
		return s
	}}
}

// del calls DeleteRange(min, max).
func del(min, max uint64) step {
	return step{fmt.Sprintf("DeleteRange(%d, %d)", min, max), func(c *lc, s raft.LogStore) raft.LogStore {
		c.deleteRange(s, min, max)
		return s
	}}
}

// holds checks that the store holds exactly the entries of spans (none:
// that it is empty); see checkHolds.
func holds(spans ...span) step {
	what := "holds nothing"
	if len(spans) > 0 {
		what = fmt.Sprint("holds ", spans)
	}
	return step{what, func(c *lc, s raft.LogStore) raft.LogStore {
		c.checkHolds(s, logsOf(spans...))
		return s
	}}
}

// missing checks that GetLog of each index is raft.ErrLogNotFound.
func missing(idxs ...uint64) step {
	return step{fmt.Sprint("missing ", idxs), func(c *lc, s raft.LogStore) raft.LogStore {
		for _, i := range idxs {
			c.checkMissing(s, i)
		}
		return s
	}}
}

// rejects checks that StoreLogs of batch fails; what describes the batch
// in the failure.
func rejects(batch []*raft.Log, what string) step {
	return step{"rejects " + what, func(c *lc, s raft.LogStore) raft.LogStore {
		if err := s.StoreLogs(batch); err == nil {
			c.Errorf("StoreLogs %s succeeded", what)
		}
		return s
	}}
}

var (
	// reopened closes the store and opens its directory again.
	reopened = step{"reopen", func(c *lc, s raft.LogStore) raft.LogStore { return c.reopen(s) }}
	// crashed opens a copy of the store's files taken while it is open.
	crashed = step{"crash", func(c *lc, s raft.LogStore) raft.LogStore { return c.crash(s) }}
	// monotonicOnly skips the case unless the store is a MonotonicLogStore.
	monotonicOnly = step{"monotonic", func(c *lc, s raft.LogStore) raft.LogStore { c.monotonic(s); return s }}
)
