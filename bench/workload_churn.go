package bench

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// runChurn is W6, raft-wal's churn scenario (its bench -preload 500000
// -trail 10000 -tp 1s): preload ChurnPreload × ChurnPreloadSize entries in
// synced batches of 1000, purge back to the last ChurnTrail, then append
// single durable entries while another goroutine purges the head back to
// ChurnTrail entries every ChurnEvery.
func runChurn(r *runner, d *Driver) ([]Result, error) {
	res, err := r.measure(d, OpenOptions{}, r.churn)
	if err != nil {
		return nil, err
	}
	res.Workload, res.Batch = "W6-churn", 1
	return []Result{res}, nil
}

func (r *runner) churn(st Store) (Result, error) {
	pre, trail := r.cfg.ChurnPreload, r.cfg.ChurnTrail
	r.phase("preload", 0)
	if err := r.fill(st, 1, pre, r.cfg.ChurnPreloadSize, preloadBatch); err != nil {
		return Result{}, err
	}
	if pre > trail {
		if err := st.Purge(uint64(pre - trail)); err != nil {
			return Result{}, fmt.Errorf("bench: purge after preload: %w", err)
		}
		// Every store starts the clock with this setup purge complete and
		// durable (mmaplog deletes purged segments after its next sync);
		// the purges of the timed run are the ones measured.
		if err := st.Sync(); err != nil {
			return Result{}, fmt.Errorf("bench: sync after preload purge: %w", err)
		}
	}

	var (
		last     atomic.Uint64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		purgeLat = newLatency()
		purgeErr error
		purgedTo uint64
		purges   []Span
		tl       = newTimeline(time.Now(), r.cfg.Duration)
	)
	last.Store(uint64(pre))
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.cfg.ChurnEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			l := last.Load()
			if l <= uint64(trail) || l-uint64(trail) <= purgedTo {
				continue
			}
			upto := l - uint64(trail)
			t0 := time.Now()
			if err := st.Purge(upto); err != nil {
				purgeErr = fmt.Errorf("bench: purge to %d: %w", upto, err)
				return
			}
			d := time.Since(t0)
			purgeLat.record(d)
			purges = append(purges, Span{Ms: tl.since(t0), DurMs: ms(d)})
			purgedTo = upto
		}
	}()
	lat, n, elapsed, err := r.syncedAppends(st, uint64(pre)+1, r.cfg.Duration, &last, tl)
	close(stop)
	wg.Wait()
	if err != nil {
		return Result{}, err
	}
	if purgeErr != nil {
		return Result{}, purgeErr
	}
	res := Result{OpsPerSec: perSec(n, elapsed), Timeline: tl.points(), TimelineStepMs: ms(tl.step), Events: purges}
	lat.fill(&res)
	res.Note = fmt.Sprintf("preload %d × %d B, trail %d; %d purges every %s", pre, r.cfg.ChurnPreloadSize, trail, len(purges), r.cfg.ChurnEvery)
	if len(purges) > 0 {
		res.Note += fmt.Sprintf(", purge p50 %.2f ms max %.2f ms",
			float64(purgeLat.quantile(50))/1e6, float64(purgeLat.quantile(100))/1e6)
	}
	return res, nil
}
