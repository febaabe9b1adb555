package bench

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// W2's two bounds on the entries appended but not yet durable: a wide one
// for the throughput figure and the bounded variant's, where the latency
// from append to callback is the figure that matters.
const (
	pipelineWindow = 1 << 20
	boundedWindow  = 1 << 10
)

// pipelineSample: W2 reads the clock for one entry in pipelineSample, at
// its append and in its callback; the other callbacks only count. Reading
// the clock and recording a histogram value for each of 3 M entries a
// second would cost about as much as the append itself.
const pipelineSample = 64

// runAppendPipelined is W2: append one entry and ask for a flush without
// waiting; the figure is durable entries per second. A store with an
// asynchronous flush runs twice, with pipelineWindow and with
// boundedWindow entries in flight; the others append synced batches of
// raftBatch entries.
func runAppendPipelined(r *runner, d *Driver) ([]Result, error) {
	var out []Result
	for _, window := range []int{pipelineWindow, boundedWindow} {
		var async bool
		res, err := r.measure(d, OpenOptions{}, func(st Store) (Result, error) {
			as, ok := st.(AsyncStore)
			if async = ok; async {
				return r.pipelined(as, window)
			}
			return r.batched(st)
		})
		if err != nil {
			return nil, fmt.Errorf("%d in flight: %w", window, err)
		}
		res.Workload = "W2-append-pipelined"
		out = append(out, res)
		if !async {
			break // a batched run has its own bound: one batch
		}
	}
	return out, nil
}

// groupStats is what a store with group commit reports of its own
// syncs: how long they took, and how many entries each carried.
type groupStats struct {
	syncs      uint64
	p50, p99   time.Duration // each group's sync
	waitP50    time.Duration // a group's wait for the one before it
	entriesP50 uint64
}

// groupStatter is a store that reports groupStats (mmaplog).
type groupStatter interface{ groupStats() groupStats }

// window counts the flush callbacks that ran and lets the writer wait,
// parked, until enough have. The callbacks run one at a time on the
// store's flusher goroutine, in append order.
type window struct {
	completed atomic.Uint64 // callbacks run; written by the callbacks only
	waitFor   atomic.Uint64 // 0, or the count a parked writer waits for
	wake      chan struct{}
}

func newWindow() *window { return &window{wake: make(chan struct{}, 1)} }

// ran records that the k-th callback ran and wakes the writer if it waits
// for k.
func (w *window) ran(k uint64) {
	w.completed.Store(k)
	if t := w.waitFor.Load(); t != 0 && k >= t && w.waitFor.CompareAndSwap(t, 0) {
		w.wake <- struct{}{}
	}
}

// await returns once at least target callbacks ran.
func (w *window) await(target uint64) {
	for spin := 0; spin < 32; spin++ {
		if w.completed.Load() >= target {
			return
		}
		runtime.Gosched()
	}
	w.waitFor.Store(target)
	if w.completed.Load() >= target && w.waitFor.CompareAndSwap(target, 0) {
		return
	}
	// Either the callback that reached target saw waitFor and claimed
	// it, or it has yet to run: it sends exactly one wake-up.
	<-w.wake
}

