// Package fuzz is raftlog's crash-recovery torture suite. Its tests drive
// mmaplog through the public API on the power-loss simulator in
// internal/crashfs (families F1–F6 and F8) and on real files with kill -9 (F7),
// and hold the `go test -fuzz` targets (F5). This file holds the two
// pieces the tests share: a random workload generator and the oracle that
// says which recovered logs are correct, built on the shared reference
// model of the log (internal/logtest).
//
// Run: go test -race -v ./fuzz/ (CI sizes); -short for a quick pass;
// FUZZ_SCALE=100 or -args -torture for 100 times more. Every failure
// prints its seed and the command that replays it.
//
// Nothing here is safe for concurrent use.
package fuzz

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// Kind is a workload operation.
type Kind uint8

// Operations. Append, Vote, Commit, UserData, Truncate and Purge write
// records; Flush, Sync and Reopen do not.
const (
	Append Kind = iota
	Vote
	Commit
	UserData
	Truncate
	Purge
	Flush     // Flush with a callback that records the acknowledgement
	Sync      // Flush and wait
	Reopen    // Close, then Open again
	Writeback // the kernel writes every dirty page back early (scripted workloads only)
)

var kindNames = [...]string{"append", "vote", "commit", "userdata", "truncate", "purge", "flush", "sync", "reopen", "writeback"}

func (k Kind) String() string { return kindNames[k] }

// Op is one workload operation.
type Op struct {
	Kind    Kind
	Entries []mmaplog.Entry // Append
	Vote    mmaplog.Vote    // Vote
	ID      mmaplog.LogID   // Commit, Purge
	Index   uint64          // Truncate
	Data    []byte          // UserData (nil clears)
}

func (op Op) String() string {
	switch op.Kind {
	case Append:
		n := 0
		for _, e := range op.Entries {
			n += len(e.Payload)
		}
		return fmt.Sprintf("append(%v..%v, %d bytes)", op.Entries[0].ID, op.Entries[len(op.Entries)-1].ID, n)
	case Vote:
		return fmt.Sprintf("vote(%v)", op.Vote)
	case Commit, Purge:
		return fmt.Sprintf("%v(%v)", op.Kind, op.ID)
	case Truncate:
		return fmt.Sprintf("truncate(%d)", op.Index)
	case UserData:
		return fmt.Sprintf("userdata(%d bytes, nil=%v)", len(op.Data), op.Data == nil)
	}
	return op.Kind.String()
}

// Do applies a writing op to l.
func (op Op) Do(l *mmaplog.Log) error {
	switch op.Kind {
	case Append:
		return l.Append(op.Entries...)
	case Vote:
		return l.SaveVote(op.Vote)
	case Commit:
		return l.Commit(op.ID)
	case UserData:
		return l.SaveUserData(op.Data)
	case Truncate:
		return l.Truncate(op.Index)
	case Purge:
		return l.Purge(op.ID)
	}
	return fmt.Errorf("fuzz: %v is not a write", op.Kind)
}

// Oracle says which recovered logs are correct after a crash. It is built
// on the reference model (internal/logtest): it numbers every record the
// log writes as one step (an Append of n entries is n steps) and can give
// the model of the log after any step, so that a recovered log can be
// matched against "the log after step i" for the steps a crash may have
// left.
type Oracle struct {
	base   *logtest.Model  // the log at step 0
	ops    []Op            // ops[i-1] wrote the record of step i (one entry per Append)
	states []mmaplog.State // states[i]: the state after step i
	m      *logtest.Model  // the log after the last step
}

// NewOracle returns an oracle of an empty log.
func NewOracle() *Oracle { return newOracle(&logtest.Model{}) }

// NewOracleAt returns an oracle whose step 0 is a log with state st and
// live entries ents.
func NewOracleAt(st mmaplog.State, ents []mmaplog.Entry) (*Oracle, error) {
	m, err := logtest.Restore(st, ents)
	if err != nil {
		return nil, err
	}
	return newOracle(m), nil
}

func newOracle(m *logtest.Model) *Oracle {
	return &Oracle{base: m.Clone(), states: []mmaplog.State{m.State()}, m: m}
}

// First is the first live index after the last step (the model's First):
// entries exist in [First, Last.Index].
func (o *Oracle) First() uint64 { return o.m.First() }

// Steps is the number of the last step.
func (o *Oracle) Steps() int { return len(o.states) - 1 }

// State is the state after the last step.
func (o *Oracle) State() mmaplog.State { return o.m.State() }

// StateAt is the state after step i.
func (o *Oracle) StateAt(i int) mmaplog.State { return o.states[i] }

