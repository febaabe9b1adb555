package fuzz

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
)

// F2: randomized crash images. Each seed runs a random workload for a few
// generations; each generation ends in a power loss at a random moment
// (between operations with flushes in flight, or inside a random file
// operation of the writer, the flusher or the preparer), and the crash
// image must open without a corruption error and hold a prefix of the
// log at least as long as the last acknowledged flush (I1–I3, I8). The
// recovered log is the next generation's starting point.
func TestF2RandomCrashImages(t *testing.T) {
	fam := newFamily(t, "F2")
	want := count(10000)
	fam.forSeeds(func() bool { return fam.get("crash-images") >= want }, func(seed uint64) error {
		return f2Seed(fam, seed)
	})
	fam.summary()
}

const f2Generations = 4

func f2Seed(fam *family, seed uint64) error {
	wr := rand.New(rand.NewPCG(seed, 1)) // the workload
	cr := rand.New(rand.NewPCG(seed, 2)) // crash moments and images
	d, err := newDriver(crashfs.New(), NewOracle())
	if err != nil {
		return fmt.Errorf("open empty: %w", err)
	}
	defer func() { d.abandon() }()
	g := NewGen(wr, d.o)
	for gen := range f2Generations {
		snap, err := f2Generation(d, g, wr, cr)
		if err != nil {
			return fmt.Errorf("generation %d: %w", gen, err)
		}
		if cr.IntN(3) == 0 {
			// kill -9 instead: the next generation's power loss may
			// still lose what this process never synced.
			fam.add("kills", 1)
			if err := d.recoverImage(snap.Restart(), false); err != nil {
				return fmt.Errorf("generation %d (kill -9): %w", gen, err)
			}
			continue
		}
		img, model := crashImage(snap, cr)
		fam.add("crash-images", 1)
		if err := d.recoverImage(img, true); err != nil {
			return fmt.Errorf("generation %d (%s metadata): %w", gen, model, err)
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

// f2Generation runs ops and returns the state at the power loss.
func f2Generation(d *driver, g *Gen, wr, cr *rand.Rand) (*crashfs.Snapshot, error) {
	nops := 1 + wr.IntN(60)
	var (
		mu   sync.Mutex
		snap *crashfs.Snapshot
	)
	take := func() {
		if d.crashed.CompareAndSwap(false, true) {
			s := d.fs.Snapshot()
			mu.Lock()
			snap = s
			mu.Unlock()
		}
	}
	if cr.IntN(2) == 0 {
		// Power loss inside the target-th file operation from now.
		target, seen := int64(1+cr.IntN(4*nops)), atomic.Int64{}
		d.fs.SetHook(func(crashfs.Event) {
			if seen.Add(1) == target {
				take()
			}
		})
	}
	for range nops {
		if d.crashed.Load() {
			break
		}
		if err := d.do(g.Next()); err != nil {
			d.fs.SetHook(nil)
			return nil, err
		}
	}
	take()
	d.fs.SetHook(nil)
	d.abandon()
	mu.Lock()
	defer mu.Unlock()
	if snap == nil {
		return nil, errors.New("no snapshot")
	}
	return snap, nil
}
