package mmaplog

import (
	"runtime/debug"
	"sync"
	"time"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/sched"
	"github.com/raftlog/raftlog/internal/vfs"
)

// syncRange is a written, not yet durable byte range of a segment.
type syncRange struct {
	seg    *segment
	lo, hi int64
}

// seal is an index header to write and sync once its segment's bytes up to
// hdr.ValidEnd are durable (a rotated-out segment, or Close).
type seal struct {
	seg *segment
	hdr index.Header
}

// work is what one group sync must do, accumulated by the writer between
// flushes and merged by the flusher into one batch.
type work struct {
	ranges  []syncRange
	seals   []seal
	removes []*segment  // purged segments to delete once this batch is durable
	behind  []syncRange // ranges to start writing back, when nothing is synced (writeBehind)
	dir     bool        // a file was created: fsync the directory
	pos     uint64      // global position the batch makes durable
	cbs     []func(error)
	flushes int
	opened  time.Time // when the first Flush or Sync call joined (metrics)
	appends uint64    // Log.appends at the last hand-off (metrics)
}

func (w *work) empty() bool {
	return len(w.ranges) == 0 && len(w.seals) == 0 && len(w.removes) == 0 && !w.dir && len(w.cbs) == 0 && len(w.behind) == 0
}

func (w *work) reset() {
	w.ranges, w.seals = emptied(w.ranges), emptied(w.seals)
	w.removes, w.cbs = emptied(w.removes), emptied(w.cbs)
	w.behind = emptied(w.behind)
	w.dir, w.flushes, w.opened = false, 0, time.Time{}
}

// emptied returns s cleared (no references kept) and of length 0. It
// clears only when there is something to clear: a Flush per entry resets
// an empty batch every time.
func emptied[T any](s []T) []T {
	if len(s) > 0 {
		clear(s)
	}
	return s[:0]
}

// addRange appends [lo, hi) of seg, merging with the previous range.
func (w *work) addRange(seg *segment, lo, hi int64) {
	if hi <= lo {
		return
	}
	if n := len(w.ranges); n > 0 && w.ranges[n-1].seg == seg && w.ranges[n-1].hi >= lo {
		w.ranges[n-1].hi = max(w.ranges[n-1].hi, hi)
		return
	}
	w.ranges = append(w.ranges, syncRange{seg, lo, hi})
}

// merge moves src's work into w (src is reset).
func (w *work) merge(src *work) {
	for _, r := range src.ranges {
		w.addRange(r.seg, r.lo, r.hi)
	}
	if len(src.seals) > 0 {
		w.seals = append(w.seals, src.seals...)
	}
	if len(src.removes) > 0 {
		w.removes = append(w.removes, src.removes...)
	}
	if len(src.behind) > 0 {
		w.behind = append(w.behind, src.behind...)
	}
	w.dir = w.dir || src.dir
	w.pos = max(w.pos, src.pos)
	w.appends = max(w.appends, src.appends)
	src.reset()
}

// flusher is the one goroutine that syncs and runs callbacks.
type flusher struct {
	l *Log
	// syncMu is held while a batch is taken from pending and synced, by
	// the flusher goroutine or inline by Sync: batches complete in order.
	syncMu  sync.Mutex
	inline  work // Sync's batch, under syncMu
	mu      sync.Mutex
	pending work // handed off, not yet picked up
	stopped bool // under mu: the flusher ran its last batch; queue no callback
	// kicked, under mu, is set by a hand-off that sends kick and cleared
	// when the flusher takes pending: while it is set, a wake-up is on its
	// way for everything added to pending, and Flush sends no other.
	kicked bool
	waker
	leftover []*segment // segments whose removal never ran (Close)
	// prompt asks for a short time slice while the flusher's group
	// syncs run, under syncMu.
	prompt       sched.Prompt
	promptLogged bool // under syncMu: a refused request was logged once

	// Counters, under mu.
	flushes, syncs     uint64
	syncTotal, syncMax time.Duration
	lastSync           time.Duration
}

func (f *flusher) start(l *Log) {
	f.l = l
	f.waker.start(f.run)
}

func (f *flusher) stop() {
	f.waker.stop()
}

// orphans returns purged segments that were never deleted (the Log
// closed or failed first); the caller closes them.
func (f *flusher) orphans() []*segment {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append(f.leftover, f.pending.removes...)
	f.leftover, f.pending.removes = nil, nil
	return out
}

// waker runs a background loop (the flusher's, the remover's) that sleeps
// until woken or told to quit.
type waker struct {
	kick chan struct{} // a wake-up, buffered: one pending at most
	quit chan struct{} // closed by stop
	wg   sync.WaitGroup
}

func (w *waker) start(run func()) {
	w.kick = make(chan struct{}, 1)
	w.quit = make(chan struct{})
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		run()
	}()
}

// stop tells the loop to quit and waits for it to return.
func (w *waker) stop() {
	close(w.quit)
	w.wg.Wait()
}

// wake queues a wake-up unless one is pending.
func (w *waker) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// await blocks until a wake-up or quit, and reports whether quit.
func (w *waker) await() (quitting bool) {
	select {
	case <-w.kick:
		return false
	case <-w.quit:
		return true
	}
}

