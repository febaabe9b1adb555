//go:build linux

package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/raftlog/raftlog/internal/format"
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
	buf := r.payload[:r.cfg.Size]
	var out []Result

	bare := bareSync{f: f}
	res, err := limitLoop(r, "pwrite+fdatasync", "limit-fdatasync", noteFdatasync, func() error { return bare.pwrite(buf) })
	if err != nil {
		return nil, err
	}
	out = append(out, res)

	m, err := unix.Mmap(fd, 0, limitFileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("bench: mmap: %w", err)
	}
	bare = bareSync{f: f, m: m}
	res, err = limitLoop(r, "mmap+msync", "limit-msync", noteMsync, func() error { return bare.store(buf) })
	if err == nil {
		out = append(out, res)
		res, err = msyncWindow(r, m)
	}
	if uerr := unix.Munmap(m); err == nil && uerr != nil {
		err = fmt.Errorf("bench: munmap: %w", uerr)
	}
	if err != nil {
		return nil, err
	}
	out = append(out, res)

	r.phase("sequential write", r.cfg.LimitDuration)
	seqMax := min(r.cfg.MaxBytes, 1<<30)
	res, err = seqWrite(filepath.Join(dir, "seq.dat"), r.cfg.LimitDuration, seqMax, false)
	if err != nil {
		return nil, err
	}
	out = append(out, res)
	r.phase("sequential O_DIRECT write", r.cfg.LimitDuration)
	res, err = seqWrite(filepath.Join(dir, "direct.dat"), r.cfg.LimitDuration, seqMax, true)
	if err != nil {
		// Not every file system takes O_DIRECT; the buffered figure stands.
		res = Result{Workload: "limit-seqwrite-direct", EntrySize: 1 << 20, Note: "error: " + err.Error()}
	}
	out = append(out, res)
	r.phase("get probe: prepare", 0)
	probes, err := getProbes(r, dir)
	if err != nil {
		return nil, err
	}
	out = append(out, probes...)
	for _, size := range r.cfg.noSyncSizes() {
		if res, err = copyCRCProbe(r, dir, size); err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	for i := range out {
		out[i].Store = "disk"
		out[i].Batch = max(out[i].Batch, 1)
		out[i].MBPerSec = out[i].OpsPerSec * float64(out[i].EntrySize) / 1e6
	}
	return out, nil
}

const (
	noteFdatasync = "pwrite of one entry + fdatasync, file pre-written, cache dropped"
	noteMsync     = "mmap store of one entry + msync(MS_SYNC) of its pages, same file"
)

// bareSync makes one small write durable the two ways a store can, with
// nothing else around it: pwrite + fdatasync, or a store through the
// shared mapping m + msync(MS_SYNC) of its pages. Writes go to successive
// offsets of a pre-written file of limitFileSize bytes, wrapping around.
type bareSync struct {
	f   *os.File
	m   []byte // nil for pwrite
	off int64
}

// next returns the offset for n bytes.
func (s *bareSync) next(n int) int64 {
	if s.off+int64(n) > limitFileSize {
		s.off = 0
	}
	off := s.off
	s.off += int64(n)
	return off
}

func (s *bareSync) pwrite(b []byte) error {
	off := s.next(len(b))
	if _, err := unix.Pwrite(int(s.f.Fd()), b, off); err != nil {
		return fmt.Errorf("bench: pwrite at %d: %w", off, err)
	}
	if err := unix.Fdatasync(int(s.f.Fd())); err != nil {
		return fmt.Errorf("bench: fdatasync: %w", err)
	}
	return nil
}

func (s *bareSync) store(b []byte) error {
	off := s.next(len(b))
	copy(s.m[off:], b)
	lo := off &^ int64(os.Getpagesize()-1)
	if err := unix.Msync(s.m[lo:off+int64(len(b))], unix.MS_SYNC); err != nil {
		return fmt.Errorf("bench: msync at %d: %w", lo, err)
	}
	return nil
}

// bareSyncStore is bareSync as a W1 participant: the disk's limit measured
// in turns with the stores, so that its figure shares their disk's moods.
type bareSyncStore struct {
	bareSync
	closeFile func() error
}

