package fuzz

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/format"
)

// F2: randomized crash images. Each seed runs a random workload for a few
// generations; each generation ends in a power loss at a random moment
// (between operations with flushes in flight, or inside a random file
// operation of the writer, the flusher or the preparer), and the crash
// image must open without a corruption error and hold a prefix of the
// log at least as long as the last acknowledged flush (I1–I3, I8). The
// recovered log is the next generation's starting point.
//
// Half the seeds (drawn from a stream of their own, so that the other half
// replay exactly as before these were added) also get the fault classes
// of issue 10: half of their generations end in a power loss in the
// middle of a sync (of any file, or of an index file: a seal), whose
// sectors land one by one (mid-sync); half of them have the kernel write
// dirty pages back early between operations, so that a crash can keep an
// intermediate version of a page (writebacks); and half of them append
// batches of 8–64 entries of at most 256 bytes, so that segments hold
// hundreds of entries and their indexes span many sectors
// (small-entry-seeds).
func TestF2RandomCrashImages(t *testing.T) {
	fam := newFamily(t, "F2")
	fam.add("crash-images", 0)
	fam.add("kills", 0)
	// 6,000 is the CI slice: about 4 min under -race here; make torture runs 100x.
	fam.run("crash-images", 6000, func(seed uint64) error { return f2Seed(fam, seed) })
}

const f2Generations = 4

// f2Extras are the issue-10 fault classes of one seed (nil: none).
type f2Extras struct {
	fam       *family
	xr        *rand.Rand // on the test goroutine only
	writeback bool
}

func f2Seed(fam *family, seed uint64) error {
	wr := rand.New(rand.NewPCG(seed, 1)) // the workload
	cr := rand.New(rand.NewPCG(seed, 2)) // crash moments and images
	var x *f2Extras
	if xr := rand.New(rand.NewPCG(seed, 8)); xr.IntN(2) == 0 {
		x = &f2Extras{fam: fam, xr: xr, writeback: xr.IntN(2) == 0}
	}
	d, err := newDriver(crashfs.New(), NewOracle())
	if err != nil {
		return fmt.Errorf("open empty: %w", err)
	}
	defer func() { d.abandon() }()
	g := NewGen(wr, d.o)
	if x != nil && x.xr.IntN(2) == 0 {
		g.MaxPayload, g.BatchScale = 256, 8
		fam.add("small-entry-seeds", 1)
	}
	for gen := range f2Generations {
		snap, err := f2Generation(d, g, wr, cr, x)
		if err != nil {
			return fmt.Errorf("generation %d: %w", gen, err)
		}
		where := ""
		if op, path, off, n, ok := snap.InSync(); ok {
			where = fmt.Sprintf(", power loss during %s %s [%d, %d)", op, path, off, off+n)
		}
		if cr.IntN(3) == 0 {
			// kill -9 instead: the next generation's power loss may
			// still lose what this process never synced.
			fam.add("kills", 1)
			if err := d.recoverImage(snap.Restart(), false); err != nil {
				return fmt.Errorf("generation %d (kill -9%s): %w", gen, where, err)
			}
			continue
		}
		img, model := crashImage(snap, cr)
		fam.add("crash-images", 1)
		if where != "" {
			fam.add("mid-sync", 1)
		}
		if err := d.recoverImage(img, true); err != nil {
			return fmt.Errorf("generation %d (%s metadata%s): %w", gen, model, where, err)
		}
	}
	// A clean close must keep everything.
	return d.reopen()
}

// crashImage draws a crash image of snap: half the time with metadata
// reaching the disk in order (a journaling file system), half the time
// with each change independent (no journal).
func crashImage(snap *crashfs.Snapshot, cr *rand.Rand) (*crashfs.FS, string) {
	if cr.IntN(2) == 0 {
		return snap.Image(snap.RandomOrderedPlan(cr)), "ordered"
	}
	return snap.Image(snap.RandomPlan(cr)), "independent"
}

// f2Generation runs ops and returns the state at the power loss. x adds
// the issue-10 fault classes (nil: none).
func f2Generation(d *driver, g *Gen, wr, cr *rand.Rand, x *f2Extras) (*crashfs.Snapshot, error) {
	nops := 1 + wr.IntN(60)
	var (
		mu   sync.Mutex
		snap *crashfs.Snapshot
	)
	takeWith := func(shot func() *crashfs.Snapshot) {
		if d.crashed.CompareAndSwap(false, true) {
			s := shot()
			mu.Lock()
			snap = s
			mu.Unlock()
		}
	}
	take := func() { takeWith(d.fs.Snapshot) }
	midSync := x != nil && x.xr.IntN(2) == 0
	if cr.IntN(2) == 0 {
		// Power loss inside the target-th file operation from now.
		target, seen := int64(1+cr.IntN(4*nops)), atomic.Int64{}
		if !midSync {
			d.fs.SetHook(func(crashfs.Event) {
				if seen.Add(1) == target {
					take()
				}
			})
		}
	}
	if midSync {
		// Power loss in the middle of the target-th sync from now (of an
		// index file: mostly seals), or after the last op if none comes.
		index := x.xr.IntN(2) == 0
		target := int64(1 + x.xr.IntN(max(1, nops/4)))
		if index {
			target = int64(1 + x.xr.IntN(2))
		}
		var seen atomic.Int64
		d.fs.SetSyncHook(func(ev crashfs.Event) {
			if index && !strings.HasSuffix(ev.Path, format.IndexSuffix) && !strings.Contains(ev.Path, format.IndexSuffix+format.TempSuffix) {
				return
			}
			if seen.Add(1) == target {
				takeWith(func() *crashfs.Snapshot { return d.fs.SnapshotDuring(ev) })
			}
		})
	}
	unhook := func() {
		d.fs.SetHook(nil)
		d.fs.SetSyncHook(nil)
	}
	for range nops {
		if d.crashed.Load() {
			break
		}
		if x != nil && x.writeback && x.xr.IntN(8) == 0 {
			if d.fs.Writeback(x.xr, 0.5) > 0 {
				x.fam.add("writebacks", 1)
			}
		}
		if err := d.do(g.Next()); err != nil {
			unhook()
			return nil, err
		}
	}
	take()
	unhook()
	d.abandon()
	mu.Lock()
	defer mu.Unlock()
	if snap == nil {
		return nil, errors.New("no snapshot")
	}
	return snap, nil
}
