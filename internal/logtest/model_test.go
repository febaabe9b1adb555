package logtest_test

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

func id(term, idx uint64) mmaplog.LogID { return mmaplog.LogID{Term: term, Index: idx} }

func ent(term, idx uint64) mmaplog.Entry {
	return mmaplog.Entry{ID: id(term, idx), Payload: []byte{byte(term), byte(idx), 'p'}}
}

// run returns entries from..to of term.
func run(term, from, to uint64) []mmaplog.Entry {
	var es []mmaplog.Entry
	for i := from; i <= to; i++ {
		es = append(es, ent(term, i))
	}
	return es
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantLog checks m's Last, First and entries (by Entry and Entries).
func wantLog(t *testing.T, m *logtest.Model, last mmaplog.LogID, first uint64, es []mmaplog.Entry) {
	t.Helper()
	if got := m.State().Last; got != last {
		t.Fatalf("Last = %v, want %v", got, last)
	}
	if got := m.First(); got != first {
		t.Fatalf("First = %d, want %d", got, first)
	}
	if m.Len() != len(es) {
		t.Fatalf("Len = %d, want %d", m.Len(), len(es))
	}
	for _, w := range es {
		if e, ok := m.Entry(w.ID.Index); !ok || e.ID != w.ID || string(e.Payload) != string(w.Payload) {
			t.Fatalf("Entry(%d) = %v, %v; want %v", w.ID.Index, e.ID, ok, w.ID)
		}
	}
	for _, x := range []uint64{0, first - 1, last.Index + 1} {
		if e, ok := m.Entry(x); ok {
			t.Fatalf("Entry(%d) = %v outside the live entries", x, e.ID)
		}
	}
	if got := m.Entries(0, last.Index+5); !slices.EqualFunc(got, es, func(a, b mmaplog.Entry) bool { return a.ID == b.ID }) {
		t.Fatalf("Entries = %v, want %v", got, es)
	}
}

func TestAppend(t *testing.T) {
	three := func() *logtest.Model {
		m := &logtest.Model{}
		must(t, m.Append(run(1, 1, 3)...))
		return m
	}
	cases := []struct {
		name  string
		start func() *logtest.Model
		batch []mmaplog.Entry
		want  error
	}{
		{"empty log, any index", func() *logtest.Model { return &logtest.Model{} }, run(2, 7, 8), nil},
		{"empty log, term 0", func() *logtest.Model { return &logtest.Model{} }, run(0, 1, 1), nil},
		{"empty log, index 0", func() *logtest.Model { return &logtest.Model{} }, run(1, 0, 0), mmaplog.ErrNonConsecutive},
		{"next", three, run(1, 4, 5), nil},
		{"next in a higher term", three, run(4, 4, 4), nil},
		{"empty batch", three, nil, nil},
		{"gap", three, run(1, 5, 5), mmaplog.ErrNonConsecutive},
		{"gap in a higher term", three, run(2, 6, 6), mmaplog.ErrNonConsecutive},
		{"lower term", three, run(0, 4, 4), mmaplog.ErrLogIDReversal},
		{"not above Last", three, run(1, 3, 3), mmaplog.ErrLogIDReversal},
		{"lower term and a gap", three, run(0, 6, 6), mmaplog.ErrLogIDReversal},
		{"index 0", three, run(1, 0, 0), mmaplog.ErrNonConsecutive},
		{"bad second entry", three, []mmaplog.Entry{ent(1, 4), ent(1, 6)}, mmaplog.ErrNonConsecutive},
		{"second entry going back", three, []mmaplog.Entry{ent(2, 4), ent(1, 5)}, mmaplog.ErrLogIDReversal},
		{"purged beyond Last", func() *logtest.Model { m := three(); m.Purge(id(2, 10)); return m }, run(2, 11, 11), nil},
		{"purged beyond Last, not at its next index", func() *logtest.Model { m := three(); m.Purge(id(2, 10)); return m }, run(2, 12, 12), mmaplog.ErrNonConsecutive},
		{"purged beyond Last, below its term", func() *logtest.Model { m := three(); m.Purge(id(2, 10)); return m }, run(1, 11, 11), mmaplog.ErrLogIDReversal},
		{"emptied by a truncation, never purged", func() *logtest.Model { m := three(); must(t, m.Truncate(1)); return m }, run(1, 9, 9), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.start()
			before := m.Clone()
			err := m.Append(c.batch...)
			if !errors.Is(err, c.want) {
				t.Fatalf("Append = %v, want %v", err, c.want)
			}
			if err != nil || len(c.batch) == 0 {
				wantLog(t, m, before.State().Last, before.First(), before.Entries(0, 100))
				return
			}
			es := append(before.Entries(0, 100), c.batch...)
			wantLog(t, m, c.batch[len(c.batch)-1].ID, es[0].ID.Index, es)
		})
	}
}