// Entry returns the entry at index x after the last step.
func (o *Oracle) Entry(x uint64) (mmaplog.Entry, bool) { return o.m.Entry(x) }

// modelAt returns the model after step i: step 0 with the ops of steps
// 1..i applied. The caller must not modify it (it is o's own for the last
// step).
func (o *Oracle) modelAt(i int) *logtest.Model {
	if i == o.Steps() {
		return o.m
	}
	m := o.base.Clone()
	for _, op := range o.ops[:i] {
		_ = apply(m, op) // it was accepted when recorded
	}
	return m
}

// apply applies a writing op to the model.
func apply(m *logtest.Model, op Op) error {
	switch op.Kind {
	case Append:
		return m.Append(op.Entries...)
	case Vote:
		return m.SaveVote(op.Vote)
	case Commit:
		return m.Commit(op.ID)
	case UserData:
		m.SaveUserData(op.Data)
	case Truncate:
		return m.Truncate(op.Index)
	case Purge:
		m.Purge(op.ID)
	}
	return nil
}

// Apply records a writing op that the log accepted (or that it may have
// written in part before failing). Ops that write nothing (a Truncate at
// Last+1, a Purge at or below Purged) add no step. It panics when the
// model rejects the op: the log accepted what its contract forbids, or the
// caller applied an op the log did not accept.
func (o *Oracle) Apply(op Op) {
	cur := o.State()
	switch op.Kind {
	case Append:
		for k := range op.Entries {
			o.step(Op{Kind: Append, Entries: op.Entries[k : k+1]})
		}
	case Vote, Commit, UserData:
		o.step(op)
	case Truncate:
		if op.Index != cur.Last.Index+1 {
			o.step(op)
		}
	case Purge:
		if op.ID.Index > cur.Purged.Index {
			o.step(op)
		}
	}
}

func (o *Oracle) step(op Op) {
	if err := apply(o.m, op); err != nil {
		panic(fmt.Sprintf("fuzz: oracle step %d: the model rejects %v: %v", o.Steps()+1, op, err))
	}
	o.ops = append(o.ops, op)
	o.states = append(o.states, o.m.State())
}

// Rewind forgets every step after step (the log recovered to it and goes
// on from there).
func (o *Oracle) Rewind(step int) {
	o.m = o.modelAt(step)
	o.ops = o.ops[:step]
	o.states = o.states[:step+1]
}

// ErrMismatch matches every error of Check that says the log is wrong
// (as opposed to an error the log returned, which Check wraps).
var ErrMismatch = logtest.ErrMismatch

// Check matches l against the steps lo..Steps(): its state must be the
// state after one of them, and every entry in [First, Last] must be that
// step's entry, bit-exact, with ErrNotFound just outside. It returns the
// step matched. lo is the last acknowledged step: anything before it lost
// is a durability violation. Check only reads o.
func (o *Oracle) Check(l *mmaplog.Log, lo int) (int, error) {
	got := l.State()
	var firstErr error
	for i := o.Steps(); i >= lo; i-- {
		if !got.Equal(o.states[i]) {
			continue
		}
		m := o.modelAt(i)
		err := m.CheckRange(l, m.First(), m.State().Last.Index)
		if err == nil {
			return i, nil
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("step %d: %w", i, err)
		}
		if !errors.Is(err, ErrMismatch) {
			break // a read error: no other step will read better
		}
	}
	if firstErr != nil {
		return -1, firstErr
	}
	return -1, fmt.Errorf("%w: recovered state {%s} is the state of no step in [%d, %d]; acknowledged step %d is {%s}, last step is {%s}",
		ErrMismatch, logtest.StateString(got), lo, o.Steps(), lo, logtest.StateString(o.states[lo]), logtest.StateString(o.State()))
}

// Gen draws random valid operations for the oracle's current state:
// payloads of 0 B to 256 KiB (mostly small), batches of 1–8 entries,
// suffix truncations (each starting a new term, so that every LogID names
// one payload), purges (some beyond Last), votes, commits, user data,
// flushes, syncs and reopens.
type Gen struct {
	rng  *rand.Rand
	o    *Oracle
	term uint64
	// MaxPayload caps payload sizes (default 256 KiB).
	MaxPayload int
	// NoReopen leaves Reopen out.
	NoReopen bool
	// BatchScale multiplies the number of entries of every append
	// (default 1: 1–8).
	BatchScale int
}

// NewGen returns a generator drawing from rng for the state of o.
func NewGen(rng *rand.Rand, o *Oracle) *Gen {
	return &Gen{rng: rng, o: o, term: max(1, o.State().Last.Term, o.State().Vote.Term), MaxPayload: 256 << 10}
}

