package bench

import (
	"fmt"
	"sync/atomic"
	"time"
)

// raftBatch is hashicorp/raft's default MaxAppendEntries: the most entries
// its leader hands to one StoreLogs call.
const raftBatch = 64

// open opens a fresh store of driver d for one run. close closes it and
// removes its directory.
func (r *runner) open(d *Driver, o OpenOptions) (st Store, dir string, closeAll func() error, err error) {
	st, closeAll, err = r.openIn(d.Name, func(in string) (Store, error) {
		dir = in
		return d.Open(in, o)
	})
	return st, dir, closeAll, err
}

// openIn opens a store with open in a fresh directory named for name;
// closeAll closes it and removes the directory.
func (r *runner) openIn(name string, open func(dir string) (Store, error)) (st Store, closeAll func() error, err error) {
	dir, remove, err := r.tempDir(name)
	if err != nil {
		return nil, nil, err
	}
	if st, err = open(dir); err != nil {
		remove()
		return nil, nil, err
	}
	return st, func() error {
		err := st.Close()
		remove()
		return err
	}, nil
}

// fill appends entries [from, from+n) of size bytes in batches of batch.
func (r *runner) fill(st Store, from uint64, n, size, batch int) error {
	ents := make([]Entry, 0, batch)
	for i := 0; i < n; i++ {
		ents = append(ents, Entry{Index: from + uint64(i), Term: 1, Payload: r.payload[:size]})
		if len(ents) == batch || i == n-1 {
			if err := st.Append(ents); err != nil {
				return fmt.Errorf("bench: preload at %d: %w", ents[0].Index, err)
			}
			ents = ents[:0]
		}
	}
	return nil
}

