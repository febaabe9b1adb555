package mmaplog_test

// A seeded, model-based random test of the whole API (including Close +
// reopen and a kill -9 copy of the directory) against the shared reference
// model (internal/logtest), which implements DESIGN.md's rules on its own.
//
//	go test -run TestModel ./mmaplog/                 # a few seconds, random seeds
//	go test -run TestModel ./mmaplog/ -seed=N         # replay a round (printed on failure)
//	go test -run TestModel ./mmaplog/ -long           # a minute
//	RAFTLOG_MODEL_SECONDS=300 go test -run TestModel ./mmaplog/

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

var (
	modelSeed = flag.Uint64("seed", 0, "TestModel: run this round seed first (0: random)")
	modelLong = flag.Bool("long", false, "TestModel: run for a minute instead of a few seconds")
)

// modelBudget is how long TestModel keeps starting new rounds.
func modelBudget(t testing.TB) time.Duration {
	t.Helper()
	if s := os.Getenv("RAFTLOG_MODEL_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("RAFTLOG_MODEL_SECONDS=%q: %v", s, err)
		}
		return time.Duration(n) * time.Second
	}
	if *modelLong {
		return time.Minute
	}
	if testing.Short() {
		return 500 * time.Millisecond
	}
	return 2 * time.Second
}

const modelOpsPerRound = 300

func TestModel(t *testing.T) {
	seed := *modelSeed
	if seed == 0 {
		seed = rand.Uint64() >> 1
	}
	t.Logf("seed %d (replay: go test -run TestModel ./mmaplog/ -seed=%d)", seed, seed)
	deadline := time.Now().Add(modelBudget(t))
	rounds := 0
	for ; rounds == 0 || time.Now().Before(deadline); rounds++ {
		runModelRound(t, seed+uint64(rounds))
		if t.Failed() {
			return
		}
	}
	t.Logf("%d rounds of %d ops", rounds, modelOpsPerRound)
}

// modelRun is one round: a log, its model, and the flush bookkeeping.
type modelRun struct {
	t     testing.TB
	rng   *rand.Rand
	dir   string
	opts  mmaplog.Options
	l     *mmaplog.Log
	m     *logtest.Model
	term  uint64
	trail []string // the last ops, for the failure message

	mu      sync.Mutex
	issued  int   // Flush calls that returned nil
	called  []int // callback sequence numbers, in the order they ran
	cbError error
}

func (r *modelRun) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("%s\nlast ops:\n  %s", fmt.Sprintf(format, args...), strings.Join(r.trail, "\n  "))
}

func (r *modelRun) note(format string, args ...any) {
	r.trail = append(r.trail, fmt.Sprintf(format, args...))
	if len(r.trail) > 25 {
		r.trail = r.trail[1:]
	}
}

func runModelRound(t *testing.T, seed uint64) {
	t.Helper()
	r := &modelRun{
		t: t, rng: rand.New(rand.NewPCG(seed, 0x6d6f64656c)), dir: t.TempDir(),
		opts: smallOpts(), m: &logtest.Model{}, term: 1,
	}
	defer func() {
		if t.Failed() {
			t.Logf("failed round: replay with -seed=%d", seed)
		}
	}()
	r.l = logtest.MustOpen(t, r.dir, r.opts)
	for op := range modelOpsPerRound {
		r.step(op)
		r.checkState()
		if op%25 == 24 {
			r.checkAll(r.l, "periodic check")
		}
	}
	r.reopen()
	if err := r.l.Close(); err != nil {
		r.fatalf("final Close: %v", err)
	}
}

func (r *modelRun) checkState() {
	r.t.Helper()
	if err := r.m.CheckState(r.l); err != nil {
		r.fatalf("%v", err)
	}
}

// checkAll compares l with the model: State, every entry, Entries, Stats.
func (r *modelRun) checkAll(l *mmaplog.Log, when string) {
	r.t.Helper()
	if err := r.m.Check(l); err != nil {
		r.fatalf("%s: %v", when, err)
	}
	s := l.Stats()
	if s.Failed != nil {
		r.fatalf("%s: Stats().Failed = %v", when, s.Failed)
	}
	// Stats counts from Purged.Index+1 (not so after a first append above
	// index 1).
	if st := r.m.State(); r.m.First() == st.Purged.Index+1 {
		var first, last uint64
		if r.m.Len() > 0 {
			first, last = r.m.First(), st.Last.Index
		}
		if s.Entries != uint64(r.m.Len()) || s.FirstIndex != first || s.LastIndex != last {
			r.fatalf("%s: Stats() = {Entries %d First %d Last %d}, model has %d entries %d..%d",
				when, s.Entries, s.FirstIndex, s.LastIndex, r.m.Len(), first, last)
		}
	}
}

