package bench

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"
)

// CacheMode says how W5 makes a reopen cold.
type CacheMode int

const (
	// CacheDrop drops the whole page cache before each open (sync, then
	// "3" into /proc/sys/vm/drop_caches) when the process may, and else
	// falls back to CacheEvict; the result's note says which ran.
	CacheDrop CacheMode = iota
	// CacheEvict evicts only the log's own files from the page cache
	// (fdatasync, then POSIX_FADV_DONTNEED on each); no privilege needed,
	// but the kernel keeps their inodes and directory entries cached.
	CacheEvict
	// CacheWarm leaves the cache alone: the log was just written and is
	// in memory.
	CacheWarm
)

func (m CacheMode) String() string {
	switch m {
	case CacheDrop:
		return "drop"
	case CacheEvict:
		return "evict"
	case CacheWarm:
		return "warm"
	}
	return fmt.Sprintf("CacheMode(%d)", int(m))
}

// ParseCacheMode is the inverse of CacheMode.String.
func ParseCacheMode(s string) (CacheMode, error) {
	for _, m := range []CacheMode{CacheDrop, CacheEvict, CacheWarm} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("bench: unknown cache mode %q (have drop, evict, warm)", s)
}

// reopenSizes are W5's entry sizes: Config.Size and 1 KiB.
func (c Config) reopenSizes() []int {
	if c.Size == 1024 {
		return []int{1024}
	}
	return []int{c.Size, 1024}
}

// reopenTarget is the payload d builds for W5, and how many times larger
// Config.ReopenBytes is (1 when d builds it all).
func (c Config) reopenTarget(d *Driver) (int64, float64) {
	b := c.ReopenBytes
	if d.Name != "mmaplog" {
		b = min(b, c.PeerReopenBytes)
		if d.MaxReopenBytes > 0 {
			b = min(b, d.MaxReopenBytes)
		}
	}
	return b, float64(c.ReopenBytes) / float64(b)
}

// reopenRoom is a generous estimate of the disk space one W5 log of
// payload bytes in size-byte entries takes: every store frames each
// entry with fewer than 64 bytes, and preallocates less than 256 MiB
// ahead.
func reopenRoom(payload int64, size int) int64 {
	return payload/int64(size)*int64(size+64) + 256<<20
}

// runReopen is W5: for each entry size, build a cleanly closed log of
// Config.ReopenBytes of payload (a peer: at most PeerReopenBytes), then
// ReopenRounds times: make the cache cold, open the log, and time the
// open, the first Get (an entry in the middle, far from anything the
// open had to read) and the first synced Append; the heap growth is
// measured with the log open.
func runReopen(r *runner, d *Driver) ([]Result, error) {
	return perSize(r.cfg.reopenSizes(), func(size int) (Result, error) { return r.reopen(d, size) })
}