// perSize runs run for each entry size, in order; an error names the
// size.
func perSize(sizes []int, run func(size int) (Result, error)) ([]Result, error) {
	var out []Result
	for _, size := range sizes {
		res, err := run(size)
		if err != nil {
			return nil, fmt.Errorf("%d B: %w", size, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// measure opens a store of d with o, runs run on it and closes it (a
// failed Close fails the measurement), and gives the result d's name,
// the entry size and the MB/s of its rate.
func (r *runner) measure(d *Driver, o OpenOptions, run func(st Store) (Result, error)) (Result, error) {
	return r.measureIn(d, o, func(st Store, _ string) (Result, error) { return run(st) })
}

// measureIn is measure for a run that also needs the store's directory.
func (r *runner) measureIn(d *Driver, o OpenOptions, run func(st Store, dir string) (Result, error)) (Result, error) {
	st, dir, closeAll, err := r.open(d, o)
	if err != nil {
		return Result{}, err
	}
	res, err := run(st, dir)
	if cerr := closeAll(); err == nil {
		err = cerr
	}
	if err != nil {
		return Result{}, err
	}
	res.Store, res.EntrySize = d.Name, r.cfg.Size
	res.MBPerSec = res.OpsPerSec * float64(r.cfg.Size) / 1e6
	return res, nil
}

// W1 interleaves its stores: every store is opened and warmed up, then
// each runs w1Turns turns of Duration/w1Turns in turn, the order rotating
// every round. A disk whose sync latency drifts over a run (on the VM
// these figures come from, twofold within minutes) then weighs on every
// store alike, and their ratio measures the stores rather than the minute
// each one ran in.
const (
	w1Turns  = 10
	w1Warmup = 50 // synced appends per store before the clock starts
)

// diskParticipant is a bare sync primitive measured in W1's turns beside
// the stores (Store "disk", its own workload name).
type diskParticipant struct {
	workload, note string
	open           func(dir string) (Store, error)
}

// runAppendSyncTogether is W1: one entry per call, each durable before
// the next, on every store at once (interleaved, see w1Turns). When the
// run includes the limit workload, the disk's bare sync primitives take
// turns too, so that W1's ratios to them are side by side.
func runAppendSyncTogether(r *runner, w *Workload, ds []*Driver) ([]Result, []error) {
	type run struct {
		turnTaker
		next uint64 // the next entry's index
	}
	var runs []*run
	warm := func(u *run) {
		if u.err == nil {
			r.phase("warm-up", 0)
			u.err = r.fill(u.st, u.next, w1Warmup, r.cfg.Size, 1)
			u.next += w1Warmup
		}
		runs = append(runs, u)
	}
	for _, d := range ds {
		r.begin(d.Name, w)
		u := &run{turnTaker: turnTaker{name: d.Name, workload: w.Label(), lat: newLatency()}, next: 1}
		u.st, _, u.closeAll, u.err = r.open(d, OpenOptions{})
		warm(u)
	}
	if r.withLimit && len(ds) > 0 {
		for _, p := range diskW1Participants() {
			r.begin("disk", w)
			u := &run{turnTaker: turnTaker{name: "disk", workload: p.workload, note: p.note, lat: newLatency()}, next: 1}
			u.st, u.closeAll, u.err = r.openIn("disk", p.open)
			warm(u)
		}
	}
	turn := max(r.cfg.Duration/w1Turns, time.Millisecond)
	interleave(r, runs, w1Turns, func(u *run) error {
		lat, n, el, err := r.syncedAppends(u.st, u.next, turn, nil, nil)
		if err != nil {
			return err
		}
		u.lat.merge(lat)
		u.n += n
		u.next += uint64(n)
		u.elapsed += el
		return nil
	})
	return interleavedResults(r, runs, w1Turns, turn, nil)
}

// syncedAppends appends single durable entries starting at index from for
// dur, recording each call. last, if set, is updated after every append;
// tl, if set, records each call too.
func (r *runner) syncedAppends(st Store, from uint64, dur time.Duration, last *atomic.Uint64, tl *timeline) (*latency, int64, time.Duration, error) {
	r.phase("run", dur)
	lat := newLatency()
	ents := []Entry{{Term: 1, Payload: r.payload[:r.cfg.Size]}}
	start := time.Now()
	deadline := start.Add(dur)
	var n int64
	for {
		ents[0].Index = from + uint64(n)
		t0 := time.Now()
		if err := st.Append(ents); err != nil {
			return nil, 0, 0, fmt.Errorf("bench: append %d: %w", ents[0].Index, err)
		}
		t1 := time.Now()
		lat.record(t1.Sub(t0))
		if tl != nil {
			tl.add(t0, t1.Sub(t0))
		}
		n++
		if last != nil {
			last.Store(ents[0].Index)
		}
		if t1.After(deadline) {
			return lat, n, t1.Sub(start), nil
		}
	}
}

// latencySample: W3 and W4 time one call in latencySample, so that reading
// the clock does not dominate calls of a few hundred nanoseconds.
const latencySample = 8

// noSyncSizes are W3's entry sizes: Config.Size and 4 KiB.
func (c Config) noSyncSizes() []int {
	if c.Size == 4096 {
		return []int{4096}
	}
	return []int{c.Size, 4096}
}

// runAppendNoSync is W3: single entries without waiting for durability,
// then one sync; the final sync is inside the measured time.
func runAppendNoSync(r *runner, d *Driver) ([]Result, error) {
	return perSize(r.cfg.noSyncSizes(), func(size int) (Result, error) { return r.noSyncRun(d, size) })
}

func (r *runner) noSyncRun(d *Driver, size int) (Result, error) {
	st, _, closeAll, err := r.open(d, OpenOptions{NoSync: true})
	if err != nil {
		return Result{}, err
	}
	defer func() {
		if closeAll != nil {
			_ = closeAll()
		}
	}()
	r.phase(fmt.Sprintf("run %d B", size), r.cfg.Duration)
	lat := newLatency()
	ents := []Entry{{Term: 1, Payload: r.payload[:size]}}
	maxN := r.cfg.MaxBytes / int64(size)
	start := time.Now()
	deadline := start.Add(r.cfg.Duration)
	var n int64
	capped := false
	for {
		ents[0].Index = uint64(n + 1)
		if n%latencySample != 0 {
			if err := st.Append(ents); err != nil {
				return Result{}, fmt.Errorf("bench: append %d: %w", n+1, err)
			}
			n++
			continue
		}
		t0 := time.Now()
		if err := st.Append(ents); err != nil {
			return Result{}, fmt.Errorf("bench: append %d: %w", n+1, err)
		}
		lat.record(time.Since(t0))
		n++
		if t0.After(deadline) {
			break
		}
		if n >= maxN {
			capped = true
			break
		}
	}
	r.phase("sync", 0)
	t := time.Now()
	if err := st.Sync(); err != nil {
		return Result{}, fmt.Errorf("bench: final sync: %w", err)
	}
	syncTime := time.Since(t)
	elapsed := time.Since(start)
	err = closeAll()
	closeAll = nil
	if err != nil {
		return Result{}, err
	}
	res := Result{Store: d.Name, Workload: "W3-append-nosync", EntrySize: size, Batch: 1, OpsPerSec: perSec(n, elapsed),
		AppendOpsPerSec: perSec(n, elapsed-syncTime), SyncMBPerSec: perSec(n*int64(size), syncTime) / 1e6}
	res.MBPerSec = res.OpsPerSec * float64(size) / 1e6
	lat.fill(&res)
	res.Note = fmt.Sprintf("%s entries; appends alone %s/s, then the final sync (included) %s, %.0f MB/s of payload; latency sampled 1 in %d",
		withCommas(n), fmtCount(res.AppendOpsPerSec), syncTime.Round(time.Millisecond), res.SyncMBPerSec, latencySample)
	if capped {
		res.Note += fmt.Sprintf("; stopped at the %d MiB cap", r.cfg.MaxBytes>>20)
	}
	return res, nil
}
