package hashiraft_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftlog/raftlog/hashiraft"
	"github.com/raftlog/raftlog/mmaplog"
)

// testOptions uses small segments so tests cross segment boundaries.
var testOptions = mmaplog.Options{SegmentSize: 64 << 10}

// openStore opens a Store in dir (a new temp dir when empty) and closes it
// at cleanup.
func openStore(tb testing.TB, dir string) (*hashiraft.Store, string) {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	s, err := hashiraft.Open(dir, testOptions)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s, dir
}

func reopen(tb testing.TB, s *hashiraft.Store, dir string) *hashiraft.Store {
	tb.Helper()
	if err := s.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	s2, _ := openStore(tb, dir)
	return s2
}

// mkLog builds a log with every field set, distinct per index.
func mkLog(index, term uint64) *raft.Log {
	return &raft.Log{
		Index:      index,
		Term:       term,
		Type:       raft.LogCommand,
		Data:       fmt.Appendf(nil, "data-%d", index),
		Extensions: fmt.Appendf(nil, "ext-%d", index),
		AppendedAt: time.Unix(1700000000+int64(index), int64(index)).UTC(),
	}
}

func mkLogs(from, to, term uint64) []*raft.Log {
	var ls []*raft.Log
	for i := from; i <= to; i++ {
		ls = append(ls, mkLog(i, term))
	}
	return ls
}

func mustStore(tb testing.TB, s *hashiraft.Store, logs ...*raft.Log) {
	tb.Helper()
	if err := s.StoreLogs(logs); err != nil {
		tb.Fatalf("StoreLogs [%d, %d]: %v", logs[0].Index, logs[len(logs)-1].Index, err)
	}
}

// checkRange asserts FirstIndex and LastIndex.
func checkRange(tb testing.TB, s *hashiraft.Store, first, last uint64) {
	tb.Helper()
	f, err1 := s.FirstIndex()
	l, err2 := s.LastIndex()
	if err1 != nil || err2 != nil || f != first || l != last {
		tb.Fatalf("FirstIndex, LastIndex = %d (%v), %d (%v); want %d, %d", f, err1, l, err2, first, last)
	}
}

// checkLog asserts that GetLog(want.Index) returns want.
func checkLog(tb testing.TB, s *hashiraft.Store, want *raft.Log) {
	tb.Helper()
	var got raft.Log
	if err := s.GetLog(want.Index, &got); err != nil {
		tb.Fatalf("GetLog(%d): %v", want.Index, err)
	}
	if !reflect.DeepEqual(&got, want) {
		tb.Fatalf("GetLog(%d):\n got %#v\nwant %#v", want.Index, got, *want)
	}
}

// checkMissing asserts that GetLog(index) returns raft.ErrLogNotFound itself
// (hashicorp/raft compares with ==).
func checkMissing(tb testing.TB, s *hashiraft.Store, index uint64) {
	tb.Helper()
	var got raft.Log
	if err := s.GetLog(index, &got); err != raft.ErrLogNotFound { //nolint:errorlint // raft compares with ==
		tb.Fatalf("GetLog(%d) = %v, want raft.ErrLogNotFound", index, err)
	}
}

func TestEmptyStore(t *testing.T) {
	s, _ := openStore(t, "")
	checkRange(t, s, 0, 0)
	for _, i := range []uint64{0, 1, 2, 1 << 40} {
		checkMissing(t, s, i)
	}
	if !s.IsMonotonic() {
		t.Fatal("IsMonotonic = false")
	}
	if err := s.StoreLogs(nil); err != nil {
		t.Fatalf("StoreLogs(nil) = %v", err)
	}
	checkRange(t, s, 0, 0)
}

func TestStoreAndGet(t *testing.T) {
	s, _ := openStore(t, "")
	if err := s.StoreLog(mkLog(1, 1)); err != nil {
		t.Fatal(err)
	}
	mustStore(t, s, mkLogs(2, 50, 1)...)
	mustStore(t, s, mkLogs(51, 60, 2)...)
	checkRange(t, s, 1, 60)
	for i := uint64(1); i <= 60; i++ {
		checkLog(t, s, mkLog(i, map[bool]uint64{true: 1, false: 2}[i <= 50]))
	}
	checkMissing(t, s, 0)
	checkMissing(t, s, 61)
}

func TestStoreFirstAppendAtAnyIndex(t *testing.T) {
	s, dir := openStore(t, "")
	mustStore(t, s, mkLogs(1000, 1004, 7)...)
	checkRange(t, s, 1000, 1004)
	checkMissing(t, s, 999)
	checkLog(t, s, mkLog(1000, 7))
	s = reopen(t, s, dir)
	checkRange(t, s, 1000, 1004)
	checkLog(t, s, mkLog(1004, 7))
	mustStore(t, s, mkLog(1005, 8))
	checkRange(t, s, 1000, 1005)
}