// checkFlushes asserts that every issued Flush called back exactly once,
// in order, with nil. Call when all of them must have run.
func (r *modelRun) checkFlushes(when string) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cbError != nil {
		r.fatalf("%s: a flush callback got %v", when, r.cbError)
	}
	if len(r.called) != r.issued {
		r.fatalf("%s: %d flush callbacks ran, %d flushes issued", when, len(r.called), r.issued)
	}
	for i, v := range r.called {
		if v != i {
			r.fatalf("%s: flush callbacks ran in order %v", when, r.called)
		}
	}
}

func (r *modelRun) reopen() {
	r.t.Helper()
	r.note("Close + Open")
	if err := r.l.Close(); err != nil {
		r.fatalf("Close: %v", err)
	}
	r.checkFlushes("after Close")
	l, err := mmaplog.Open(r.dir, r.opts)
	if err != nil {
		r.fatalf("reopen: %v", err)
	}
	r.t.Cleanup(func() { _ = l.Close() })
	r.l = l
	r.checkAll(r.l, "after reopen")
	r.mu.Lock()
	r.issued, r.called = 0, nil
	r.mu.Unlock()
}

// payloadSize: mostly small, sometimes pages, rarely beyond a segment.
func (r *modelRun) payloadSize() int {
	switch x := r.rng.IntN(100); {
	case x < 2:
		return mmaplog.MinSegmentSize + r.rng.IntN(mmaplog.MinSegmentSize)
	case x < 8:
		return 1000 + r.rng.IntN(8000)
	case x < 15:
		return 0
	default:
		return r.rng.IntN(300)
	}
}

func (r *modelRun) entry(term, index uint64) mmaplog.Entry {
	return ent(term, index, r.payloadSize())
}

