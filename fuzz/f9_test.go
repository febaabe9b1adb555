package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// F9: Repair under power loss. Each seed builds an F4 base (a random
// workload to a fully durable end) and damages copies of it: F4's faults
// (one, or two at once), a bit of a State record, a segment file made
// shorter or longer than its header says, an index (or its header) copied
// over another. On each copy:
//
//   - The reference: an uninterrupted Repair. Its log must open at an
//     oracle step no earlier than the first damaged record (nothing before
//     the damage is lost), bit-exact (nothing damaged comes back), with the
//     newest vote of any intact record (a vote the cut took is written
//     back); only when the damage hits the first segment's header or State
//     snapshot may the whole log go (but not the vote). Damage that nothing
//     vouches for cannot be told from a torn tail: there the vote is only
//     checked to be one the log held (ambiguous).
//   - Repair again on another copy, with a power loss captured after every
//     operation of it that changes the disk (crash points) and at the start
//     of every sync (mid-sync points, each 512-byte sector of the sync
//     landing or not). Each crash point gives three images: nothing
//     unsynced survives, a random survival (pages kept, dropped, torn,
//     zeroed or garbled; metadata changes kept or reverted, independently or
//     in order), and a kill -9 (page cache kept); each mid-sync point two.
//     On every image the node's Open succeeds at a state the damage allows
//     (the vote as any the log held: the repair is unfinished), or fails
//     with a CorruptError, or a read fails with one (through a sealed
//     index that Open trusted); then a Repair converges: it succeeds, a
//     power loss right after it loses nothing, a further Repair changes
//     nothing, and the log is exactly the reference's (I5 for Repair).
//     A log Repair leaves untouched sees no change but syncs.
//   - A fault at every operation of Repair that changes the disk (EIO or
//     ENOSPC, once; at each sync also a failed write-back, whose pages are
//     marked clean but never reach the disk): Repair returns an error that
//     wraps the fault (or, where it may ignore one, succeeds and converges),
//     and a later Repair, in the same boot or after a power loss, converges.
func TestF9RepairCrashes(t *testing.T) {
	fam := newFamily(t, "F9")
	for _, k := range []string{"damaged", "repairs", "untouched", "crash-points", "crash-images", "mid-sync-points", "mid-sync-images", "open-ok", "open-corrupt", "get-corrupt", "fault-sites", "fault-errors", "fault-ignored", "fault-then-power-loss", "writeback-sites", "ambiguous"} {
		fam.add(k, 0)
	}
	want := count(6)
	fam.forSeeds(func() bool { return fam.get("repairs") >= want }, func(seed uint64) error {
		return f9Seed(fam, seed)
	})
	fam.summary()
}

// f9PerBase is how many damaged copies of each base are repaired.
const f9PerBase = 3

// f9Mutating lists the operations that change what the disk may hold:
// a power loss is captured after each, and a fault injected into each.
var f9Mutating = map[crashfs.Op]bool{
	crashfs.OpCreate: true, crashfs.OpRename: true, crashfs.OpRemove: true, crashfs.OpSyncDir: true,
	crashfs.OpWriteAt: true, crashfs.OpResize: true, crashfs.OpDatasync: true, crashfs.OpMsync: true, crashfs.OpReuse: true,
}

func f9Seed(fam *family, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 9))
	b, o, err := f4Build(rng)
	if err != nil {
		fam.baseFailure(seed, err)
		return nil
	}
	clean := b.snap.Image(b.snap.KeepAll())
	steps, err := f9Steps(b, o, clean)
	if err != nil {
		return err
	}
	for k := range f9PerBase {
		img := b.snap.Image(b.snap.KeepAll())
		desc, vouched, ok := f9Inject(rng, b, img)
		if !ok {
			continue
		}
		fam.add("damaged", 1)
		c := newF9Case(fam, o, b, steps, clean, img, vouched)
		if trace {
			fmt.Fprintf(os.Stderr, "F9 seed %d: %s: steps %d..%d empty=%v strict=%v\n", seed, desc, c.lo, c.hi, c.empty, c.strict)
			dumpImage(img.Snapshot().Image(crashfs.Plan{}))
		}
		// The case draws from its own stream: the injections do not
		// depend on what the cases before them drew.
		if err := c.run(rand.New(rand.NewPCG(seed, 90+uint64(k))), img.Snapshot()); err != nil {
			fam.violation(seed, "%s: %v", desc, err)
		}
	}
	return nil
}

