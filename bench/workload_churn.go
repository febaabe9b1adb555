package bench

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// W6 interleaves its stores as W1 does (see w1Turns): every store is
// preloaded first, then each runs w6Turns turns of Duration/w6Turns, the
// order rotating every round. Each store purges every ChurnEvery of its
// own running time, so a turn shorter than ChurnEvery carries the time
// since its last purge over to its next turn; its timeline and purges are
// on that clock too.
const w6Turns = 5

// churnRun is one store's W6 state across its turns.
type churnRun struct {
	turnTaker
	tl         *timeline
	last       atomic.Uint64 // last appended index, read by the purger
	purgedTo   uint64
	sincePurge time.Duration // running time since the last purge tick
	purgeLat   *latency
	purges     []Span
}

// runChurnTogether is W6, raft-wal's churn scenario (its bench -preload
// 500000 -trail 10000 -tp 1s): preload ChurnPreload × ChurnPreloadSize
// entries in synced batches of 1000, purge back to the last ChurnTrail,
// then append single durable entries while another goroutine purges the
// head back to ChurnTrail entries every ChurnEvery.
func runChurnTogether(r *runner, w *Workload, ds []*Driver) ([]Result, []error) {
	var runs []*churnRun
	for _, d := range ds {
		r.begin(d.Name, w)
		u := &churnRun{turnTaker: turnTaker{name: d.Name, workload: w.Label(), lat: newLatency()}, purgeLat: newLatency(), tl: newTimeline(time.Now(), r.cfg.Duration)}
		u.st, _, u.closeAll, u.err = r.open(d, OpenOptions{})
		if u.err == nil {
			u.err = r.churnSetup(u)
		}
		runs = append(runs, u)
	}
	turn := max(r.cfg.Duration/w6Turns, time.Millisecond)
	interleave(r, runs, w6Turns, func(u *churnRun) error { return r.churnTurn(u, turn) })
	return interleavedResults(r, runs, w6Turns, turn, func(u *churnRun, res *Result) {
		res.Timeline, res.TimelineStepMs, res.Events = u.tl.points(), ms(u.tl.step), u.purges
		res.Note = fmt.Sprintf("preload %d × %d B, trail %d; %d purges every %s", r.cfg.ChurnPreload, r.cfg.ChurnPreloadSize, r.cfg.ChurnTrail, len(u.purges), r.cfg.ChurnEvery)
		if len(u.purges) > 0 {
			res.Note += fmt.Sprintf(", purge p50 %.2f ms max %.2f ms",
				float64(u.purgeLat.quantile(50))/1e6, float64(u.purgeLat.quantile(100))/1e6)
		}
	})
}

// churnSetup preloads u's store and purges it back to ChurnTrail entries.
func (r *runner) churnSetup(u *churnRun) error {
	pre, trail := r.cfg.ChurnPreload, r.cfg.ChurnTrail
	r.phase("preload", 0)
	if err := r.fill(u.st, 1, pre, r.cfg.ChurnPreloadSize, preloadBatch); err != nil {
		return err
	}
	u.last.Store(uint64(pre))
	if pre > trail {
		if err := u.st.Purge(uint64(pre - trail)); err != nil {
			return fmt.Errorf("bench: purge after preload: %w", err)
		}
		// Every store starts the clock with this setup purge complete and
		// durable (mmaplog deletes purged segments after its next sync);
		// the purges of the timed run are the ones measured.
		if err := u.st.Sync(); err != nil {
			return fmt.Errorf("bench: sync after preload purge: %w", err)
		}
	}
	return nil
}

// churnTurn runs one turn of W6 on u: synced appends for dur while a
// goroutine purges on u's own clock.
func (r *runner) churnTurn(u *churnRun, dur time.Duration) error {
	begin := time.Now()
	u.tl.start = begin.Add(-u.elapsed) // the timeline runs on the store's clock
	lastTick := begin.Add(-u.sincePurge)
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		purgeErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			t := time.NewTimer(max(time.Until(lastTick.Add(r.cfg.ChurnEvery)), 0))
			select {
			case <-stop:
				t.Stop()
				return
			case <-t.C:
			}
			lastTick = time.Now()
			l := u.last.Load()
			trail := uint64(r.cfg.ChurnTrail)
			if l <= trail || l-trail <= u.purgedTo {
				continue
			}
			upto := l - trail
			t0 := time.Now()
			if err := u.st.Purge(upto); err != nil {
				purgeErr = fmt.Errorf("bench: purge to %d: %w", upto, err)
				return
			}
			d := time.Since(t0)
			u.purgeLat.record(d)
			u.purges = append(u.purges, Span{Ms: u.tl.since(t0), DurMs: ms(d)})
			u.purgedTo = upto
		}
	}()
	lat, n, el, err := r.syncedAppends(u.st, u.last.Load()+1, dur, &u.last, u.tl)
	end := time.Now()
	close(stop)
	wg.Wait()
	if err != nil {
		return err
	}
	if purgeErr != nil {
		return purgeErr
	}
	u.lat.merge(lat)
	u.n += n
	u.elapsed += el
	u.sincePurge = end.Sub(lastTick)
	return nil
}
