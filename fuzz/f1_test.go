package fuzz

import (
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/mmaplog"
)

// F1: exhaustive small-scope crash points. Scripted workloads run once
// with a power loss captured after every file operation and after every
// Flush; at each point every subset of the unsynced items (dirty pages,
// pending namespace changes, unsynced sizes) is tried when there are at
// most 6 of them, else 64 random subsets; each subset plain and with its
// kept pages torn. A power loss is also captured in the middle of every
// msync and fdatasync (mid-sync points): every subset of the sync's
// changed 512-byte sectors when there are at most 6, else 32 random ones,
// each with the other unsynced items lost or drawn at random. Every image
// must open without a corruption error and hold at least what was
// acknowledged (I1–I3, I8).
func TestF1CrashPoints(t *testing.T) {
	fam := newFamily(t, "F1")
	random := count(64)
	if random > 64 && *flagN == 0 {
		random = 64 * int(scale())
	}
	for _, w := range f1Workloads() {
		if only := os.Getenv("FUZZ_F1_ONLY"); only != "" && only != w.name {
			continue
		}
		seed := baseSeed("F1")
		if err := runSafe(seed, func(uint64) error { return f1Run(fam, w, seed, random) }); err != nil {
			fam.violation(seed, "workload %s: %v", w.name, err)
		}
	}
	fam.summary()
}

type f1Workload struct {
	name string
	// setup runs untraced and may leave the driver on a crash image.
	setup func(d *driver) error
	ops   []Op
}

func entries(term, from, to uint64, size func(i uint64) int) []mmaplog.Entry {
	var es []mmaplog.Entry
	for i := from; i <= to; i++ {
		es = append(es, entry(term, i, size(i)))
	}
	return es
}

func appendOp(es ...mmaplog.Entry) Op { return Op{Kind: Append, Entries: es} }

func f1Workloads() []f1Workload {
	fixed := func(n int) func(uint64) int { return func(uint64) int { return n } }
	mixed := func(i uint64) int { return []int{0, 1, 7, 100, 511, 4000, 4097, 20000}[i%8] }
	var roll []Op
	for i := uint64(1); i <= 24; i += 2 {
		roll = append(roll, appendOp(entries(1, i, i+1, fixed(9000))...))
		if i%4 == 3 {
			roll = append(roll, Op{Kind: Flush})
		}
	}
	roll = append(roll, Op{Kind: Sync}, appendOp(entry(1, 25, 70000)), Op{Kind: Flush})
	return []f1Workload{
		{name: "single-append", ops: []Op{appendOp(entry(1, 1, 100)), Op{Kind: Flush}, Op{Kind: Sync}}},
		{name: "batch-append", ops: []Op{
			appendOp(entries(1, 1, 10, mixed)...), Op{Kind: Sync},
			appendOp(entries(1, 11, 15, mixed)...), Op{Kind: Flush},
			Op{Kind: Vote, Vote: mmaplog.Vote{Term: 2, NodeID: 1}}, Op{Kind: Commit, ID: mmaplog.LogID{Term: 1, Index: 12}},
			Op{Kind: UserData, Data: []byte("hello")}, Op{Kind: Flush},
		}},
		{name: "segment-roll", ops: roll},
		{name: "truncate-reappend", ops: []Op{
			appendOp(entries(1, 1, 20, fixed(3000))...), Op{Kind: Sync},
			{Kind: Truncate, Index: 12}, appendOp(entries(2, 12, 16, fixed(2500))...), Op{Kind: Flush},
			{Kind: Truncate, Index: 15}, Op{Kind: Sync}, appendOp(entries(3, 15, 18, fixed(100))...), Op{Kind: Sync},
		}},
		{name: "purge-remove", ops: []Op{
			appendOp(entries(1, 1, 40, fixed(6000))...), Op{Kind: Sync},
			{Kind: Purge, ID: mmaplog.LogID{Term: 1, Index: 30}}, Op{Kind: Sync},
			appendOp(entries(1, 41, 45, fixed(6000))...), Op{Kind: Flush},
			{Kind: Purge, ID: mmaplog.LogID{Term: 1, Index: 50}}, appendOp(entry(1, 51, 10)), Op{Kind: Sync},
		}},
		{name: "reopen-after-recovery", setup: func(d *driver) error {
			for _, op := range []Op{appendOp(entries(1, 1, 10, fixed(2000))...), {Kind: Sync}, appendOp(entries(1, 11, 15, fixed(2000))...)} {
				if err := d.do(op); err != nil {
					return err
				}
			}
			snap := d.fs.Snapshot()
			d.abandon()
			return d.recoverImage(snap.Crash(rand.New(rand.NewPCG(1, 1))), true)
		}, ops: []Op{{Kind: Reopen}, {Kind: Sync}}},
		// Hundreds of entries in one segment: the index's slots span
		// several sectors, and its seal (at Close) can tear between them.
		{name: "many-entries", ops: []Op{appendOp(entries(1, 1, 400, fixed(20))...), {Kind: Sync}}},
		// The index page is written back early, then its slots change
		// (a truncation, re-appended); the seal can then tear back to the
		// early version.
		{name: "truncate-seal", ops: []Op{
			appendOp(entries(1, 1, 300, fixed(20))...), {Kind: Sync}, {Kind: Writeback},
			{Kind: Truncate, Index: 150}, appendOp(entries(2, 150, 300, fixed(20))...), {Kind: Sync},
		}},
	}
}