// f9Steps returns, for each of b's records, the oracle step its log holds
// after it: each record is one step, except State records (a segment's
// snapshot, a clean close), which repeat the state before them. It checks
// every State record against the oracle, so that the numbering is right.
func f9Steps(b *f4Base, o *Oracle, clean *crashfs.FS) ([]int, error) {
	n := 0
	for _, r := range b.recs {
		if r.typ != format.TypeState {
			n++
		}
	}
	step := b.expected - n
	if step < 0 {
		return nil, fmt.Errorf("%d records beyond state snapshots, %d oracle steps", n, b.expected)
	}
	steps := make([]int, len(b.recs))
	for k, r := range b.recs {
		if r.typ != format.TypeState {
			step++
			steps[k] = step
			continue
		}
		steps[k] = step
		data, _ := clean.ReadFile(b.segs[r.seg].path)
		rec, err := format.ReadRecord(data, r.off)
		if err != nil {
			return nil, fmt.Errorf("%s+%d: %w", b.segs[r.seg].path, r.off, err)
		}
		st, err := format.State(rec.Body)
		if err != nil {
			return nil, fmt.Errorf("%s+%d: %w", b.segs[r.seg].path, r.off, err)
		}
		if !st.Equal(o.StateAt(step)) {
			return nil, fmt.Errorf("%s+%d: State record {%s} is not oracle step %d {%s}: records and steps do not match",
				b.segs[r.seg].path, r.off, logtest.StateString(st), step, logtest.StateString(o.StateAt(step)))
		}
	}
	return steps, nil
}

var f9Kinds = []string{"f4", "f4", "f4", "f4", "f4x2", "state-record", "state-record", "short-segment", "long-segment", "index-copy"}

// f9Inject damages img: F4's faults, or one of F9's own. It returns a
// description, whether every damaged byte was vouched for, and false when
// nothing changed.
func f9Inject(rng *rand.Rand, b *f4Base, img *crashfs.FS) (string, bool, bool) {
	kind := f9Kinds[rng.IntN(len(f9Kinds))]
	switch kind {
	case "f4", "f4x2":
		n := 1
		if kind == "f4x2" {
			n = 2
		}
		var descs []string
		all := true
		for range n {
			desc, _, vouched, ok := f4Inject(rng, b, img)
			if ok {
				descs = append(descs, desc)
				all = all && vouched
			}
		}
		return strings.Join(descs, "; "), all, len(descs) > 0
	case "state-record":
		var states []f4Record
		for _, r := range b.recs {
			if r.typ == format.TypeState {
				states = append(states, r)
			}
		}
		if len(states) == 0 {
			return "", false, false
		}
		r := states[rng.IntN(len(states))]
		at := r.off + rng.Int64N(r.end-r.off)
		bit := byte(1) << rng.IntN(8)
		img.Mutate(b.segs[r.seg].path, func(data []byte) { data[at] ^= bit })
		vouched, by := b.vouched(r.seg, at, at, at+1)
		return fmt.Sprintf("bit flip in the State record at %s+%d (byte %d, %s)", filepath.Base(b.segs[r.seg].path), r.off, at, by), vouched, true
	case "short-segment", "long-segment":
		k := rng.IntN(len(b.segs))
		s := &b.segs[k]
		data, _ := img.ReadFile(s.path)
		size := int64(len(data))
		if kind == "long-segment" {
			more := make([]byte, 1+rng.IntN(2*crashfs.PageSize))
			if rng.IntN(2) == 0 {
				for i := range more {
					more[i] = byte(rng.Uint32())
				}
			}
			img.WriteFile(s.path, append(data, more...))
			return fmt.Sprintf("%s longer by %d bytes", filepath.Base(s.path), len(more)), true, true
		}
		lo := min(format.AlignUp(s.end), size-1) // the unwritten tail
		if rng.IntN(2) == 0 {
			lo = format.SegmentHeaderSize // into the records
		}
		n := lo + rng.Int64N(size-lo)
		img.WriteFile(s.path, data[:n])
		vouched := true
		by := "no record cut"
		if n < s.end {
			vouched, by = b.vouched(k, n, n, s.end)
		}
		return fmt.Sprintf("%s cut from %d to %d bytes (records end at %d; %s)", filepath.Base(s.path), size, n, s.end, by), vouched, true
	default: // index-copy
		if len(b.idxs) < 2 {
			return "", false, false
		}
		i := rng.IntN(len(b.idxs))
		j := (i + 1 + rng.IntN(len(b.idxs)-1)) % len(b.idxs)
		src, _ := img.ReadFile(b.idxs[j])
		dst, _ := img.ReadFile(b.idxs[i])
		what := "index"
		if rng.IntN(2) == 0 && len(src) >= index.HeaderSize && len(dst) >= index.HeaderSize {
			what = "index header"
			src = append(src[:index.HeaderSize:index.HeaderSize], dst[index.HeaderSize:]...)
		}
		if bytes.Equal(src, dst) {
			return "", false, false
		}
		img.WriteFile(b.idxs[i], src)
		return fmt.Sprintf("%s of %s copied over %s", what, filepath.Base(b.idxs[j]), filepath.Base(b.idxs[i])), true, true
	}
}