// syncSlice is the time slice the flusher's thread asks the kernel for
// while it waits on a group sync that coalesced more than one Flush
// (sched.Prompt), against a default of 0.75-3 ms: a writer that went on
// appending while the last sync ran is likely to be running when this
// one returns, and the flusher must run at once, to run the callbacks
// and start the next sync. Measured here (2 cores, cmd/bench W2 with
// 1,024 entries in flight, the writer CPU-bound), the flusher's thread
// spent 15% of its sync time runnable but not running, 0.8 ms per sync
// in the slowest 2% of them, waiting for the writer's thread to use up
// its slice; with this slice the median of the entries' p99 over
// alternating runs fell by 4-11%. A group of one Flush (one caller that
// waits: W8 with one writer) does not ask: there, asking and restoring
// (three system calls, 4 µs here, and a reschedule) made it 15% slower.
// Nor does an inline Sync, whose caller waits and runs nothing meanwhile.
const syncSlice = 100 * time.Microsecond

// promptMaxBytes is the largest group sync that asks for syncSlice. A
// large one takes long enough that a prompt wake-up saves nothing, and
// asking costs throughput: measured here (cmd/bench W2 with 1 M entries
// in flight, syncs of tens of MB), the prompt flusher started smaller
// syncs sooner and the log made 10-20% fewer entries durable per second.
const promptMaxBytes = 1 << 20

// bytes returns the number of bytes w's ranges sync.
func (w *work) bytes() int64 {
	var n int64
	for _, r := range w.ranges {
		n += r.hi - r.lo
	}
	return n
}

func (f *flusher) run() {
	var w work
	for {
		// On quit: Close handed off its final flush and waited for it,
		// but a Sync racing Close may have queued a callback since: run
		// one last batch, and refuse callbacks from now on (stopped), so
		// that no caller is left waiting.
		quit := f.await()
		f.syncMu.Lock()
		f.mu.Lock()
		w, f.pending = f.pending, w
		f.stopped = quit
		f.kicked = false
		f.mu.Unlock()
		if !w.empty() {
			err := f.sync(&w, true)
			// Callbacks run before syncMu is released, so that a Sync that
			// returns has seen every earlier callback run (a callback must
			// not call Sync).
			for _, cb := range w.cbs {
				if cb != nil {
					cb(err)
				}
			}
			f.l.met.calledBack(err, len(w.cbs))
			w.reset()
		}
		w.opened = time.Time{} // an empty batch is no group
		f.syncMu.Unlock()
		if quit {
			return
		}
	}
}

// sync performs one group sync: data ranges, then the directory, then
// sealed index headers (written only now, after their data and names are
// durable); then it hands purged segments whose purge record is now
// durable to the remover, which deletes them off this path: no waiting
// writer depends on an unlink or its directory fsync. prompt: the sync
// runs on the flusher goroutine, whose thread asks for a short time slice
// for a small sync of more than one Flush (see syncSlice).
func (f *flusher) sync(w *work, prompt bool) error {
	l := f.l
	if p := l.failure.Load(); p != nil {
		f.keepRemovals(w)
		return *p
	}
	if w.onlyBehind() {
		// Nothing to make durable: start the write-back and count no
		// sync. (A batch that syncs writes those bytes itself.)
		f.startWriteback(w)
		return nil
	}
	start := time.Now()
	l.met.begin(w, start)
	short := prompt && w.flushes > 1 && w.bytes() <= promptMaxBytes
	if short {
		f.prompt.Begin(syncSlice)
	}
	err := f.syncData(w)
	if short {
		f.prompt.End()
	}
	if f.prompt.Err != nil && !f.promptLogged {
		// A kernel that refuses costs nothing but the latency it would
		// have saved.
		f.promptLogged = true
		l.logger.Debug("mmaplog: syncs run with the default time slice", "err", f.prompt.Err)
	}
	if err != nil {
		f.keepRemovals(w)
		return l.fail(err)
	}
	l.durable.Store(max(l.durable.Load(), w.pos))
	l.syncs.Add(1)
	if len(w.removes) > 0 {
		l.rm.add(w.removes)
	}
	d := time.Since(start)
	f.mu.Lock()
	f.flushes += uint64(w.flushes)
	f.syncs++
	f.syncTotal += d
	f.syncMax = max(f.syncMax, d)
	f.lastSync = d
	f.mu.Unlock()
	if p := l.failure.Load(); p != nil {
		// The Log failed on another goroutine while this batch synced (the
		// remover's directory sync, damage the verifier found): the bytes
		// are durable, but a failed Log acknowledges nothing more.
		return *p
	}
	return nil
}

