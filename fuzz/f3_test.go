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
// I1–I3 through the reference). One more power loss per image may
// strike in the middle of one of recovery's syncs, its sectors landing
// one by one (mid-sync-crashes; drawn from a stream of their own).
func TestF3RecoveryCrashes(t *testing.T) {
	fam := newFamily(t, "F3")
	fam.run("recovery-crashes", 1000, func(seed uint64) error { return f3Seed(fam, seed) })
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
	nops, nsyncs, err := recoveryOps(base.Image(base.KeepAll()), nil, nil)
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
	mr := rand.New(rand.NewPCG(seed, 31))
	atSync := map[int]bool{}
	for range min(1, nsyncs) {
		atSync[1+mr.IntN(nsyncs)] = true
	}
	traced := base.Image(base.KeepAll())
	var mids []*crashfs.Snapshot
	if _, _, err := recoveryOps(traced, func(ev crashfs.Event) {
		if at[ev.Seq] {
			snaps, ops = append(snaps, traced.Snapshot()), append(ops, ev)
		}
	}, func(ev crashfs.Event) {
		if atSync[ev.Seq] {
			mids = append(mids, traced.SnapshotDuring(ev))
		}
	}); err != nil {
		return fmt.Errorf("traced recovery: %w", err)
	}
	fam.add("recoveries", 1)
	type point struct {
		snap  *crashfs.Snapshot
		where string
		rng   *rand.Rand
	}
	var points []point
	for k := range snaps {
		points = append(points, point{snaps[k], fmt.Sprintf("power loss after recovery op %d/%d (%s %s)", ops[k].Seq, nops, ops[k].Op, ops[k].Path), cr})
	}
	for _, s := range mids {
		op, path, off, n, _ := s.InSync()
		points = append(points, point{s, fmt.Sprintf("power loss during a sync of recovery (%s %s [%d, %d))", op, path, off, off+n), mr})
	}
	for k, p := range points {
		img, m := crashImage(p.snap, p.rng)
		if k < len(snaps) {
			fam.add("recovery-crashes", 1)
		} else {
			fam.add("mid-sync-crashes", 1)
		}
		where := fmt.Sprintf("%s, %s metadata", p.where, m)
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
// syncHook the start of its syncs (Seq numbering the syncs), and returns
// how many operations and syncs Open made. Recovery runs on the calling
// goroutine only, so the operations and their numbers are deterministic.
func recoveryOps(img *crashfs.FS, hook, syncHook func(crashfs.Event)) (int, int, error) {
	var mu sync.Mutex
	n, syncs := 0, 0
	// numbered numbers the events counted in *seq and passes them to h.
	numbered := func(seq *int, h func(crashfs.Event)) func(crashfs.Event) {
		return func(ev crashfs.Event) {
			mu.Lock()
			defer mu.Unlock()
			*seq++
			ev.Seq = *seq
			if h != nil {
				h(ev)
			}
		}
	}
	img.SetHook(numbered(&n, hook))
	img.SetSyncHook(numbered(&syncs, syncHook))
	l, err := mmaplog.Open(logDir, options(img))
	img.SetHook(nil)
	img.SetSyncHook(nil)
	if err != nil {
		return 0, 0, err
	}
	_ = l.Close()
	mu.Lock()
	defer mu.Unlock()
	return n, syncs, nil
}