func (r *runner) reopen(d *Driver, size int) (Result, error) {
	dir, remove, err := r.tempDir(d.Name)
	if err != nil {
		return Result{}, err
	}
	defer remove()
	payload, scale := r.cfg.reopenTarget(d)
	n := uint64(max(payload/int64(size), 1))
	if err := r.build(d, dir, n, size); err != nil {
		return Result{}, err
	}
	disk := diskUsage(dir)

	r.phase("reopen", 0)
	var (
		opens, gets, appends []time.Duration
		heap, faults, reads  int64
		cold                 = r.cfg.ReopenCache != CacheWarm
		how                  string
	)
	last := n
	for round := range r.cfg.ReopenRounds {
		if cold {
			h, err := coldCache(r.cfg.ReopenCache, dir)
			if err != nil {
				return Result{}, err
			}
			if round == 0 {
				how = h
			}
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f0, r0 := majorFaults(), diskReads()
		t0 := time.Now()
		st, err := d.Open(dir, OpenOptions{})
		opens = append(opens, time.Since(t0))
		faults = max(faults, majorFaults()-f0)
		if r0 >= 0 {
			reads = max(reads, diskReads()-r0)
		}
		if err != nil {
			return Result{}, fmt.Errorf("bench: reopen: %w", err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if g := int64(after.HeapAlloc) - int64(before.HeapAlloc); round == 0 || g > heap {
			heap = g // may be <= 0 for a store that holds nothing once open
		}
		g, a, err := firstCalls(st, n/2+1, last, size, r.payload[:size])
		if cerr := st.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("bench: close after reopen: %w", cerr)
		}
		if err != nil {
			return Result{}, err
		}
		if g > 0 {
			gets = append(gets, g)
		}
		appends = append(appends, a)
		last++
	}
	lat := newLatency()
	var total time.Duration
	for _, o := range opens {
		lat.record(o)
		total += o
	}
	res := Result{Store: d.Name, Workload: "W5-reopen", EntrySize: size, Batch: 1,
		OpsPerSec: perSec(int64(len(opens)), total), HeapBytes: heap, Entries: int64(n),
		DiskBytes: disk, Cold: cold, FirstGetUs: us(median(gets)), FirstAppendUs: us(median(appends)), OpenFaults: faults, OpenReadBytes: reads}
	if scale > 1.0001 {
		res.Scale = scale
	}
	lat.fill(&res)
	res.Note = fmt.Sprintf("%s entries, %s payload, %s on disk; %d opens, p50 %.1f ms, up to %d major page faults and %s read from disk",
		fmtCount(float64(n)), fmtSI(int64(n)*int64(size)), fmtSI(disk), len(opens), ms(lat.quantile(50)), faults, fmtSI(reads))
	if res.FirstGetUs > 0 {
		res.Note += fmt.Sprintf("; first Get %.2f ms", res.FirstGetUs/1e3)
	}
	res.Note += fmt.Sprintf("; first Append+sync %.2f ms", res.FirstAppendUs/1e3)
	if cold {
		res.Note += "; cold: " + how
	} else {
		res.Note += "; warm: page cache not dropped"
	}
	if res.Scale > 0 {
		res.Note += fmt.Sprintf("; built 1/%.3g of the %s target", res.Scale, fmtSI(r.cfg.ReopenBytes))
	}
	res.Note += "; heap = growth after GC with the log open (max)"
	return res, nil
}

// build writes n entries of size bytes into a fresh store in dir, syncs
// and closes it, reporting progress in whole percent.
func (r *runner) build(d *Driver, dir string, n uint64, size int) error {
	st, err := d.Open(dir, OpenOptions{NoSync: true})
	if err != nil {
		return err
	}
	const chunk = 1 << 20
	pct := -1
	for from := uint64(1); from <= n && err == nil; from += chunk {
		if p := int(100 * (from - 1) / n); p != pct {
			pct = p
			r.phase(fmt.Sprintf("build %s × %s: %d%%", fmtCount(float64(n)), fmtSize(size), p), 0)
		}
		err = r.fill(st, from, int(min(chunk, n-from+1)), size, preloadBatch)
	}
	if err == nil {
		r.phase("build: sync", 0)
		err = st.Sync()
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

// firstCalls times, on a freshly opened store, a Get of index mid and a
// synced Append of last+1, and checks that entry last is there. The Get
// time is 0 for a store without reads by index.
func firstCalls(st Store, mid, last uint64, size int, payload []byte) (get, app time.Duration, err error) {
	t0 := time.Now()
	p, err := st.Get(mid)
	get = time.Since(t0)
	switch {
	case errors.Is(err, errNoRandomRead):
		get = 0
	case err != nil:
		return 0, 0, fmt.Errorf("bench: first get %d after reopen: %w", mid, err)
	case len(p) != size:
		return 0, 0, fmt.Errorf("bench: first get %d after reopen: %d bytes, want %d", mid, len(p), size)
	}
	if get > 0 {
		p, err := st.Get(last)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: get %d after reopen: %w", last, err)
		}
		if len(p) != size {
			return 0, 0, fmt.Errorf("bench: get %d after reopen: %d bytes, want %d", last, len(p), size)
		}
	}
	t0 = time.Now()
	if err := st.Append([]Entry{{Index: last + 1, Term: 1, Payload: payload}}); err != nil {
		return 0, 0, fmt.Errorf("bench: first append %d after reopen: %w", last+1, err)
	}
	return get, time.Since(t0), nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