// f9Case is one damaged copy of a base and what its repair may give.
type f9Case struct {
	fam   *family
	o     *Oracle
	b     *f4Base
	steps []int
	// lo..hi are the oracle steps a repaired log may be at: lo holds
	// every record before the first damaged one.
	lo, hi int
	// empty: the damage hits the first segment's header or State snapshot,
	// so the whole log may go (an empty log, with the vote written back).
	empty bool
	// strict: every damaged byte was vouched for, so Repair sees the
	// damage and salvages the vote beyond it.
	strict bool
	intact []bool // per record of b: no byte of it changed
	ref    mmaplog.State
	refAt  int // the reference's oracle step (-1: the empty log)
}

// newF9Case compares the damaged image with the clean one: the first
// damaged record in log order sets lo.
func newF9Case(fam *family, o *Oracle, b *f4Base, steps []int, clean, img *crashfs.FS, vouched bool) *f9Case {
	c := &f9Case{fam: fam, o: o, b: b, steps: steps, lo: b.expected, hi: b.expected, strict: vouched, intact: make([]bool, len(b.recs))}
	first := -1 // the first damaged record
	for k, r := range b.recs {
		was, _ := clean.ReadFile(b.segs[r.seg].path)
		now, _ := img.ReadFile(b.segs[r.seg].path)
		c.intact[k] = r.end <= int64(len(now)) && bytes.Equal(was[r.off:r.end], now[r.off:r.end])
		hdr := r.off == format.SegmentHeaderSize && !bytes.Equal(was[:r.off], now[:min(r.off, int64(len(now)))])
		if first < 0 && (!c.intact[k] || hdr) {
			first = k
		}
	}
	if first >= 0 {
		c.lo = c.before(first)
		c.empty = b.recs[first].seg == 0 && b.recs[first].off == format.SegmentHeaderSize
	}
	return c
}

// before is the oracle step before record k.
func (c *f9Case) before(k int) int {
	if c.b.recs[k].typ == format.TypeState {
		return c.steps[k]
	}
	return c.steps[k] - 1
}

// wantVote is the vote a repaired log at step at (-1: the empty log) must
// hold: the newest of its own and those of intact records beyond it.
func (c *f9Case) wantVote(at int) mmaplog.Vote {
	newest := at
	for k, r := range c.b.recs {
		if !c.intact[k] || c.steps[k] < at {
			continue
		}
		if r.typ == format.TypeVote || r.typ == format.TypeState {
			newest = max(newest, c.steps[k])
		}
	}
	if newest < 0 {
		return mmaplog.Vote{}
	}
	return c.o.StateAt(newest).Vote
}

