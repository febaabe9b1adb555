package mmaplog_test

// Readers racing the writer (appends, truncates, purges, rotations, flushes)
// and Close. Run with -race. Every Get returns the entry with its exact
// bytes, or ErrNotFound, or ErrClosed — nothing else, and never a fault.

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// raceSize is the payload size of id in the race tests: mostly small,
// sometimes larger than a segment.
func raceSize(id mmaplog.LogID) int {
	if (id.Index*7+id.Term)%397 == 0 {
		return mmaplog.MinSegmentSize + 100
	}
	return int((id.Index*31 + id.Term*17) % 400)
}

func raceEntry(term, index uint64) mmaplog.Entry {
	id := lid(term, index)
	return mmaplog.Entry{ID: id, Payload: payloadFor(id, raceSize(id))}
}

// checkRaceEntry reports an entry whose bytes are not the ones written for
// its ID (every ID is written with one payload only).
func checkRaceEntry(e mmaplog.Entry, want uint64) error {
	if e.ID.Index != want {
		return fmt.Errorf("asked for %d, got entry %v", want, e.ID)
	}
	if w := payloadFor(e.ID, raceSize(e.ID)); string(e.Payload) != string(w) {
		return fmt.Errorf("entry %v: %d bytes %q, want %d bytes %q", e.ID, len(e.Payload), trim(e.Payload), len(w), trim(w))
	}
	return nil
}

// raceReader reads l until it sees ErrClosed (or stop is set), checking
// everything it gets. It returns the number of entries it read.
func raceReader(t testing.TB, l *mmaplog.Log, seed uint64, stop *atomic.Bool) (n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	closedErr := func(what string, err error) bool {
		switch {
		case err == nil:
			return false
		case errors.Is(err, mmaplog.ErrClosed):
			return true
		default:
			t.Errorf("%s: unexpected error %v", what, err)
			return true
		}
	}
	for k := 0; !stop.Load(); k++ {
		st := l.State()
		if st.Last.Index < st.Purged.Index {
			t.Errorf("State: Last %v below Purged %v", st.Last, st.Purged)
			return n
		}
		lo := st.Purged.Index - min(st.Purged.Index, 2)
		i := lo + rng.Uint64N(st.Last.Index+3-lo)
		e, err := l.Get(i)
		switch {
		case err == nil:
			n++
			if err := checkRaceEntry(e, i); err != nil {
				t.Errorf("Get(%d): %v", i, err)
				return n
			}
		case errors.Is(err, mmaplog.ErrNotFound):
		case closedErr(fmt.Sprintf("Get(%d)", i), err):
			return n
		}
		if k%8 == 0 {
			prev := uint64(0)
			for e, err := range l.Entries(i, i+20) {
				if err != nil {
					if closedErr(fmt.Sprintf("Entries(%d, %d)", i, i+20), err) {
						return n
					}
					break
				}
				n++
				if e.ID.Index < i || e.ID.Index >= i+20 || e.ID.Index <= prev {
					t.Errorf("Entries(%d, %d) yielded %v after %d", i, i+20, e.ID, prev)
					return n
				}
				prev = e.ID.Index
				if err := checkRaceEntry(e, e.ID.Index); err != nil {
					t.Errorf("Entries(%d, %d): %v", i, i+20, err)
					return n
				}
			}
		}
		if k%16 == 0 {
			s := l.Stats()
			if s.FirstIndex > s.LastIndex || (s.FirstIndex != 0 && s.Entries != s.LastIndex-s.FirstIndex+1) ||
				(s.FirstIndex == 0 && s.Entries != 0) || s.Segments < 1 {
				t.Errorf("inconsistent Stats: %+v", s)
				return n
			}
		}
		if k%1024 == 0 && closedErr("Dump", l.Dump(io.Discard)) {
			return n
		}
	}
	return n
}