// TestRoundTripFields stores logs that differ only in the fields raft-boltdb
// historically dropped (Extensions, AppendedAt) and in nil versus empty
// slices, and reads them back before and after reopening.
func TestRoundTripFields(t *testing.T) {
	now := time.Now()
	logs := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: []byte("conf")},
		{Index: 2, Term: 1, Type: raft.LogNoop},
		{Index: 3, Term: 1, Data: []byte{}},
		{Index: 4, Term: 2, Data: []byte("d"), Extensions: []byte{}},
		{Index: 5, Term: 2, Data: []byte("d"), Extensions: []byte("middleware")},
		{Index: 6, Term: 2, Data: []byte("d"), AppendedAt: now},
		{Index: 7, Term: 3, Data: []byte("d"), AppendedAt: now.UTC()},
		{Index: 8, Term: 3, Data: []byte("d"), AppendedAt: time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.FixedZone("", -9000))},
		{Index: 9, Term: 3, Type: raft.LogBarrier, Data: bytes.Repeat([]byte{0xab}, 100<<10), Extensions: bytes.Repeat([]byte{1}, 1000), AppendedAt: now},
		{Index: 10, Term: 4, Type: 99},
	}
	want := make([]*raft.Log, len(logs))
	for i, l := range logs {
		c := *l
		c.AppendedAt = c.AppendedAt.Round(0) // the monotonic reading is not stored
		want[i] = &c
	}
	s, dir := openStore(t, "")
	mustStore(t, s, logs...)
	check := func() {
		t.Helper()
		for _, w := range want {
			var got raft.Log
			if err := s.GetLog(w.Index, &got); err != nil {
				t.Fatal(err)
			}
			if got.Index != w.Index || got.Term != w.Term || got.Type != w.Type ||
				!bytes.Equal(got.Data, w.Data) || (got.Data == nil) != (w.Data == nil) ||
				!bytes.Equal(got.Extensions, w.Extensions) || (got.Extensions == nil) != (w.Extensions == nil) ||
				!got.AppendedAt.Equal(w.AppendedAt) {
				t.Fatalf("GetLog(%d):\n got %#v\nwant %#v", w.Index, got, *w)
			}
			if _, off := got.AppendedAt.Zone(); func() bool { _, o := w.AppendedAt.Zone(); return o != off }() {
				t.Fatalf("GetLog(%d): zone offset %d, want that of %v", w.Index, off, w.AppendedAt)
			}
		}
	}
	check()
	s = reopen(t, s, dir)
	check()
}

func TestGetLogResultIsOwned(t *testing.T) {
	s, _ := openStore(t, "")
	in := mkLog(1, 1)
	mustStore(t, s, in)
	in.Data[0] = 'X' // the caller may reuse its buffers after StoreLogs
	var got raft.Log
	if err := s.GetLog(1, &got); err != nil {
		t.Fatal(err)
	}
	got.Data[0] = 'Y'
	checkLog(t, s, mkLog(1, 1))
}

func TestStoreLogsRejects(t *testing.T) {
	cases := map[string][]*raft.Log{
		"gap":                {mkLog(12, 2)},
		"overlap":            {mkLog(10, 2)},
		"term-goes-back":     {mkLog(11, 1)},
		"batch-gap":          {mkLog(11, 2), mkLog(13, 2)},
		"batch-term-reverse": {mkLog(11, 3), mkLog(12, 2)},
		"batch-repeat":       {mkLog(11, 2), mkLog(11, 2)},
	}
	for name, batch := range cases {
		t.Run(name, func(t *testing.T) {
			s, dir := openStore(t, "")
			mustStore(t, s, mkLogs(1, 10, 2)...)
			if err := s.StoreLogs(batch); err == nil {
				t.Fatal("StoreLogs succeeded")
			}
			checkRange(t, s, 1, 10)
			checkMissing(t, s, 11)
			s = reopen(t, s, dir)
			checkRange(t, s, 1, 10)
			mustStore(t, s, mkLog(11, 2)) // still usable
		})
	}
}