// voteOK checks v for a log at step at: exactly wantVote when exact, else
// the vote of a step from at on (or none, for the empty log).
func (c *f9Case) voteOK(at int, v mmaplog.Vote, exact bool) error {
	if exact {
		if w := c.wantVote(at); v != w {
			return fmt.Errorf("%w: vote %v, want %v (the newest of the intact records)", ErrMismatch, v, w)
		}
		return nil
	}
	if at < 0 && v == (mmaplog.Vote{}) {
		return nil
	}
	for j := max(at, 0); j <= c.hi; j++ {
		if c.o.StateAt(j).Vote == v {
			return nil
		}
	}
	return fmt.Errorf("%w: vote %v was never the log's from step %d on", ErrMismatch, v, at)
}

// match finds the oracle step in [lo, hi] that l holds, its vote aside
// (checked by voteOK), with every entry bit-exact; -1 for the empty log
// when the damage allows it.
func (c *f9Case) match(l *mmaplog.Log, exactVote bool) (int, error) {
	got := l.State()
	var firstErr error
	for i := c.hi; i >= c.lo; i-- {
		st := c.o.StateAt(i)
		st.Vote = got.Vote
		if !got.Equal(st) {
			continue
		}
		err := c.voteOK(i, got.Vote, exactVote)
		if err == nil {
			err = f9Entries(c.o, l, i)
		}
		if err == nil {
			return i, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if !errors.Is(err, ErrMismatch) {
			return -1, err
		}
	}
	if empty := (mmaplog.State{Vote: got.Vote}); c.empty && got.Equal(empty) {
		err := c.voteOK(-1, got.Vote, exactVote)
		if err == nil {
			return -1, nil
		}
		firstErr = cmpErr(firstErr, err)
	}
	if firstErr != nil {
		return -1, firstErr
	}
	return -1, fmt.Errorf("%w: state {%s} is the state of no step in [%d, %d] (the first damaged record is after step %d; the last step is {%s})",
		ErrMismatch, logtest.StateString(got), c.lo, c.hi, c.lo, logtest.StateString(c.o.StateAt(c.hi)))
}

// f9Entries checks that l holds the entries of oracle step i, bit-exact.
func f9Entries(o *Oracle, l *mmaplog.Log, i int) error {
	m := o.modelAt(i)
	if err := m.CheckRange(l, m.First(), m.State().Last.Index); err != nil {
		return fmt.Errorf("step %d: %w", i, err)
	}
	return nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// run repairs the damaged image s: the reference, then under power loss
// at every point, then with a fault at every point.
func (c *f9Case) run(rng *rand.Rand, s *crashfs.Snapshot) error {
	ref := s.Image(s.KeepAll())
	rr, err := repairSound(ref)
	if errors.Is(err, recovery.ErrPurgeBeyondCut) {
		// Repair refuses a cut that would drop the purge which deleted
		// the log's first segments (it would take the live entries before
		// the damage with it): then it must change nothing.
		c.fam.add("refused", 1)
		if !sameFiles(ref, s.Image(s.KeepAll())) {
			return fmt.Errorf("Repair refused (%w) but changed the directory", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("uninterrupted Repair: %w", err)
	}
	if !c.strict {
		c.fam.add("ambiguous", 1)
	}
	if err := c.converged(ref, true); err != nil {
		return fmt.Errorf("uninterrupted Repair (before: %s; cuts %d): %w", problems(rr.Before), len(rr.Cuts), err)
	}
	if !rr.Changed() {
		c.fam.add("untouched", 1)
		if rr.Before.Status == recovery.StatusCorrupt {
			return fmt.Errorf("Repair changed nothing in a corrupt log: %s", problems(rr.Before))
		}
	} else {
		c.fam.add("repairs", 1)
	}

	// Repair again with every operation recorded, and a power loss
	// captured after each that changes the disk and at each sync.
	type point struct {
		snap *crashfs.Snapshot
		ev   crashfs.Event
		n    int // operations so far
	}
	tr := s.Image(s.KeepAll())
	var (
		mu            sync.Mutex
		events        []crashfs.Event
		points, mids  []point
		mutatingSoFar int
	)
	tr.SetHook(func(ev crashfs.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev)
		if f9Mutating[ev.Op] && ev.Err == nil {
			mutatingSoFar++
			points = append(points, point{tr.Snapshot(), ev, mutatingSoFar})
		}
	})
	tr.SetSyncHook(func(ev crashfs.Event) {
		mu.Lock()
		defer mu.Unlock()
		if sn := tr.SnapshotDuring(ev); sn.SyncSectors() > 0 {
			mids = append(mids, point{sn, ev, mutatingSoFar})
		}
	})
	trr, err := repairOn(tr)
	tr.SetHook(nil)
	tr.SetSyncHook(nil)
	if err != nil {
		return fmt.Errorf("traced Repair: %w", err)
	}
	if trr.Changed() != rr.Changed() {
		return fmt.Errorf("traced Repair: changed %v, the reference %v", trr.Changed(), rr.Changed())
	}
	if !rr.Changed() {
		// Repair syncs the directory, and Verify a segment before it reads
		// it from the disk; nothing else may change.
		for _, p := range points {
			if p.ev.Op != crashfs.OpDatasync && p.ev.Op != crashfs.OpMsync && p.ev.Op != crashfs.OpSyncDir {
				return fmt.Errorf("Repair of a log it left untouched made a change: %s %s", p.ev.Op, p.ev.Path)
			}
		}
	}
	n := len(points)
	c.fam.add("crash-points", n)
	for _, p := range points {
		where := fmt.Sprintf("power loss after Repair's change %d of %d (%s %s)", p.n, n, p.ev.Op, p.ev.Path)
		ordered := rng.IntN(2) == 0
		random := p.snap.RandomPlan(rng)
		meta := "independent"
		if ordered {
			random, meta = p.snap.RandomOrderedPlan(rng), "in order"
		}
		images := []struct {
			img  *crashfs.FS
			desc string
		}{
			{p.snap.Image(p.snap.DropAll()), "nothing unsynced kept"},
			{p.snap.Image(random), "random survival, metadata " + meta},
			{p.snap.Restart(), "kill -9"},
		}
		for _, im := range images {
			c.fam.add("crash-images", 1)
			if err := c.crashImage(im.img); err != nil {
				return fmt.Errorf("%s, %s: %w", where, im.desc, err)
			}
		}
	}
	c.fam.add("mid-sync-points", len(mids))
	for _, p := range mids {
		op, path, off, ln, _ := p.snap.InSync()
		where := fmt.Sprintf("power loss during a sync of Repair after its change %d of %d (%s %s [%d, %d), %d sectors)", p.n, n, op, path, off, off+ln, p.snap.SyncSectors())
		r := rng.Uint64()
		keep := func(i int) bool { return r>>(i%64)&1 != 0 }
		for _, plan := range []crashfs.Plan{p.snap.TearSync(p.snap.DropAll(), keep), p.snap.RandomPlan(rng)} {
			c.fam.add("mid-sync-images", 1)
			if err := c.crashImage(p.snap.Image(plan)); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}

	// A fault at every change.
	seen := map[crashfs.Op]int{}
	for _, ev := range events {
		seen[ev.Op]++
		if !f9Mutating[ev.Op] {
			continue
		}
		site := fmt.Sprintf("%s #%d (%s)", ev.Op, seen[ev.Op], ev.Path)
		errno := crashfs.EIO
		if rng.IntN(2) == 0 {
			errno = crashfs.ENOSPC
		}
		c.fam.add("fault-sites", 1)
		if err := c.fault(rng, s, crashfs.Fault{Op: ev.Op, Nth: seen[ev.Op], Times: 1, Err: errno}); err != nil {
			return fmt.Errorf("%s at %s: %w", errno.Error(), site, err)
		}
		if ev.Op == crashfs.OpDatasync || ev.Op == crashfs.OpMsync {
			c.fam.add("writeback-sites", 1)
			if err := c.fault(rng, s, crashfs.Fault{Op: ev.Op, Nth: seen[ev.Op], Times: 1, Err: crashfs.EIO, Writeback: true}); err != nil {
				return fmt.Errorf("failed write-back at %s: %w", site, err)
			}
		}
	}
	return nil
}

// crashImage is the node starting on img, a crash image of an unfinished
// Repair, and the operator repairing it again.
func (c *f9Case) crashImage(img *crashfs.FS) error {
	l, err := mmaplog.Open(logDir, options(img))
	if err != nil {
		var ce *mmaplog.CorruptError
		if !errors.As(err, &ce) {
			return fmt.Errorf("Open failed without a CorruptError: %w", err)
		}
		c.fam.add("open-corrupt", 1)
	} else {
		_, err := c.match(l, false)
		cerr := l.Close()
		switch {
		case errors.Is(err, mmaplog.ErrCorrupt):
			// Open trusted a sealed index; the damage shows when read.
			c.fam.add("get-corrupt", 1)
		case err != nil:
			return fmt.Errorf("Open: %w", err)
		case cerr != nil:
			return fmt.Errorf("close: %w", cerr)
		default:
			c.fam.add("open-ok", 1)
		}
	}
	if _, err := repairSound(img); err != nil {
		return fmt.Errorf("Repair again: %w", err)
	}
	return c.converged(img, false)
}

// converged checks fs right after a Repair succeeded on it: a power loss
// then loses nothing, another Repair changes nothing, and the log opens
// at the reference's state (first: sets the reference).
func (c *f9Case) converged(fs *crashfs.FS, first bool) error {
	s := fs.Snapshot()
	img := s.Image(s.DropAll())
	rr, err := repairOn(img)
	if err != nil {
		return fmt.Errorf("Repair after a power loss that followed a Repair: %w", err)
	}
	if rr.Changed() {
		return fmt.Errorf("Repair after a power loss that followed a Repair changed the log (before: %s; cuts %d, removed indexes %v, vote %v): the first was not durable or is not idempotent",
			problems(rr.Before), len(rr.Cuts), rr.RemovedIndexes, rr.VoteRestored)
	}
	l, err := mmaplog.Open(logDir, options(img))
	if err != nil {
		return fmt.Errorf("Open of the repaired log: %w", err)
	}
	defer l.Close()
	if first {
		c.refAt, err = c.match(l, c.strict)
		c.ref = l.State()
		return err
	}
	if got := l.State(); !got.Equal(c.ref) {
		return fmt.Errorf("%w: repaired to {%s}, the uninterrupted Repair to {%s}", ErrMismatch, logtest.StateString(got), logtest.StateString(c.ref))
	}
	if c.refAt >= 0 {
		return f9Entries(c.o, l, c.refAt)
	}
	return nil
}

// fault runs Repair on a copy of s with ft injected.
func (c *f9Case) fault(rng *rand.Rand, s *crashfs.Snapshot, ft crashfs.Fault) error {
	fs := s.Image(s.KeepAll())
	f := fs.Inject(ft)
	rr, err := repairOn(fs)
	fired := fs.Fired(f)
	fs.ClearFaults()
	if fired == 0 {
		return errors.New("the fault did not fire: Repair's operations are not deterministic")
	}
	if err == nil {
		// Repair went on past the failure: it must still be right.
		if rr.After.Status == recovery.StatusCorrupt {
			return fmt.Errorf("Repair ignored the fault and left %s", problems(rr.After))
		}
		c.fam.add("fault-ignored", 1)
		return c.converged(fs, false)
	}
	if !errors.Is(err, ft.Err) {
		return fmt.Errorf("Repair's error does not wrap the fault: %w", err)
	}
	c.fam.add("fault-errors", 1)
	if ft.Writeback {
		// The pages marked clean never reached the disk. Repair again in
		// this boot, then lose power.
		if _, err := repairSound(fs); err != nil {
			return fmt.Errorf("Repair again after the failed write-back: %w", err)
		}
		return c.converged(fs, false)
	}
	if rng.IntN(2) == 0 {
		c.fam.add("fault-then-power-loss", 1)
		t := fs.Snapshot()
		fs = t.Image(t.RandomPlan(rng))
	}
	return c.crashImage(fs)
}

// sameFiles reports whether a and b hold the same files in logDir, byte
// for byte.
func sameFiles(a, b *crashfs.FS) bool {
	na, erra := a.ReadDir(logDir)
	nb, errb := b.ReadDir(logDir)
	if erra != nil || errb != nil || !slices.Equal(na, nb) {
		return false
	}
	for _, n := range na {
		x, okx := a.ReadFile(filepath.Join(logDir, n))
		y, oky := b.ReadFile(filepath.Join(logDir, n))
		if okx != oky || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}
