//go:build linux

package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// limitFileSize is the size of the pre-written file the sync primitives
// cycle through.
const limitFileSize = 64 << 20

// runLimit measures the bare disk in Config.Dir: pwrite+fdatasync and
// mmap store+msync(MS_SYNC) of Config.Size bytes at successive offsets of a
// pre-written file, and sequential 1 MiB writes followed by one fdatasync.
func runLimit(r *runner, _ *Driver) ([]Result, error) {
	dir, remove, err := r.tempDir("disk")
	if err != nil {
		return nil, err
	}
	defer remove()
	r.phase("prepare", 0)
	f, err := prewrittenFile(filepath.Join(dir, "limit.dat"), limitFileSize)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fd := int(f.Fd())
	size := r.cfg.Size
	buf := r.payload[:size]
	var out []Result

	r.phase("pwrite+fdatasync", r.cfg.LimitDuration)
	var off int64
	res, err := timedLoop(r.cfg.LimitDuration, func() error {
		if off+int64(size) > limitFileSize {
			off = 0
		}
		if _, err := unix.Pwrite(fd, buf, off); err != nil {
			return fmt.Errorf("bench: pwrite: %w", err)
		}
		off += int64(size)
		if err := unix.Fdatasync(fd); err != nil {
			return fmt.Errorf("bench: fdatasync: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Workload, res.EntrySize = "limit-fdatasync", size
	res.Note = "pwrite of one entry + fdatasync, into a pre-written file"
	out = append(out, res)

	r.phase("mmap+msync", r.cfg.LimitDuration)
	m, err := unix.Mmap(fd, 0, limitFileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("bench: mmap: %w", err)
	}
	page := int64(os.Getpagesize())
	off = 0
	res, err = timedLoop(r.cfg.LimitDuration, func() error {
		if off+int64(size) > limitFileSize {
			off = 0
		}
		copy(m[off:], buf)
		lo := off &^ (page - 1)
		off += int64(size)
		if err := unix.Msync(m[lo:off], unix.MS_SYNC); err != nil {
			return fmt.Errorf("bench: msync: %w", err)
		}
		return nil
	})
	if uerr := unix.Munmap(m); err == nil && uerr != nil {
		err = fmt.Errorf("bench: munmap: %w", uerr)
	}
	if err != nil {
		return nil, err
	}
	res.Workload, res.EntrySize = "limit-msync", size
	res.Note = "mmap store of one entry + msync(MS_SYNC) of its pages, pre-written file"
	out = append(out, res)

	r.phase("sequential write", r.cfg.LimitDuration)
	res, err = seqWrite(filepath.Join(dir, "seq.dat"), r.cfg.LimitDuration, r.cfg.MaxBytes)
	if err != nil {
		return nil, err
	}
	out = append(out, res)
	for i := range out {
		out[i].Store = "disk"
		out[i].Batch = 1
		out[i].MBPerSec = out[i].OpsPerSec * float64(out[i].EntrySize) / 1e6
	}
	return out, nil
}

// timedLoop calls op until d has passed and reports its rate and latency.
func timedLoop(d time.Duration, op func() error) (Result, error) {
	lat := newLatency()
	start := time.Now()
	deadline := start.Add(d)
	var n int64
	for {
		t0 := time.Now()
		if err := op(); err != nil {
			return Result{}, err
		}
		t1 := time.Now()
		lat.record(t1.Sub(t0))
		n++
		if t1.After(deadline) {
			res := Result{OpsPerSec: perSec(n, t1.Sub(start))}
			lat.fill(&res)
			return res, nil
		}
	}
}

// prewrittenFile creates path, allocates size bytes and writes zeros over
// them, synced, so that later writes find written extents (no metadata
// change on sync).
func prewrittenFile(path string, size int64) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: fallocate %s: %w", path, err)
	}
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros, off); err != nil {
			f.Close()
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: %w", err)
	}
	return f, nil
}

// seqWrite writes 1 MiB blocks to a new file for d (or maxBytes) and then
// fdatasyncs it; the rate includes the sync.
func seqWrite(path string, d time.Duration, maxBytes int64) (Result, error) {
	const block = 1 << 20
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return Result{}, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	buf := makePayload(block)
	lat := newLatency()
	start := time.Now()
	deadline := start.Add(d)
	var n int64
	for n*block < maxBytes {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			return Result{}, fmt.Errorf("bench: sequential write: %w", err)
		}
		lat.record(time.Since(t0))
		n++
		if t0.After(deadline) {
			break
		}
	}
	t := time.Now()
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return Result{}, fmt.Errorf("bench: fdatasync: %w", err)
	}
	syncTime := time.Since(t)
	res := Result{Workload: "limit-seqwrite", EntrySize: block, OpsPerSec: perSec(n, time.Since(start))}
	lat.fill(&res)
	res.Note = fmt.Sprintf("%d MiB in 1 MiB writes + one fdatasync (%s, included); latency per write", n, syncTime.Round(time.Millisecond))
	return res, nil
}