func TestSaveVote(t *testing.T) {
	v := func(term, node uint64, committed bool) mmaplog.Vote {
		return mmaplog.Vote{Term: term, NodeID: node, Committed: committed}
	}
	cases := []struct {
		cur, v mmaplog.Vote
		ok     bool
	}{
		{v(0, 0, false), v(0, 0, false), true},
		{v(0, 0, false), v(1, 0, false), true},
		{v(2, 3, true), v(3, 0, false), true}, // a higher term, anything
		{v(2, 0, false), v(2, 1, false), true},
		{v(2, 0, false), v(2, 1, true), true},
		{v(2, 1, false), v(2, 1, true), true},
		{v(2, 1, true), v(2, 1, true), true},
		{v(2, 1, false), v(2, 2, false), false},
		{v(2, 1, false), v(2, 0, false), false},
		{v(2, 1, true), v(2, 1, false), false},
		{v(2, 1, true), v(2, 2, true), false},
		{v(2, 0, false), v(2, 0, true), false}, // no candidate to commit
		{v(2, 1, false), v(1, 1, false), false},
		{v(2, 0, false), v(1, 5, true), false},
	}
	for _, c := range cases {
		m := &logtest.Model{}
		must(t, m.SaveVote(c.cur))
		err := m.SaveVote(c.v)
		want := c.cur
		if c.ok {
			want = c.v
		}
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, mmaplog.ErrVoteReversal)) {
			t.Errorf("SaveVote(%v) from %v = %v, want allowed %v", c.v, c.cur, err, c.ok)
		}
		if got := m.State().Vote; got != want {
			t.Errorf("SaveVote(%v) from %v: vote %v, want %v", c.v, c.cur, got, want)
		}
	}
}

func TestCommit(t *testing.T) {
	m := &logtest.Model{}
	must(t, m.Commit(id(2, 5))) // not checked against the entries
	must(t, m.Commit(id(2, 5)))
	for _, bad := range []mmaplog.LogID{id(2, 4), id(1, 9), {}} {
		if err := m.Commit(bad); !errors.Is(err, mmaplog.ErrLogIDReversal) {
			t.Fatalf("Commit(%v) from 2-5 = %v, want ErrLogIDReversal", bad, err)
		}
	}
	must(t, m.Commit(id(3, 1)))
	if got := m.State().Committed; got != id(3, 1) {
		t.Fatalf("Committed = %v", got)
	}
}

func TestTruncate(t *testing.T) {
	m := &logtest.Model{}
	must(t, m.Append(run(1, 1, 10)...))
	must(t, m.Commit(id(1, 9)))
	m.Purge(id(1, 3))
	for _, bad := range []uint64{0, 1, 3, 12, 20} {
		if err := m.Truncate(bad); !errors.Is(err, mmaplog.ErrNotFound) {
			t.Fatalf("Truncate(%d) with purged 3, last 10 = %v, want ErrNotFound", bad, err)
		}
	}
	wantLog(t, m, id(1, 10), 4, run(1, 4, 10))
	must(t, m.Truncate(11)) // a no-op
	wantLog(t, m, id(1, 10), 4, run(1, 4, 10))
	must(t, m.Truncate(8))
	wantLog(t, m, id(1, 7), 4, run(1, 4, 7))
	if got := m.State().Committed; got != id(1, 9) {
		t.Fatalf("Committed = %v after Truncate, want 1-9 kept", got)
	}
	must(t, m.Truncate(4)) // everything: Last is Purged
	wantLog(t, m, id(1, 3), 4, nil)
	must(t, m.Append(ent(2, 4)))
	wantLog(t, m, id(2, 4), 4, []mmaplog.Entry{ent(2, 4)})

	// A first append above 1: the indexes below it do not exist, but
	// truncating there is in range.
	h := &logtest.Model{}
	must(t, h.Append(run(1, 10, 15)...))
	must(t, h.Truncate(12))
	wantLog(t, h, id(1, 11), 10, run(1, 10, 11))
	must(t, h.Truncate(5))
	wantLog(t, h, mmaplog.LogID{}, 1, nil)
}

