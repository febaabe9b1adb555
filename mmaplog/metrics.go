package mmaplog

import (
	"log/slog"
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Distribution summarizes the observations of one kind recorded since
// Open: durations (Latency) or sizes (Sizes). Percentiles come from a
// log-linear histogram with 16 buckets per power of two: a reported
// percentile is at most 1/16 (6.25 %) above the true one (nearest rank),
// never below it, and never above Max. Sizes below 16 are exact.
//
// Figures are cumulative since Open. For a recent window, subtract two
// snapshots' Buckets (which is what a Prometheus rate() over the
// raftlogprom histograms does).
type Distribution[T time.Duration | uint64] struct {
	Count         uint64 // observations
	Sum           T      // their total
	P50, P90, P99 T      // percentiles (nearest rank), 0 when Count is 0
	Max           T      // the largest observation, exact
	// Buckets holds cumulative counts at fixed bounds, lowest first, for
	// exporters: Buckets[i].Count observations were <= Buckets[i].Le.
	// Latency bounds are 1 µs·2^k up to about 16.8 s; size bounds are 2^k
	// up to 2^30. Observations above the last bound are in Count only.
	Buckets []Bucket[T]
}

// Bucket is one cumulative bucket of a Distribution: Count observations
// were at most Le.
type Bucket[T time.Duration | uint64] struct {
	Le    T
	Count uint64
}

// Latency is a distribution of durations.
type Latency = Distribution[time.Duration]

// Sizes is a distribution of sizes (entries or bytes).
type Sizes = Distribution[uint64]

// The histogram behind a Distribution. Values are kept in "ticks": for
// sizes a tick is the unit itself; for durations a tick is 1/1.024 ns, so
// that 1 µs·2^k is exactly 1024·2^k ticks, a bucket edge, and the
// exported latency buckets are exact.
const (
	subBits    = 4
	subBuckets = 1 << subBits // linear buckets per power of two
	topExp     = 48           // ticks from 2^48 (about 76 hours) share the top bucket
	numBuckets = subBuckets + (topExp-subBits)*subBuckets

	latencyBuckets = 25 // exported bounds 1 µs .. 2^24 µs
	sizeBuckets    = 31 // exported bounds 1 .. 2^30
)

// hist is a fixed-size histogram of atomic counters: recording never
// allocates or locks, and Stats may read it while it is being written.
// The value v is recorded in the bucket of v-1, which makes every bucket
// a half-open range (lo, hi] of values and a cumulative count "<= 2^k"
// an exact sum of buckets.
type hist struct {
	counts [numBuckets]atomic.Uint64
	sum    atomic.Uint64 // in the caller's unit: ns, entries or bytes
	max    atomic.Uint64 // likewise
}

// bucketOf returns the bucket of u (a value in ticks, minus one).
func bucketOf(u uint64) int {
	if u < subBuckets {
		return int(u)
	}
	e := bits.Len64(u) - 1
	if e >= topExp {
		return numBuckets - 1
	}
	return (e-subBits+1)*subBuckets + int(u>>(e-subBits)&(subBuckets-1))
}

// bucketTop returns the largest value (in ticks) recorded in bucket b.
func bucketTop(b int) uint64 {
	if b == numBuckets-1 {
		return math.MaxUint64 // the top bucket has no upper edge
	}
	if b < subBuckets {
		return uint64(b) + 1
	}
	shift := b/subBuckets - 1 // e - subBits
	m := uint64(b % subBuckets)
	return (subBuckets + m + 1) << shift
}

// observe records a value: v in the caller's unit, ticks its bucket key.
func (h *hist) observe(v, ticks uint64) {
	if ticks > 0 {
		ticks--
	}
	h.counts[bucketOf(ticks)].Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// observeSize records a size.
func (h *hist) observeSize(v uint64) { h.observe(v, v) }

// observeDuration records a duration (negative ones as 0).
func (h *hist) observeDuration(d time.Duration) {
	ns := uint64(max(d, 0))
	h.observe(ns, nsToTicks(ns))
}

func nsToTicks(ns uint64) uint64 {
	const limit = 1 << 55 // ns*128 must not overflow; far above topExp
	return min(ns, limit) * 128 / 125
}

func ticksToNS(t uint64) uint64 {
	hi, lo := bits.Mul64(t, 125)
	return hi<<57 | lo>>7 // t*125/128 without overflow
}

// summary is a snapshot of a hist, in ticks except sum and max.
type summary struct {
	count, sum, max uint64
	p               [3]uint64 // p50, p90, p99 in ticks
	cum             []uint64  // cumulative counts at the exported bounds
}

// snapshot summarizes h with cumulative counts at nb exported bounds of
// 2^first, 2^(first+1), ... ticks. Every bound is the top of a bucket, so
// the counts are exact.
func (h *hist) snapshot(nb int, first uint) summary {
	var c [numBuckets]uint64
	var s summary
	for i := range c {
		c[i] = h.counts[i].Load()
		s.count += c[i]
	}
	s.sum, s.max = h.sum.Load(), h.max.Load()
	s.cum = make([]uint64, nb)
	var ranks [3]uint64
	for i, q := range [3]float64{0.50, 0.90, 0.99} {
		ranks[i] = max(1, uint64(math.Ceil(q*float64(s.count))))
	}
	var run uint64
	k, pi := 0, 0
	for b := range c {
		top := bucketTop(b)
		for k < nb && top > 1<<(first+uint(k)) {
			s.cum[k] = run
			k++
		}
		run += c[b]
		for pi < len(ranks) && s.count > 0 && run >= ranks[pi] {
			s.p[pi] = top
			pi++
		}
	}
	for ; k < nb; k++ {
		s.cum[k] = run
	}
	return s
}

// latency summarizes h as durations.
func (h *hist) latency() Latency {
	s := h.snapshot(latencyBuckets, 10)
	pct := func(t uint64) time.Duration { return time.Duration(min(ticksToNS(t), s.max)) }
	d := Latency{Count: s.count, Sum: time.Duration(s.sum), Max: time.Duration(s.max), P50: pct(s.p[0]), P90: pct(s.p[1]), P99: pct(s.p[2])}
	d.Buckets = make([]Bucket[time.Duration], len(s.cum))
	for k := range s.cum {
		d.Buckets[k] = Bucket[time.Duration]{Le: time.Duration(ticksToNS(1 << (10 + k))), Count: s.cum[k]}
	}
	return d
}

// sizes summarizes h as sizes.
func (h *hist) sizes() Sizes {
	s := h.snapshot(sizeBuckets, 0)
	d := Sizes{Count: s.count, Sum: s.sum, Max: s.max, P50: min(s.p[0], s.max), P90: min(s.p[1], s.max), P99: min(s.p[2], s.max)}
	d.Buckets = make([]Bucket[uint64], len(s.cum))
	for k := range s.cum {
		d.Buckets[k] = Bucket[uint64]{Le: 1 << k, Count: s.cum[k]}
	}
	return d
}

// slowSyncEvery is the default for how often at most the slow-sync warning
// is logged.
const slowSyncEvery = 10 * time.Second

// metrics holds the Log's distributions. The flush-pipeline histograms
// are written by whoever holds syncMu (the flusher or an inline Sync),
// rotations by the writer under wmu, removals by the remover; Stats reads
// them concurrently (the histograms are atomic, dirSync has two writers).
type metrics struct {
	groupWait, queueWait, sync, dirSync, callbacks hist
	groupEntries, groupBytes                       hist
	rotations, removals                            hist
	removed                                        atomic.Uint64 // purged segments removed
	slow                                           atomic.Uint64 // syncs above the threshold

	// The group sync in progress and the pipeline's state, under syncMu.
	mark       time.Time     // the end of the last timed phase
	data, dir  time.Duration // msync and directory fsync time so far
	free       time.Time     // when the sync pipeline last became idle
	counted    uint64        // appends counted into groups so far
	slowLogged time.Time     // when the last slow-sync warning was logged
	suppressed uint64        // slow syncs not logged since then
}

// begin starts timing the sync of group w at start, recording how long
// it waited: while the previous group was syncing and running callbacks
// (group wait), then from the pipeline being free to start (queue wait).
func (m *metrics) begin(w *work, start time.Time) {
	m.mark, m.data, m.dir = start, 0, 0
	if w.opened.IsZero() {
		return
	}
	ready := w.opened
	var wait time.Duration
	if m.free.After(ready) {
		wait, ready = m.free.Sub(w.opened), m.free
	}
	m.groupWait.observeDuration(wait)
	m.queueWait.observeDuration(start.Sub(ready))
}

// lap returns the time since the last mark and moves the mark to now.
func (m *metrics) lap() time.Duration {
	now := time.Now()
	d := now.Sub(m.mark)
	m.mark = now
	return d
}

// msynced ends the data msync phase of a group sync.
func (m *metrics) msynced() { m.data += m.lap() }

// dirSynced ends its directory fsync.
func (m *metrics) dirSynced() {
	m.dir = m.lap()
	m.dirSync.observeDuration(m.dir)
}

// synced records a group sync of w that completed (its index seals
// included) and warns when it was slow.
func (m *metrics) synced(l *Log, w *work) {
	if len(w.seals) > 0 {
		m.data += m.lap()
	}
	m.free = m.mark
	m.sync.observeDuration(m.data)
	var n uint64
	if w.appends > m.counted {
		n, m.counted = w.appends-m.counted, w.appends
	}
	m.groupEntries.observeSize(n)
	var bytes int64
	files := len(w.seals)
	for i, r := range w.ranges {
		bytes += r.hi - r.lo
		if i == 0 || w.ranges[i-1].seg != r.seg {
			files++
		}
	}
	m.groupBytes.observeSize(uint64(bytes))
	if d := m.data + m.dir; l.opts.SlowSync > 0 && d > l.opts.SlowSync {
		m.slowSync(l, d, bytes, files, w.dir)
	}
}

// calledBack records that the n callbacks of a group, run after its sync
// (which returned err), have all returned.
func (m *metrics) calledBack(err error, n int) {
	if err != nil || n == 0 {
		return
	}
	now := time.Now()
	m.callbacks.observeDuration(now.Sub(m.free))
	m.free = now
}

// removedOne records the removal of one purged segment whose directory
// fsync began at t and returned err. Called by the remover.
func (m *metrics) removedOne(t time.Time, err error) {
	if err == nil {
		m.dirSync.observeDuration(time.Since(t))
		m.removed.Add(1)
	}
}

// removedAll records the removal of a batch of purged segments, begun at
// start, that ended with err. Called by the remover.
func (m *metrics) removedAll(start time.Time, err error) {
	if err == nil {
		m.removals.observeDuration(time.Since(start))
	}
}

// rotated records a rotation that stalled the writer since start.
func (m *metrics) rotated(start time.Time) { m.rotations.observeDuration(time.Since(start)) }

// slowSync counts a sync above Options.SlowSync and logs it, at most once
// per interval, with the number of slow syncs not logged in between.
func (m *metrics) slowSync(l *Log, d time.Duration, bytes int64, files int, dir bool) {
	m.slow.Add(1)
	now := time.Now()
	every := l.opts.slowSyncEvery
	if every == 0 {
		every = slowSyncEvery
	}
	if !m.slowLogged.IsZero() && now.Sub(m.slowLogged) < every {
		m.suppressed++
		return
	}
	l.logger.Warn("mmaplog: slow sync",
		slog.String("dir", l.dir),
		slog.Duration("duration", d),
		slog.Int64("bytes", bytes),
		slog.Int("files", files),
		slog.Bool("dir_fsync", dir),
		slog.Duration("threshold", l.opts.SlowSync),
		slog.Uint64("suppressed", m.suppressed))
	m.slowLogged, m.suppressed = now, 0
}

// fill copies the distributions into st.
func (m *metrics) fill(st *Stats) {
	st.GroupWait = m.groupWait.latency()
	st.QueueWait = m.queueWait.latency()
	st.SyncDuration = m.sync.latency()
	st.DirSyncDuration = m.dirSync.latency()
	st.CallbackDelay = m.callbacks.latency()
	st.GroupEntries = m.groupEntries.sizes()
	st.GroupBytes = m.groupBytes.sizes()
	st.RotationStall = m.rotations.latency()
	st.RemovalDuration = m.removals.latency()
	st.RemovedSegments = m.removed.Load()
	st.SlowSyncs = m.slow.Load()
}