type capture struct {
	snap  *crashfs.Snapshot
	acked int
}

func f1Run(fam *family, w f1Workload, seed uint64, random int) error {
	d, err := newDriver(crashfs.New(), NewOracle())
	if err != nil {
		return err
	}
	if w.setup != nil {
		if err := w.setup(d); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	var (
		mu    sync.Mutex
		caps  []capture
		fsNow = d.fs
	)
	take := func() {
		acked := int(d.acked.Load()) // before the snapshot: what it must hold
		s := fsNow.Snapshot()
		mu.Lock()
		caps = append(caps, capture{s, acked})
		mu.Unlock()
	}
	var mids []capture // power losses in the middle of a sync
	d.fs.SetHook(func(crashfs.Event) { take() })
	d.fs.SetSyncHook(func(ev crashfs.Event) {
		acked := int(d.acked.Load())
		s := fsNow.SnapshotDuring(ev)
		mu.Lock()
		mids = append(mids, capture{s, acked})
		mu.Unlock()
	})
	unhook := func() {
		d.fs.SetHook(nil)
		d.fs.SetSyncHook(nil)
	}
	for _, op := range w.ops {
		if op.Kind == Flush {
			step := d.o.Steps()
			if err := d.l.Flush(d.ack(step, func(error) { take() })); err != nil {
				unhook()
				return err
			}
			take()
			continue
		}
		if err := d.do(op); err != nil {
			unhook()
			return err
		}
	}
	if err := d.l.Close(); err != nil {
		unhook()
		return fmt.Errorf("close: %w", err)
	}
	storeMax(&d.acked, int64(d.o.Steps()))
	take()
	unhook()
	d.l = nil

	// Check every capture under every plan, on one worker per CPU.
	type job struct {
		c     capture
		plan  crashfs.Plan
		desc  string
		count string
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var firstErr error
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				err := checkImage(d.o, j.c.snap.Image(j.plan), j.c.acked)
				fam.add(j.count, 1)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", j.desc, err)
						if trace {
							fmt.Fprintf(os.Stderr, "pending: %q\nmeta kept: %v\n", j.c.snap.PendingOps(), j.plan.Meta)
						}
					}
					mu.Unlock()
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	fam.add("crash-points", len(caps))
	for k, c := range caps {
		for _, plan := range subsets(c.snap, rng, random) {
			jobs <- job{c, plan, fmt.Sprintf("crash point %d of %d (acked step %d)", k+1, len(caps), c.acked), "crash-states"}
		}
	}
	mrng := rand.New(rand.NewPCG(seed, 9))
	fam.add("mid-sync-points", len(mids))
	for k, c := range mids {
		op, path, off, n, _ := c.snap.InSync()
		for _, plan := range syncSubsets(c.snap, mrng, min(random, 32)) {
			jobs <- job{c, plan, fmt.Sprintf("power loss during sync %d of %d (%s %s [%d, %d), acked step %d)", k+1, len(mids), op, path, off, off+n, c.acked), "mid-sync-states"}
		}
	}
	close(jobs)
	wg.Wait()
	return firstErr
}

// subsets returns the plans of one crash point: every keep/lose subset of
// its items when there are at most 6, else n random ones; each plain and
// with its kept pages torn.
func subsets(s *crashfs.Snapshot, rng *rand.Rand, n int) []crashfs.Plan {
	items := s.Items()
	var masks []uint64
	if items <= 6 {
		for m := uint64(0); m < 1<<items; m++ {
			masks = append(masks, m)
		}
	} else {
		for range n {
			masks = append(masks, rng.Uint64())
		}
	}
	var plans []crashfs.Plan
	pages, meta := len(s.DirtyPages()), s.PendingMeta()
	for _, m := range masks {
		bit := func(i int) bool {
			if items <= 64 {
				return m&(1<<i) != 0
			}
			return rng.IntN(2) == 0
		}
		plain := s.DropAll()
		for i := range pages {
			if bit(i) {
				plain.Pages[i].Mode = crashfs.Keep
			}
		}
		for i := range plain.Meta {
			plain.Meta[i] = bit(pages + i)
		}
		for i := range plain.Sizes {
			plain.Sizes[i] = bit(pages + meta + i)
		}
		plans = append(plans, plain)
		if bits.OnesCount64(m) == 0 || pages == 0 {
			continue
		}
		torn := crashfs.Plan{Pages: append([]crashfs.PageChoice(nil), plain.Pages...), Meta: plain.Meta, Sizes: plain.Sizes}
		for i := range torn.Pages {
			if torn.Pages[i].Mode == crashfs.Keep {
				torn.Pages[i] = crashfs.PageChoice{Mode: crashfs.Torn, Sectors: uint8(rng.Uint32())}
			}
		}
		plans = append(plans, torn)
	}
	return plans
}

// syncSubsets returns the plans of a power loss in the middle of a sync:
// every subset of the sync's changed sectors when there are at most 6,
// else n random ones; each with the other unsynced items lost, and with
// them drawn at random.
func syncSubsets(s *crashfs.Snapshot, rng *rand.Rand, n int) []crashfs.Plan {
	sectors := s.SyncSectors()
	var keeps []func(int) bool
	if sectors <= 6 {
		for m := 0; m < 1<<sectors; m++ {
			keeps = append(keeps, func(i int) bool { return m&(1<<i) != 0 })
		}
	} else {
		for range n {
			r := rng.Uint64()
			keeps = append(keeps, func(i int) bool { return r>>(i%64)&1 != 0 })
		}
	}
	var plans []crashfs.Plan
	for _, keep := range keeps {
		plans = append(plans, s.TearSync(s.DropAll(), keep), s.TearSync(s.RandomPlan(rng), keep))
	}
	return plans
}

// checkImage opens a crash image and matches it against o from acked on.
func checkImage(o *Oracle, img *crashfs.FS, acked int) error {
	l, err := mmaplog.Open(logDir, options(img))
	if err != nil {
		if errors.Is(err, mmaplog.ErrCorrupt) {
			return fmt.Errorf("a crash-only image reports corruption: %w", err)
		}
		return fmt.Errorf("a crash-only image does not open: %w", err)
	}
	defer l.Close()
	_, err = o.Check(l, acked)
	return err
}