// Payload returns n random bytes (never nil).
func (g *Gen) Payload(n int) []byte {
	b := make([]byte, (n+7)&^7)
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], g.rng.Uint64())
	}
	return b[:n:n]
}

// PayloadSize draws a payload size: 0–64 B (45%), to 1 KiB (27%), to 8 KiB
// (16%), to 60 KiB (8%), to MaxPayload (4%).
func (g *Gen) PayloadSize() int {
	var lo, hi int
	switch r := g.rng.IntN(100); {
	case r < 45:
		lo, hi = 0, 64
	case r < 72:
		lo, hi = 65, 1024
	case r < 88:
		lo, hi = 1025, 8192
	case r < 96:
		lo, hi = 8193, 60<<10
	default:
		lo, hi = 60<<10+1, 256<<10
	}
	hi = min(hi, g.MaxPayload)
	lo = min(lo, hi)
	return lo + g.rng.IntN(hi-lo+1)
}

// Next draws the next operation.
func (g *Gen) Next() Op {
	st := g.o.State()
	live := st.Last.Index > st.Purged.Index
	for {
		switch r := g.rng.IntN(100); {
		case r < 50:
			return g.append(st)
		case r < 62:
			return Op{Kind: Flush}
		case r < 65:
			return Op{Kind: Sync}
		case r < 70:
			return g.vote(st)
		case r < 76:
			id := st.Committed
			if st.Committed.Less(st.Last) {
				id = st.Last
			}
			return Op{Kind: Commit, ID: id}
		case r < 79:
			if g.rng.IntN(4) == 0 {
				return Op{Kind: UserData}
			}
			return Op{Kind: UserData, Data: g.Payload(g.rng.IntN(2000))}
		case r < 86 && live:
			g.term++ // re-appended entries get new LogIDs
			lo := g.o.First()
			if lo > st.Purged.Index+1 {
				lo++ // Truncate(First) would need the missing entry First-1
			}
			return Op{Kind: Truncate, Index: lo + g.rng.Uint64N(st.Last.Index+2-lo)}
		case r < 93:
			return g.purge(st)
		case r < 96 && !g.NoReopen:
			return Op{Kind: Reopen}
		}
	}
}

func (g *Gen) append(st mmaplog.State) Op {
	next := st.Last.Index + 1
	if st.Last.IsZero() && g.rng.IntN(4) == 0 {
		next = 1 + g.rng.Uint64N(1000) // a fresh log may start anywhere
	}
	if g.rng.IntN(20) == 0 {
		g.term++
	}
	g.term = max(g.term, st.Last.Term)
	n := (1 + g.rng.IntN(8)) * max(1, g.BatchScale)
	op := Op{Kind: Append}
	for i := range n {
		op.Entries = append(op.Entries, mmaplog.Entry{ID: mmaplog.LogID{Term: g.term, Index: next + uint64(i)}, Payload: g.Payload(g.PayloadSize())})
	}
	return op
}

func (g *Gen) vote(st mmaplog.State) Op {
	v := st.Vote
	switch {
	case v.Term > 0 && v.NodeID == 0 && g.rng.IntN(2) == 0:
		v.NodeID = 1 + g.rng.Uint64N(5)
	case v.NodeID != 0 && !v.Committed && g.rng.IntN(2) == 0:
		v.Committed = true
	default:
		v = mmaplog.Vote{Term: v.Term + 1 + g.rng.Uint64N(2), NodeID: g.rng.Uint64N(6), Committed: g.rng.IntN(3) == 0}
		if v.NodeID == 0 {
			v.Committed = false
		}
	}
	return Op{Kind: Vote, Vote: v}
}

func (g *Gen) purge(st mmaplog.State) Op {
	switch r := g.rng.IntN(10); {
	case r == 0 || st.Last.Index == 0:
		return Op{Kind: Purge, ID: st.Purged} // no-op
	case r == 1:
		// Beyond Last: the log becomes empty and restarts after it.
		g.term = max(g.term, st.Last.Term)
		return Op{Kind: Purge, ID: mmaplog.LogID{Term: g.term, Index: st.Last.Index + 1 + g.rng.Uint64N(3)}}
	default:
		lo := g.o.First()
		if st.Last.Index < lo {
			return Op{Kind: Purge, ID: st.Purged}
		}
		x := lo + g.rng.Uint64N(st.Last.Index-lo+1)
		e, _ := g.o.Entry(x)
		return Op{Kind: Purge, ID: e.ID}
	}
}