func (f *flusher) syncData(w *work) (err error) {
	defer vfs.CatchFault(debug.SetPanicOnFault(true), &err, ErrFailed)
	for _, r := range w.ranges {
		if err := r.seg.file.Msync(r.lo, r.hi-r.lo); err != nil {
			return err
		}
	}
	f.l.met.msynced()
	// The directory before the seals: a complete index vouches for its
	// segment, so the names of the files holding that data (renamed at
	// rotation) must be durable first.
	if w.dir {
		if err := f.l.fs.SyncDir(f.l.dir); err != nil {
			return err
		}
		f.l.met.dirSynced()
	}
	for _, s := range w.seals {
		// Everything up to w.pos is durable now: for a segment sealed at
		// rotation that includes its successor's header and snapshot.
		s.hdr.Vouched = w.pos
		s.seg.idx.SetHeader(s.hdr)
		if err := s.seg.idx.Sync(int(s.hdr.Count)); err != nil {
			return err
		}
		if h, err := s.seg.idx.Header(); err == nil {
			s.seg.sealed.Store(&h) // with SlotsCRC, which SetHeader computed
		}
	}
	f.l.met.synced(f.l, w)
	return nil
}

// keepRemovals remembers segments whose deletion cannot happen (the Log
// failed) so that Close still unmaps them.
func (f *flusher) keepRemovals(w *work) {
	f.mu.Lock()
	f.leftover = append(f.leftover, w.removes...)
	f.mu.Unlock()
}

// handOff moves the writer's accumulated work into the flusher's pending
// batch. Call with wmu held.
func (l *Log) handOff() { l.handOffCB(nil, false) }

// handOffCB is handOff that, when withCB, also queues done as the batch's
// next callback under the same hold of the flusher's lock, and wakes the
// flusher unless a wake-up is already on its way.
func (l *Log) handOffCB(done func(error), withCB bool) {
	s := l.open
	lo, hi := l.handed, s.end
	l.handed = s.end
	pos, appends := s.globalEnd(), l.appends.Load()
	f := &l.fl
	f.mu.Lock()
	p := &f.pending
	if p.opened.IsZero() {
		p.opened = time.Now()
	}
	if !l.todo.empty() {
		p.merge(&l.todo) // a rotation's work, before the open segment's range
	}
	p.addRange(s, lo, hi)
	p.pos = max(p.pos, pos)
	p.appends = max(p.appends, appends)
	p.flushes++
	kick := false
	if withCB {
		p.cbs = append(p.cbs, done)
		kick = !f.kicked
		f.kicked = true
	}
	f.mu.Unlock()
	if kick {
		f.wake()
	}
}

// handOffWith is handOff plus done queued as the batch's next callback,
// and a wake-up for the flusher. Call with wmu held.
func (l *Log) handOffWith(done func(error)) {
	l.handOffCB(done, true)
}

// Flush starts making every write that returned before it durable and
// returns without waiting for the disk. done (may be nil) runs exactly
// once, on the flusher goroutine, in Flush call order, with nil after
// msync of the written ranges and a directory fsync for any segment file
// created or removed, or with the error that made the Log fail. Flushes
// issued while a sync is running are coalesced into the next one.
//
// When Flush itself returns an error (the Log is closed or has failed),
// done is not called. done must not call Sync or Close (they wait for the
// flusher that is running done); it may call Flush and the write methods.
func (l *Log) Flush(done func(error)) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	l.handOffWith(done)
	return nil
}

// Sync makes every write that returned before it durable, like Flush
// followed by waiting for it. When no Flush callback is waiting, the sync
// runs on the calling goroutine (saving two goroutine wake-ups); batches
// still complete in order and coalesce with concurrent flushes.
func (l *Log) Sync() error {
	l.wmu.Lock()
	if err := l.writable(); err != nil {
		l.wmu.Unlock()
		return err
	}
	l.handOff()
	pos := l.open.globalEnd() // this call's writes end here
	l.wmu.Unlock()

	f := &l.fl
	f.syncMu.Lock()
	f.mu.Lock()
	if f.stopped || (len(f.pending.cbs) == 0 && l.durable.Load() >= pos) {
		// A batch that completed while this call waited for syncMu (or
		// Close's last one) held this call's writes: batches complete in
		// order, and one that ends at or past pos was handed off after
		// them. Newer writes in pending are their callers' to sync. (With
		// callbacks queued, Sync waits behind them: a Sync that returns
		// has seen every earlier Flush callback run.)
		f.mu.Unlock()
		f.syncMu.Unlock()
		if p := l.failure.Load(); p != nil {
			return *p
		}
		return nil
	}
	if len(f.pending.cbs) > 0 {
		// Callbacks must run on the flusher goroutine, after this batch:
		// queue behind them and wait. The callback is queued under the
		// same hold of mu that saw the queue, so the flusher cannot take
		// the batch (and quit) between the two.
		ch := make(chan error, 1)
		f.pending.cbs = append(f.pending.cbs, func(err error) { ch <- err })
		f.mu.Unlock()
		f.syncMu.Unlock()
		f.wake()
		return <-ch
	}
	f.inline, f.pending = f.pending, f.inline
	f.mu.Unlock()
	var err error
	if f.inline.empty() {
		// The flusher already synced the batch holding this call's writes.
		if p := l.failure.Load(); p != nil {
			err = *p
		}
		f.inline.opened = time.Time{}
	} else {
		err = f.sync(&f.inline, false)
		f.inline.reset()
	}
	f.syncMu.Unlock()
	return err
}