func TestPurge(t *testing.T) {
	m := &logtest.Model{}
	must(t, m.Append(run(1, 1, 10)...))
	m.Purge(id(1, 4))
	wantLog(t, m, id(1, 10), 5, run(1, 5, 10))
	m.Purge(id(1, 2)) // at or below Purged: a no-op
	m.Purge(id(9, 4))
	if got := m.State().Purged; got != id(1, 4) {
		t.Fatalf("Purged = %v after no-op purges, want 1-4", got)
	}
	m.Purge(id(1, 10)) // exactly Last
	wantLog(t, m, id(1, 10), 11, nil)
	m.Purge(id(3, 20)) // beyond Last
	wantLog(t, m, id(3, 20), 21, nil)
	if got := m.State().Purged; got != id(3, 20) {
		t.Fatalf("Purged = %v, want 3-20", got)
	}

	// Below a first append above 1: nothing goes.
	h := &logtest.Model{}
	must(t, h.Append(run(1, 10, 12)...))
	h.Purge(id(1, 5))
	wantLog(t, h, id(1, 12), 10, run(1, 10, 12))
	h.Purge(id(1, 11))
	wantLog(t, h, id(1, 12), 12, run(1, 12, 12))
}

func TestUserData(t *testing.T) {
	m := &logtest.Model{}
	m.SaveUserData([]byte{})
	if ud := m.State().UserData; ud == nil || len(ud) != 0 {
		t.Fatalf("UserData = %#v, want empty, not nil", ud)
	}
	m.SaveUserData([]byte("x"))
	m.SaveUserData(nil)
	if ud := m.State().UserData; ud != nil {
		t.Fatalf("UserData = %#v after nil, want nil", ud)
	}
}

func TestCloneAndEntries(t *testing.T) {
	m := &logtest.Model{}
	must(t, m.Append(run(1, 1, 6)...))
	c := m.Clone()
	got := m.Entries(2, 4)
	must(t, m.Truncate(3))
	must(t, m.Append(run(2, 3, 4)...))
	wantLog(t, c, id(1, 6), 1, run(1, 1, 6))
	if len(got) != 2 || got[0].ID != id(1, 2) || got[1].ID != id(1, 3) {
		t.Fatalf("Entries(2, 4) = %v after later writes, want 1-2 1-3", got)
	}
	must(t, c.Append(ent(1, 7)))
	wantLog(t, m, id(2, 4), 1, append(run(1, 1, 2), run(2, 3, 4)...))
	for _, r := range [][2]uint64{{0, 0}, {5, 9}, {3, 3}, {4, 2}} {
		if es := m.Entries(r[0], r[1]); es != nil {
			t.Fatalf("Entries(%d, %d) = %v, want none", r[0], r[1], es)
		}
	}
}

func TestRestore(t *testing.T) {
	m := &logtest.Model{}
	must(t, m.Append(run(1, 1, 8)...))
	must(t, m.SaveVote(mmaplog.Vote{Term: 2, NodeID: 1}))
	must(t, m.Commit(id(1, 6)))
	m.SaveUserData([]byte("u"))
	m.Purge(id(1, 3))
	r, err := logtest.Restore(m.State(), m.Entries(0, 100))
	if err != nil {
		t.Fatal(err)
	}
	if !r.State().Equal(m.State()) {
		t.Fatalf("restored {%s}, want {%s}", logtest.StateString(r.State()), logtest.StateString(m.State()))
	}
	wantLog(t, r, id(1, 8), 4, run(1, 4, 8))
	// A first append above 1, and an empty purged log.
	h := &logtest.Model{}
	must(t, h.Append(run(1, 10, 12)...))
	if r, err := logtest.Restore(h.State(), h.Entries(0, 100)); err != nil || r.First() != 10 {
		t.Fatalf("restore of 10..12: %v", err)
	}
	h.Purge(id(2, 20))
	if r, err := logtest.Restore(h.State(), nil); err != nil || !r.State().Equal(h.State()) || r.Len() != 0 {
		t.Fatalf("restore of an empty purged log: %v", err)
	}
	// States no log reaches.
	st := m.State()
	if _, err := logtest.Restore(st, run(1, 5, 8)); err == nil {
		t.Fatal("restore with entries that do not follow Purged succeeded")
	}
	if _, err := logtest.Restore(st, run(1, 4, 7)); err == nil {
		t.Fatal("restore with entries that do not end at Last succeeded")
	}
	st.Vote = mmaplog.Vote{Term: 0, NodeID: 0, Committed: true}
	if _, err := logtest.Restore(st, run(1, 4, 8)); !errors.Is(err, mmaplog.ErrVoteReversal) {
		t.Fatalf("restore with an unreachable vote: %v", err)
	}
}