// pipelined appends single entries with Flush(callback) for
// Config.Duration, keeping at most limit of them not yet durable. Its
// latency is that of one entry in pipelineSample, from just before its
// append to its callback.
func (r *runner) pipelined(st AsyncStore, limit int) (Result, error) {
	var (
		win    = newWindow()
		lat    = newLatency() // used by the callbacks only, until the end
		cbErr  atomic.Pointer[error]
		base   = time.Now()
		starts = make([]time.Duration, ringSize(limit/pipelineSample+2))
		mask   = uint64(len(starts) - 1)
	)
	// One callback for every entry: the k-th call is for entry k (indexes
	// start at 1), so it needs no state of its own.
	done := func(err error) {
		k := win.completed.Load() + 1
		if err != nil {
			first := err // only this copy escapes: no allocation per call
			cbErr.CompareAndSwap(nil, &first)
		}
		if k%pipelineSample == 0 {
			lat.record(time.Since(base) - starts[(k/pipelineSample)&mask])
		}
		win.ran(k)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r.phase("run", r.cfg.Duration)
	e := Entry{Term: 1, Payload: r.payload[:r.cfg.Size]}
	lim := uint64(limit)
	var n, seen uint64 // appended; callbacks known to have run
	stalls := 0
	for {
		if n-seen >= lim {
			if seen = win.completed.Load(); n-seen >= lim {
				stalls++
				win.await(n - lim + 1)
				seen = win.completed.Load()
			}
		}
		e.Index = n + 1
		if e.Index%pipelineSample == 0 {
			now := time.Since(base)
			starts[(e.Index/pipelineSample)&mask] = now
			if now > r.cfg.Duration {
				break
			}
		}
		if err := st.AppendFlush(e, done); err != nil {
			return Result{}, fmt.Errorf("bench: append+flush %d: %w", e.Index, err)
		}
		n++
	}
	r.phase("sync", 0)
	if err := st.Sync(); err != nil {
		return Result{}, fmt.Errorf("bench: final sync: %w", err)
	}
	// Sync returns after every earlier callback ran; do not rely on it.
	if win.completed.Load() < n {
		wait := time.Now()
		for win.completed.Load() < n {
			if time.Since(wait) > 10*time.Second {
				return Result{}, fmt.Errorf("bench: %d of %d flush callbacks ran 10s after Sync returned", win.completed.Load(), n)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	elapsed := time.Since(base)
	runtime.ReadMemStats(&after)
	if p := cbErr.Load(); p != nil {
		return Result{}, fmt.Errorf("bench: flush callback: %w", *p)
	}
	if got := win.completed.Load(); got != n {
		return Result{}, fmt.Errorf("bench: %d flush callbacks for %d flushes", got, n)
	}
	res := Result{Batch: 1, InFlight: limit, OpsPerSec: perSec(int64(n), elapsed)}
	lat.fill(&res)
	res.Note = fmt.Sprintf("Append+Flush(callback) per entry, ≤ %s in flight; latency = append to callback, 1 entry in %d; %.2f allocs/entry",
		withCommas(int64(limit)), pipelineSample, float64(after.Mallocs-before.Mallocs)/float64(max(n, 1)))
	if stalls > 0 {
		res.Note += fmt.Sprintf("; writer waited %d times", stalls)
	}
	if gs, ok := st.(groupStatter); ok {
		if g := gs.groupStats(); g.syncs > 0 {
			res.StoreSyncP50us, res.StoreSyncP99us = float64(g.p50.Microseconds()), float64(g.p99.Microseconds())
			res.Note += fmt.Sprintf("; the store's %s group syncs: p50 %s, p99 %s, %d entries each (p50), waiting %s for the one before (p50)",
				withCommas(int64(g.syncs)), fmtMs(res.StoreSyncP50us), fmtMs(res.StoreSyncP99us), g.entriesP50, fmtMs(float64(g.waitP50.Microseconds())))
		}
	}
	return res, nil
}

// ringSize is the smallest power of two >= n.
func ringSize(n int) int {
	s := 1
	for s < n {
		s <<= 1
	}
	return s
}

// batched is W2 for a store without an asynchronous flush: synced batches
// of raftBatch entries.
func (r *runner) batched(st Store) (Result, error) {
	r.phase("run", r.cfg.Duration)
	lat := newLatency()
	ents := make([]Entry, raftBatch)
	for i := range ents {
		ents[i] = Entry{Term: 1, Payload: r.payload[:r.cfg.Size]}
	}
	start := time.Now()
	deadline := start.Add(r.cfg.Duration)
	next := uint64(1)
	for {
		for i := range ents {
			ents[i].Index = next + uint64(i)
		}
		t0 := time.Now()
		if err := st.Append(ents); err != nil {
			return Result{}, fmt.Errorf("bench: append %d: %w", next, err)
		}
		t1 := time.Now()
		lat.recordN(t1.Sub(t0), raftBatch)
		next += raftBatch
		if t1.After(deadline) {
			res := Result{Batch: raftBatch, InFlight: raftBatch, OpsPerSec: perSec(int64(next-1), t1.Sub(start))}
			lat.fill(&res)
			res.Note = "latency = one synced batch"
			return res, nil
		}
	}
}