// raceWriter does ops random writes on l: appends (rotating), truncates
// (re-appending under a new term), purges (some beyond Last), flushes and
// the other records. term is the current term, carried across reopens.
func raceWriter(t testing.TB, l *mmaplog.Log, rng *rand.Rand, term *uint64, ops int) {
	t.Helper()
	st := l.State()
	next := st.Last.Index + 1
	var flushed atomic.Int64
	var cbFailed atomic.Bool
	flushes := 0
	for op := range ops {
		var err error
		what := ""
		switch r := rng.IntN(100); {
		case r < 60:
			n := 1 + rng.IntN(8)
			es := make([]mmaplog.Entry, n)
			for k := range es {
				es[k] = raceEntry(*term, next+uint64(k))
			}
			what = fmt.Sprintf("Append(%v..%d)", es[0].ID, next+uint64(n)-1)
			if err = l.Append(es...); err == nil {
				next += uint64(n)
			}
		case r < 70:
			st := l.State()
			to := max(st.Purged.Index+1, next-min(next, 1+rng.Uint64N(12)))
			what = fmt.Sprintf("Truncate(%d) of %v", to, st)
			if err = l.Truncate(to); err == nil {
				next = to
				*term++ // re-appended indexes get new IDs, so new payloads
			}
		case r < 76:
			st := l.State()
			var upto mmaplog.LogID
			switch {
			case rng.IntN(10) == 0:
				upto = lid(*term, st.Last.Index+1+rng.Uint64N(5)) // beyond Last
			case st.Last.Index > st.Purged.Index+150:
				e, err := l.Get(st.Last.Index - 100)
				if err != nil {
					t.Errorf("writer: Get(%d): %v", st.Last.Index-100, err)
					return
				}
				upto = e.ID
			default:
				continue
			}
			what = fmt.Sprintf("Purge(%v)", upto)
			if err = l.Purge(upto); err == nil && upto.Index >= next {
				next = upto.Index + 1
			}
		case r < 86:
			what = "Flush"
			flushes++
			err = l.Flush(func(err error) {
				if err != nil && !cbFailed.Swap(true) {
					t.Errorf("flush callback: %v", err)
				}
				flushed.Add(1)
			})
		case r < 87:
			what = "Sync"
			flushes++
			err = l.Flush(func(err error) { flushed.Add(1) })
			if err == nil {
				err = l.Sync()
			}
		case r < 91:
			what = "SaveVote"
			err = l.SaveVote(mmaplog.Vote{Term: *term, NodeID: 1})
		case r < 95:
			st := l.State()
			if st.Last.Less(st.Committed) {
				continue
			}
			what = "Commit"
			err = l.Commit(st.Last)
		default:
			what = "SaveUserData"
			err = l.SaveUserData(fmt.Appendf(nil, "op %d", op))
		}
		if err != nil {
			t.Errorf("writer op %d %s: %v", op, what, err)
			return
		}
	}
	if err := l.Sync(); err != nil {
		t.Errorf("final Sync: %v", err)
		return
	}
	if got := flushed.Load(); got != int64(flushes) {
		t.Errorf("%d flush callbacks ran, want %d", got, flushes)
	}
}

func TestRaceReadersVsWriter(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	term := uint64(1)
	for cycle := range 3 {
		l := logtest.MustOpen(t, dir, smallOpts())
		var stop atomic.Bool
		var wg sync.WaitGroup
		var reads atomic.Int64
		for r := range 2 {
			wg.Go(func() { reads.Add(int64(raceReader(t, l, seed+uint64(cycle*10+r), &stop))) })
		}
		raceWriter(t, l, rng, &term, 1000)
		err := l.Close() // while the readers run
		stop.Store(true)
		wg.Wait()
		if err != nil {
			t.Fatalf("cycle %d: Close: %v", cycle, err)
		}
		if t.Failed() {
			t.Fatalf("cycle %d failed (seed %d)", cycle, seed)
		}
		if reads.Load() == 0 {
			t.Fatalf("cycle %d: the readers read nothing", cycle)
		}
		term++
	}
	// What is left reads back intact.
	l := logtest.MustOpen(t, dir, smallOpts())
	st := l.State()
	for e, err := range l.Entries(0, st.Last.Index+1) {
		if err != nil {
			t.Fatalf("Entries after the race: %v", err)
		}
		if err := checkRaceEntry(e, e.ID.Index); err != nil {
			t.Fatal(err)
		}
	}
}

// Close racing many readers of a multi-segment log, repeatedly.
func TestRaceCloseWhileReading(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	var es []mmaplog.Entry
	for i := uint64(1); i <= 400; i++ {
		es = append(es, raceEntry(1, i))
	}
	logtest.MustAppend(t, l, es...)
	logtest.MustClose(t, l)
	for round := range 5 {
		l := logtest.MustOpen(t, dir, smallOpts())
		var started sync.WaitGroup
		var wg sync.WaitGroup
		var stop atomic.Bool
		for r := range 4 {
			started.Add(1)
			wg.Go(func() {
				started.Done()
				raceReader(t, l, uint64(round*4+r), &stop)
			})
		}
		started.Wait()
		// Let the readers get going, then close under them.
		for i := range 200 {
			if _, err := l.Get(uint64(1 + i%400)); err != nil {
				t.Fatalf("Get: %v", err)
			}
		}
		logtest.MustClose(t, l)
		wg.Wait()
		if _, err := l.Get(1); !errors.Is(err, mmaplog.ErrClosed) {
			t.Fatalf("Get after Close: %v", err)
		}
	}
}
