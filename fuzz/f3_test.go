package fuzz

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/mmaplog"
)

// F3: crashes during recovery. Each seed makes an F2 crash image and
// recovers a copy of it: the reference. Then it recovers another copy with
// a power loss captured after every file operation of Open, and opens
// crash images of those points: each must recover to exactly the reference
// (same step of the oracle), and so must a clean reopen of it (I5, with
// I1–I3 through the reference).
func TestF3RecoveryCrashes(t *testing.T) {
	fam := newFamily(t, "F3")
	want := count(1000)
	fam.forSeeds(func() bool { return fam.get("recovery-crashes") >= want }, func(seed uint64) error {
		return f3Seed(fam, seed)
	})
	fam.summary()
}

const f3PerImage = 4

func f3Seed(fam *family, seed uint64) error {
	wr := rand.New(rand.NewPCG(seed, 1))
	cr := rand.New(rand.NewPCG(seed, 3))
	d, err := newDriver(crashfs.New(), NewOracle())
	if err != nil {
		return err
	}
	g := NewGen(wr, d.o)
	g.NoReopen = true
	snap, err := f2Generation(d, g, wr, cr, nil)
	if err != nil {
		fam.baseFailure(seed, err)
		return nil
	}
	img, model := crashImage(snap, cr)
	base := img.Snapshot()

	// The reference recovery. Its failures are F2's to report.
	ref, err := mmaplog.Open(logDir, options(base.Image(base.KeepAll())))
	if err != nil {
		fam.baseFailure(seed, fmt.Errorf("reference (%s metadata): %w", model, err))
		return nil
	}
	step, err := d.o.Check(ref, int(d.acked.Load()))
	_ = ref.Close()
	if err != nil {
		fam.baseFailure(seed, fmt.Errorf("reference (%s metadata): %w", model, err))
		return nil
	}

	// Count recovery's file operations, then recover again capturing the
	// state after a few of them, chosen at random.
	nops, err := recoveryOps(base.Image(base.KeepAll()), nil)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	at := map[int]bool{}
	for range min(f3PerImage, nops) {
		at[1+cr.IntN(nops)] = true
	}
	var (
		snaps []*crashfs.Snapshot
		ops   []crashfs.Event
	)
	traced := base.Image(base.KeepAll())
	if _, err := recoveryOps(traced, func(ev crashfs.Event) {
		if at[ev.Seq] {
			snaps, ops = append(snaps, traced.Snapshot()), append(ops, ev)
		}
	}); err != nil {
		return fmt.Errorf("traced recovery: %w", err)
	}
	fam.add("recoveries", 1)
	for k := range snaps {
		img, m := crashImage(snaps[k], cr)
		fam.add("recovery-crashes", 1)
		where := fmt.Sprintf("power loss after recovery op %d/%d (%s %s), %s metadata", ops[k].Seq, nops, ops[k].Op, ops[k].Path, m)
		for pass := range 2 {
			l, err := mmaplog.Open(logDir, options(img))
			if err != nil {
				return fmt.Errorf("%s: open %d: %w", where, pass+1, err)
			}
			got, err := d.o.Check(l, step)
			cerr := l.Close()
			if err != nil {
				return fmt.Errorf("%s: open %d: %w", where, pass+1, err)
			}
			if got != step {
				return fmt.Errorf("%s: open %d recovered step %d, the reference step %d", where, pass+1, got, step)
			}
			if cerr != nil {
				return fmt.Errorf("%s: close %d: %w", where, pass+1, cerr)
			}
		}
	}
	return nil
}

// recoveryOps opens the log on img with hook watching its operations and
// returns how many Open made. Recovery runs on the calling goroutine
// only, so the operations and their numbers are deterministic.
func recoveryOps(img *crashfs.FS, hook func(crashfs.Event)) (int, error) {
	var mu sync.Mutex
	n := 0
	img.SetHook(func(ev crashfs.Event) {
		mu.Lock()
		defer mu.Unlock()
		n++
		ev.Seq = n
		if hook != nil {
			hook(ev)
		}
	})
	l, err := mmaplog.Open(logDir, options(img))
	img.SetHook(nil)
	if err != nil {
		return 0, err
	}
	_ = l.Close()
	mu.Lock()
	defer mu.Unlock()
	return n, nil
}