func TestDeleteRange(t *testing.T) {
	type op struct{ min, max uint64 }
	cases := []struct {
		name        string
		ops         []op
		first, last uint64
		wantErr     bool
	}{
		{"prefix", []op{{1, 4}}, 5, 20, false},
		{"prefix-from-below", []op{{0, 6}}, 7, 20, false},
		{"prefix-twice", []op{{1, 4}, {5, 9}}, 10, 20, false},
		{"prefix-overlapping-purged", []op{{1, 4}, {1, 9}}, 10, 20, false},
		{"suffix", []op{{15, 20}}, 1, 14, false},
		{"suffix-beyond-last", []op{{15, 100}}, 1, 14, false},
		{"suffix-then-prefix", []op{{15, 20}, {1, 10}}, 11, 14, false},
		{"single-first", []op{{1, 1}}, 2, 20, false},
		{"single-last", []op{{20, 20}}, 1, 19, false},
		{"min-greater-than-max", []op{{10, 5}}, 1, 20, false},
		{"before-first", []op{{1, 4}, {1, 3}}, 5, 20, false},
		{"after-last", []op{{21, 30}}, 1, 20, false},
		{"all-exact", []op{{1, 20}}, 0, 0, false},
		{"all-wider", []op{{0, 1 << 62}}, 0, 0, false},
		{"all-after-prefix", []op{{1, 5}, {6, 20}}, 0, 0, false},
		{"on-empty", []op{{1, 20}, {1, 20}}, 0, 0, false},
		{"middle", []op{{5, 10}}, 1, 20, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, dir := openStore(t, "")
			mustStore(t, s, mkLogs(1, 20, 3)...)
			var err error
			for _, o := range c.ops {
				if err = s.DeleteRange(o.min, o.max); err != nil {
					break
				}
			}
			if (err != nil) != c.wantErr {
				t.Fatalf("DeleteRange error = %v, want error %v", err, c.wantErr)
			}
			for range 2 { // before and after reopening
				checkRange(t, s, c.first, c.last)
				for i := uint64(0); i <= 21; i++ {
					if c.first != 0 && i >= c.first && i <= c.last {
						checkLog(t, s, mkLog(i, 3))
					} else {
						checkMissing(t, s, i)
					}
				}
				s = reopen(t, s, dir)
			}
		})
	}
}

// TestDeleteAllThenStoreAtNewIndex covers what hashicorp/raft does with a
// MonotonicLogStore after restoring a snapshot: delete every entry, then
// continue at the snapshot index + 1, which may be anywhere above the
// entries that were compacted away. An emptied store also takes a batch at
// or below its old purge point, in a lower term, as raft-wal, raft-boltdb
// and InmemStore do.
func TestDeleteAllThenStoreAtNewIndex(t *testing.T) {
	cases := []struct {
		name  string
		purge uint64 // prefix deleted before deleting all, 0 for none
		next  uint64 // first index stored after deleting all
		term  uint64 // its term (the old entries have term 3)
	}{
		{"jump-ahead", 0, 500, 5},
		{"right-after", 0, 21, 5},
		{"back-to-start", 0, 1, 5},
		{"below-old-last", 0, 7, 5},
		{"jump-ahead-after-purge", 10, 1000, 5},
		{"below-old-last-after-purge", 10, 15, 5},
		{"right-after-purge-point", 10, 11, 5},
		{"at-purge-point", 10, 10, 5},
		{"below-purge-point", 10, 3, 5},
		{"back-to-start-after-purge", 10, 1, 5},
		{"back-to-start-lower-term", 10, 1, 1},
		{"right-after-purge-point-lower-term", 10, 11, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, dir := openStore(t, "")
			mustStore(t, s, mkLogs(1, 20, 3)...)
			if c.purge > 0 {
				if err := s.DeleteRange(1, c.purge); err != nil {
					t.Fatal(err)
				}
			}
			first, _ := s.FirstIndex()
			if err := s.DeleteRange(first, 20); err != nil {
				t.Fatal(err)
			}
			checkRange(t, s, 0, 0)
			s = reopen(t, s, dir)
			checkRange(t, s, 0, 0)

			if err := s.StoreLogs(mkLogs(c.next, c.next+4, c.term)); err != nil {
				t.Fatalf("StoreLogs at %d: %v", c.next, err)
			}
			for range 2 {
				checkRange(t, s, c.next, c.next+4)
				for i := c.next; i <= c.next+4; i++ {
					checkLog(t, s, mkLog(i, c.term))
				}
				for _, i := range []uint64{1, c.next - 1, c.next + 5, 20} {
					if i < c.next || i > c.next+4 {
						checkMissing(t, s, i)
					}
				}
				s = reopen(t, s, dir)
			}
			mustStore(t, s, mkLog(c.next+5, 6))
			checkRange(t, s, c.next, c.next+5)
		})
	}
}