// expectErr checks a call's error against the model's outcome (nil:
// success) and, for a rejected call, that nothing changed.
func (r *modelRun) expectErr(what string, err, want error, usedBefore int64) {
	r.t.Helper()
	if want == nil {
		if err != nil {
			r.fatalf("%s: %v, want success", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		r.fatalf("%s: %v, want %v", what, err, want)
	}
	if used := r.l.Stats().BytesUsed; used != usedBefore {
		r.fatalf("%s: rejected, but BytesUsed changed %d -> %d", what, usedBefore, used)
	}
}

func (r *modelRun) step(op int) {
	r.t.Helper()
	l, m, rng := r.l, r.m, r.rng
	st := m.State() // before the op
	used := l.Stats().BytesUsed
	// Keep the log small: purge more when it grows.
	purgeBias := 0
	if m.Len() > 300 {
		purgeBias = 15
	}
	switch x := rng.IntN(100 + purgeBias); {
	case x < 30: // valid append
		n := 1 + rng.IntN(4)
		start := st.Last.Index + 1
		if st.Last == (mmaplog.LogID{}) && rng.IntN(3) == 0 {
			start = 1 + rng.Uint64N(20) // first append may start anywhere
		}
		r.term = max(r.term, st.Last.Term)
		if rng.IntN(10) == 0 {
			r.term++
		}
		es := make([]mmaplog.Entry, n)
		for i := range es {
			es[i] = r.entry(r.term, start+uint64(i))
		}
		r.note("Append(%s)", fmtEntries(es))
		r.expectErr("Append", l.Append(es...), m.Append(es...), used)
	case x < 35: // invalid append
		last := st.Last
		var es []mmaplog.Entry
		switch rng.IntN(4) {
		case 0:
			es = []mmaplog.Entry{r.entry(last.Term+1, last.Index+2+rng.Uint64N(3))} // gap
		case 1:
			es = []mmaplog.Entry{r.entry(last.Term-min(last.Term, 1), last.Index+1)} // lower term
		case 2:
			es = []mmaplog.Entry{r.entry(last.Term+1, last.Index+1), r.entry(last.Term+1, last.Index+3)} // bad second
		default:
			es = []mmaplog.Entry{r.entry(last.Term, 0)} // index 0
		}
		r.note("Append(%s) (invalid?)", fmtEntries(es))
		r.expectErr("Append", l.Append(es...), m.Append(es...), used)
	case x < 43: // vote
		cur := st.Vote
		v := mmaplog.Vote{Term: cur.Term + rng.Uint64N(3) - min(cur.Term, 1), NodeID: rng.Uint64N(4)}
		v.Committed = v.NodeID != 0 && rng.IntN(3) == 0
		r.note("SaveVote(%v) from %v", v, cur)
		r.expectErr("SaveVote", l.SaveVote(v), m.SaveVote(v), used)
	case x < 49: // commit
		c := st.Committed
		id := lid(c.Term+rng.Uint64N(3)-min(c.Term, 1), c.Index+rng.Uint64N(6)-min(c.Index, 2))
		r.note("Commit(%v) from %v", id, c)
		r.expectErr("Commit", l.Commit(id), m.Commit(id), used)
	case x < 55: // truncate
		lo := st.Purged.Index - min(st.Purged.Index, 1)
		idx := lo + rng.Uint64N(st.Last.Index+3-lo)
		if rng.IntN(2) == 0 && st.Last.Index > st.Purged.Index+3 {
			idx = st.Last.Index - rng.Uint64N(3) // near the end, the common case
		}
		r.note("Truncate(%d) with purged %v last %v", idx, st.Purged, st.Last)
		r.expectErr("Truncate", l.Truncate(idx), m.Truncate(idx), used)
	case x < 60 || x >= 100: // purge
		var upto mmaplog.LogID
		if rng.IntN(6) == 0 {
			upto = lid(max(r.term, st.Last.Term), st.Last.Index+1+rng.Uint64N(4)) // beyond Last
		} else {
			lo := st.Purged.Index - min(st.Purged.Index, 1)
			idx := lo + rng.Uint64N(st.Last.Index+1-lo)
			if e, ok := m.Entry(idx); ok {
				upto = e.ID
			} else {
				upto = lid(st.Purged.Term, idx)
			}
		}
		r.note("Purge(%v) with purged %v last %v", upto, st.Purged, st.Last)
		if err := l.Purge(upto); err != nil {
			r.fatalf("Purge(%v): %v", upto, err)
		}
		if upto.Index <= st.Purged.Index {
			if got := l.Stats().BytesUsed; got != used {
				r.fatalf("no-op Purge(%v) wrote %d bytes", upto, got-used)
			}
		}
		m.Purge(upto)
	case x < 64: // user data
		var ud []byte
		switch y := rng.IntN(10); {
		case y < 3:
		case y < 5:
			ud = []byte{}
		case y < 6:
			ud = bytes.Repeat([]byte{byte(op)}, 5000)
		default:
			ud = fmt.Appendf(nil, "user data %d", op)
		}
		r.note("SaveUserData(%d bytes, nil=%v)", len(ud), ud == nil)
		if err := l.SaveUserData(ud); err != nil {
			r.fatalf("SaveUserData: %v", err)
		}
		m.SaveUserData(ud)
	case x < 70: // flush
		r.mu.Lock()
		seq := r.issued
		r.mu.Unlock()
		r.note("Flush #%d", seq)
		err := l.Flush(func(err error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if err != nil && r.cbError == nil {
				r.cbError = err
			}
			r.called = append(r.called, seq)
		})
		if err != nil {
			r.fatalf("Flush: %v", err)
		}
		r.mu.Lock()
		r.issued++
		r.mu.Unlock()
	case x < 71: // sync
		r.note("Sync")
		if err := l.Sync(); err != nil {
			r.fatalf("Sync: %v", err)
		}
		r.checkFlushes("after Sync")
	case x < 82: // get
		lo := st.Purged.Index - min(st.Purged.Index, 1)
		idx := lo + rng.Uint64N(st.Last.Index+3-lo)
		r.note("Get(%d)", idx)
		got, err := l.Get(idx)
		if w, ok := m.Entry(idx); ok {
			if err != nil || !sameEntry(got, w) {
				r.fatalf("Get(%d) = %v %q, %v; want %v %q", idx, got.ID, trim(got.Payload), err, w.ID, trim(w.Payload))
			}
		} else if !errors.Is(err, mmaplog.ErrNotFound) {
			r.fatalf("Get(%d) = %v, %v; want ErrNotFound", idx, got.ID, err)
		}
	case x < 90: // entries
		lo := st.Purged.Index - min(st.Purged.Index, 2)
		from := lo + rng.Uint64N(st.Last.Index+3-lo)
		to := from + rng.Uint64N(30)
		r.note("Entries(%d, %d)", from, to)
		got, err := collect(l, from, to)
		if want := m.Entries(from, to); err != nil || !slices.EqualFunc(got, want, sameEntry) {
			r.fatalf("Entries(%d, %d) = %s, %v\nwant %s", from, to, fmtEntries(got), err, fmtEntries(want))
		}
	case x < 92: // reopen
		r.reopen()
	case x < 93: // kill -9: a copy of the directory holds every returned write
		r.note("crash copy")
		dir := logtest.CopyDir(r.t, r.dir)
		c, err := mmaplog.Open(dir, r.opts)
		if err != nil {
			r.fatalf("Open of a crash copy: %v", err)
		}
		r.checkAll(c, "crash copy")
		if err := c.Close(); err != nil {
			r.fatalf("Close of the crash copy: %v", err)
		}
	default: // stats, against the model
		r.note("Stats")
		r.checkAll(l, "Stats")
	}
}