func openLog(t *testing.T) *mmaplog.Log {
	t.Helper()
	l, err := mmaplog.Open(t.TempDir(), mmaplog.Options{
		SegmentSize: mmaplog.MinSegmentSize,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// TestCheck writes the same log to a Log and a model: Check passes; every
// way the two can differ is found, as a mismatch or as the log's error.
func TestCheck(t *testing.T) {
	l := openLog(t)
	m := &logtest.Model{}
	must(t, l.Append(run(1, 1, 20)...))
	must(t, m.Append(run(1, 1, 20)...))
	must(t, l.SaveVote(mmaplog.Vote{Term: 2, NodeID: 1}))
	must(t, m.SaveVote(mmaplog.Vote{Term: 2, NodeID: 1}))
	must(t, l.Commit(id(1, 15)))
	must(t, m.Commit(id(1, 15)))
	must(t, l.SaveUserData([]byte("meta")))
	m.SaveUserData([]byte("meta"))
	must(t, l.Purge(id(1, 5)))
	m.Purge(id(1, 5))
	must(t, l.Truncate(18))
	must(t, m.Truncate(18))
	if err := m.Check(l); err != nil {
		t.Fatalf("Check of the same log: %v", err)
	}
	if err := m.CheckRange(l, 8, 12); !errors.Is(err, logtest.ErrMismatch) {
		t.Fatalf("CheckRange of a part of the log: %v, want a mismatch (7 and 13 exist)", err)
	}

	mismatch := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, logtest.ErrMismatch) {
			t.Errorf("%s: %v, want ErrMismatch", what, err)
		}
	}
	// Another state.
	v := m.Clone()
	must(t, v.SaveVote(mmaplog.Vote{Term: 3}))
	mismatch("another vote", v.Check(l))
	empty := openLog(t)
	must(t, empty.SaveUserData([]byte{}))
	u := &logtest.Model{}
	mismatch("nil user data for empty", u.CheckState(empty))
	u.SaveUserData([]byte{})
	must(t, u.Check(empty))
	// Other bytes in an entry.
	b := &logtest.Model{}
	es := run(1, 1, 17)
	es[9].Payload = []byte{1, 10, 'q'}
	must(t, b.Append(es...))
	b.Purge(id(1, 5))
	mismatch("other bytes, by Get", b.CheckRange(l, b.First(), 17))
	mismatch("other bytes, by Entries", b.CheckScan(l))
	// Another term for an entry.
	tm := &logtest.Model{}
	must(t, tm.Append(run(1, 1, 16)...))
	must(t, tm.Append(ent(2, 17)))
	tm.Purge(id(1, 5))
	mismatch("another term", tm.CheckRange(l, tm.First(), 17))
	// The log holds more than the model, after and before.
	short := m.Clone()
	must(t, short.Truncate(17))
	mismatch("an entry after the model's last, by Get", short.CheckRange(l, short.First(), 16))
	mismatch("an entry after the model's last, by Entries", short.CheckScan(l))
	early := m.Clone()
	early.Purge(id(1, 6))
	mismatch("an entry before the model's first, by Get", early.CheckRange(l, early.First(), 17))
	mismatch("an entry before the model's first, by Entries", early.CheckScan(l))
	// The log holds less: Get's ErrNotFound is the log's error, not a
	// mismatch; Entries just ends early, a mismatch.
	long := m.Clone()
	must(t, long.Append(ent(1, 18)))
	err := long.CheckRange(l, long.First(), 18)
	if !errors.Is(err, mmaplog.ErrNotFound) || errors.Is(err, logtest.ErrMismatch) {
		t.Errorf("an entry the log lacks: %v, want the log's ErrNotFound only", err)
	}
	mismatch("an entry the log lacks, by Entries", long.CheckScan(l))
	// An index the model does not hold is the caller's mistake.
	if err := m.CheckRange(l, 1, 17); err == nil || errors.Is(err, logtest.ErrMismatch) {
		t.Errorf("CheckRange over purged indexes: %v, want an error that is no mismatch", err)
	}
	// A closed log: every read fails with the log's error.
	closed := openLog(t)
	must(t, closed.Close())
	if err := (&logtest.Model{}).CheckScan(closed); !errors.Is(err, mmaplog.ErrClosed) || errors.Is(err, logtest.ErrMismatch) {
		t.Errorf("CheckScan of a closed log: %v, want its ErrClosed only", err)
	}
	if err := m.CheckRange(closed, m.First(), 17); !errors.Is(err, mmaplog.ErrClosed) || errors.Is(err, logtest.ErrMismatch) {
		t.Errorf("CheckRange of a closed log: %v, want its ErrClosed only", err)
	}
}