func TestStable(t *testing.T) {
	s, dir := openStore(t, "")
	for _, k := range [][]byte{[]byte("CurrentTerm"), []byte("missing"), nil, {}} {
		if _, err := s.Get(k); err == nil || err.Error() != "not found" || !errors.Is(err, hashiraft.ErrKeyNotFound) {
			t.Fatalf("Get(%q) error = %v, want exactly \"not found\"", k, err)
		}
		if _, err := s.GetUint64(k); err == nil || err.Error() != "not found" {
			t.Fatalf("GetUint64(%q) error = %v, want exactly \"not found\"", k, err)
		}
	}
	val := []byte("node-2")
	if err := s.Set([]byte("LastVoteCand"), val); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // Set must have copied
	for _, kv := range []struct{ k, v string }{{"empty", ""}, {"bin\x00key", "\x00\xff"}, {"", "empty-key"}} {
		if err := s.Set([]byte(kv.k), []byte(kv.v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 42); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 43); err != nil { // overwrite
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("max"), 1<<64-1); err != nil {
		t.Fatal(err)
	}
	mustStore(t, s, mkLogs(1, 5, 1)...) // logs and stable keys share the log
	check := func() {
		t.Helper()
		for k, want := range map[string]string{"LastVoteCand": "node-2", "empty": "", "bin\x00key": "\x00\xff", "": "empty-key"} {
			got, err := s.Get([]byte(k))
			if err != nil || string(got) != want {
				t.Fatalf("Get(%q) = %q, %v; want %q", k, got, err, want)
			}
			if len(got) > 0 {
				got[0] ^= 0xff // the caller owns the result
			}
		}
		for k, want := range map[string]uint64{"CurrentTerm": 43, "max": 1<<64 - 1} {
			got, err := s.GetUint64([]byte(k))
			if err != nil || got != want {
				t.Fatalf("GetUint64(%q) = %d, %v; want %d", k, got, err, want)
			}
		}
		if _, err := s.GetUint64([]byte("LastVoteCand")); err == nil {
			t.Fatal("GetUint64 of a 6-byte value succeeded")
		}
		if _, err := s.Get([]byte("missing")); err == nil || err.Error() != "not found" {
			t.Fatalf("Get(missing) = %v", err)
		}
	}
	check()
	s = reopen(t, s, dir)
	check()
	checkRange(t, s, 1, 5)
}

func TestClosed(t *testing.T) {
	s, _ := openStore(t, "")
	mustStore(t, s, mkLog(1, 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	var l raft.Log
	errs := map[string]error{
		"StoreLog":    s.StoreLog(mkLog(2, 1)),
		"StoreLogs":   s.StoreLogs(mkLogs(2, 3, 1)),
		"GetLog":      s.GetLog(1, &l),
		"DeleteRange": s.DeleteRange(1, 1),
		"Set":         s.Set([]byte("k"), []byte("v")),
		"SetUint64":   s.SetUint64([]byte("k"), 1),
	}
	_, errs["FirstIndex"] = s.FirstIndex()
	_, errs["LastIndex"] = s.LastIndex()
	_, errs["Get"] = s.Get([]byte("k"))
	_, errs["GetUint64"] = s.GetUint64([]byte("k"))
	for name, err := range errs {
		if !errors.Is(err, mmaplog.ErrClosed) {
			t.Errorf("%s after Close = %v, want mmaplog.ErrClosed", name, err)
		}
	}
}

func TestOpenTwiceFails(t *testing.T) {
	_, dir := openStore(t, "")
	s2, err := hashiraft.Open(dir, testOptions)
	if err == nil {
		_ = s2.Close()
		t.Fatal("a second Open of the same directory succeeded")
	}
	if !errors.Is(err, mmaplog.ErrLocked) {
		t.Fatalf("second Open = %v, want mmaplog.ErrLocked", err)
	}
}

// TestConcurrentUse runs a raft-like writer (append, compact) against
// readers of every kind. Run with -race.
func TestConcurrentUse(t *testing.T) {
	s, _ := openStore(t, "")
	const total = 600
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errc := make(chan error, 8)
	wg.Add(1)
	go func() { // writer
		defer wg.Done()
		defer close(stop)
		for i := uint64(1); i <= total; i += 10 {
			if err := s.StoreLogs(mkLogs(i, i+9, 1)); err != nil {
				errc <- err
				return
			}
			if i > 100 {
				if err := s.DeleteRange(0, i-100); err != nil {
					errc <- err
					return
				}
			}
			if err := s.SetUint64([]byte("CurrentTerm"), i); err != nil {
				errc <- err
				return
			}
		}
	}()
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := uint64(0); ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				first, _ := s.FirstIndex()
				last, _ := s.LastIndex()
				if first > last {
					errc <- fmt.Errorf("reader %d: first %d > last %d", r, first, last)
					return
				}
				idx := first + n%(last-first+1)
				var l raft.Log
				err := s.GetLog(idx, &l)
				if err == raft.ErrLogNotFound { //nolint:errorlint // raft compares with ==
					continue // compacted meanwhile
				}
				if err != nil || !reflect.DeepEqual(&l, mkLog(idx, 1)) {
					errc <- fmt.Errorf("reader %d: GetLog(%d) = %v, %w", r, idx, l, err)
					return
				}
				if v, err := s.GetUint64([]byte("CurrentTerm")); err == nil && v > total {
					errc <- fmt.Errorf("reader %d: CurrentTerm %d", r, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	checkRange(t, s, 492, total) // the last compaction deleted [.., 591-100]
}