func (s *bareSyncStore) Append(entries []Entry) error {
	for _, e := range entries {
		var err error
		if s.m == nil {
			err = s.pwrite(e.Payload)
		} else {
			err = s.store(e.Payload)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *bareSyncStore) Sync() error { return nil } // every Append is durable

func (s *bareSyncStore) Get(uint64) ([]byte, error) {
	return nil, errors.New("bench: the bare disk has no Get")
}

func (s *bareSyncStore) Purge(uint64) error { return nil }

func (s *bareSyncStore) Close() error {
	var err error
	if s.m != nil {
		if err = unix.Munmap(s.m); err != nil {
			err = fmt.Errorf("bench: munmap: %w", err)
		}
	}
	return errors.Join(err, s.closeFile())
}

// diskW1Participants are the bare sync primitives that join W1's turns
// when the run includes the limit workload.
func diskW1Participants() []diskParticipant {
	open := func(mapped bool) func(dir string) (Store, error) {
		return func(dir string) (Store, error) {
			f, err := prewrittenFile(filepath.Join(dir, "limit.dat"), limitFileSize)
			if err != nil {
				return nil, err
			}
			s := &bareSyncStore{bareSync: bareSync{f: f}, closeFile: f.Close}
			if mapped {
				s.m, err = unix.Mmap(int(f.Fd()), 0, limitFileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
				if err != nil {
					f.Close()
					return nil, fmt.Errorf("bench: mmap: %w", err)
				}
			}
			return s, nil
		}
	}
	return []diskParticipant{
		{workload: "limit-fdatasync-w1", note: noteFdatasync, open: open(false)},
		{workload: "limit-msync-w1", note: noteMsync, open: open(true)},
	}
}

// msyncWindow is the disk's side of W2 with boundedWindow entries in
// flight: the records of that many entries stored into the mapping m and
// msynced together, one window after the other. An entry of W2 waits for
// the sync running when it is appended and then for its own, so its
// latency is about two of these.
func msyncWindow(r *runner, m []byte) (Result, error) {
	page := int64(os.Getpagesize())
	window := boundedWindow * format.RecordSize(format.EntryHeadSize+r.cfg.Size)
	buf := r.payload[:r.cfg.Size]
	var off int64
	note := fmt.Sprintf("mmap store of %s entries' records (%s) + msync(MS_SYNC) of their pages, same file", withCommas(boundedWindow), fmtSI(window))
	res, err := limitLoop(r, "mmap+msync of a window", "limit-msync-window", note, func() error {
		if off+window > int64(len(m)) {
			off = 0
		}
		for p := off; p < off+window; p += int64(len(buf)) {
			copy(m[p:off+window], buf)
		}
		lo := off &^ (page - 1)
		off += window
		if err := unix.Msync(m[lo:off], unix.MS_SYNC); err != nil {
			return fmt.Errorf("bench: msync: %w", err)
		}
		return nil
	})
	res.Batch = boundedWindow
	res.OpsPerSec *= boundedWindow // entries, as every result counts them
	return res, err
}

// limitLoop runs the timed loop of op as phase and labels the result as
// workload of Config.Size-byte entries, with note.
func limitLoop(r *runner, phase, workload, note string, op func() error) (Result, error) {
	r.phase(phase, r.cfg.LimitDuration)
	res, err := timedLoop(r.cfg.LimitDuration, op)
	res.Workload, res.EntrySize, res.Note = workload, r.cfg.Size, note
	return res, err
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
// change on sync). It then drops the file's pages from the page cache:
// write(2) leaves large folios there (ext4, Linux 6.16+), and a store
// through a mapping dirties its whole folio, so that msync of one entry
// would write back up to 2 MiB (measured: msync p50 ~0.29 ms instead of
// ~0.09 ms). Pages faulted in through the mapping are small.
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
	if err := unix.Fadvise(int(f.Fd()), 0, size, unix.FADV_DONTNEED); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: fadvise: %w", err)
	}
	return f, nil
}

// seqWrite writes 1 MiB blocks to a new file for d (or maxBytes) and then
// fdatasyncs it; the rate includes the sync. direct uses O_DIRECT, which
// bypasses the page cache and shows what the device itself takes.
func seqWrite(path string, d time.Duration, maxBytes int64, direct bool) (Result, error) {
	const block = 1 << 20
	flags := os.O_CREATE | os.O_RDWR | os.O_TRUNC
	name, how := "limit-seqwrite", "buffered"
	if direct {
		flags |= unix.O_DIRECT
		name, how = "limit-seqwrite-direct", "O_DIRECT"
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return Result{}, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	// An anonymous mapping is page-aligned, as O_DIRECT requires.
	buf, err := unix.Mmap(-1, 0, block, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return Result{}, fmt.Errorf("bench: mmap: %w", err)
	}
	defer func() { _ = unix.Munmap(buf) }()
	copy(buf, makePayload(block))
	lat := newLatency()
	start := time.Now()
	deadline := start.Add(d)
	var n int64
	for n*block < maxBytes {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			return Result{}, fmt.Errorf("bench: %s sequential write: %w", how, err)
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
	res := Result{Workload: name, EntrySize: block, OpsPerSec: perSec(n, time.Since(start))}
	lat.fill(&res)
	res.Note = fmt.Sprintf("%d MiB in %s 1 MiB writes + one fdatasync (%s, included); latency per write", n, how, syncTime.Round(time.Millisecond))
	return res, nil
}
