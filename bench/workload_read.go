package bench

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// preloadBatch is the batch size used to build logs before a measurement.
const preloadBatch = 1000

// runGetRandom is W4: warm random reads by index.
func runGetRandom(r *runner, d *Driver) ([]Result, error) {
	res, err := r.measureIn(d, OpenOptions{NoSync: true}, func(st Store, dir string) (Result, error) {
		res, err := r.getRandom(st)
		res.MappedBytes, res.HugeMappedBytes = hugeMapped(dir)
		if share, ok := res.hugeShare(); ok {
			res.Note += fmt.Sprintf("; %.0f%% of %s mapped resident in 2 MiB pages", 100*share, fmtSI(res.MappedBytes))
		}
		return res, err
	})
	if err != nil {
		return nil, err
	}
	res.Workload, res.Batch = "W4-get-random", 1
	return []Result{res}, nil
}

func (r *runner) getRandom(st Store) (Result, error) {
	n := r.cfg.Preload
	size := r.cfg.Size
	r.phase("preload", 0)
	if err := r.fill(st, 1, n, size, preloadBatch); err != nil {
		return Result{}, err
	}
	if err := st.Sync(); err != nil {
		return Result{}, fmt.Errorf("bench: preload sync: %w", err)
	}
	get := func(i uint64) error {
		p, err := st.Get(i)
		if err != nil {
			return fmt.Errorf("bench: get %d: %w", i, err)
		}
		if len(p) != size {
			return fmt.Errorf("bench: get %d: %d bytes, want %d", i, len(p), size)
		}
		return nil
	}
	r.phase("warm", 0)
	for i := uint64(1); i <= uint64(n); i++ {
		if err := get(i); err != nil {
			return Result{}, err
		}
	}
	r.phase("run", r.cfg.Duration)
	rng := rand.New(rand.NewPCG(5, 0x5eed))
	lat := newLatency()
	start := time.Now()
	deadline := start.Add(r.cfg.Duration)
	var ops int64
	for {
		i := 1 + rng.Uint64N(uint64(n))
		if ops%latencySample != 0 {
			if err := get(i); err != nil {
				return Result{}, err
			}
			ops++
			continue
		}
		t0 := time.Now()
		if err := get(i); err != nil {
			return Result{}, err
		}
		lat.record(time.Since(t0))
		ops++
		if t0.After(deadline) {
			break
		}
	}
	res := Result{OpsPerSec: perSec(ops, time.Since(start))}
	lat.fill(&res)
	res.Note = fmt.Sprintf("%d entries preloaded, one sequential warm-up pass; latency sampled 1 in %d", n, latencySample)
	return res, nil
}
