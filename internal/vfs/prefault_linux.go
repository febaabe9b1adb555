//go:build linux

package vfs

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Prefault populates the mapping's page tables (Linux 5.14+): writable
// (MADV_POPULATE_WRITE) or read-only (MADV_POPULATE_READ). Measured here:
// first writes into a fallocated segment cost ~60 ns per 168-byte record
// without populating, ~10 ns when populated writable, and msync latency is
// unchanged. But a writable page of a shared file mapping is a dirty one:
// populating 256 MiB writable raised the kernel's Dirty count by 256 MiB,
// and 30 s later (vm.dirty_expire_centisecs) the kernel writes every page
// the log has not reached yet back as zeros, a burst of tens of MiB that
// concurrent syncs queue behind. Populated read-only, the pages stay
// clean, and each first store takes one minor fault (page_mkwrite).
//
// The range is populated prefaultChunk at a time: populating holds the
// process's mmap lock for reading throughout, and an mmap or munmap (the
// Go runtime's, or another segment's) queues behind it, with every later
// page fault behind that. Measured here, an mmap next to a 64 MiB
// populate waited up to 17-19 ms; next to 1 MiB pieces, 7-10 ms.
func (o *osFile) Prefault(off, n int64, writable bool) error {
	lo := max(off, 0) &^ (pageSize - 1)
	hi := min(off+n, int64(len(o.m)))
	advice := unix.MADV_POPULATE_READ
	if writable {
		advice = unix.MADV_POPULATE_WRITE
	}
	for p := lo; p < hi; p += prefaultChunk {
		if err := unix.Madvise(o.m[p:min(p+prefaultChunk, hi)], advice); err != nil {
			return err
		}
	}
	return nil
}

// prefaultChunk is how much of a mapping one Prefault system call
// populates.
const prefaultChunk = 1 << 20

// Advise with small = true marks the mapping MADV_RANDOM. Without it,
// faults that walk a file sequentially (prefaulting, appends) fill the page
// cache with large folios, and a store dirties the whole folio: measured
// here, a 128-byte msync 50 MB into a segment wrote back 2 MiB (p50 440 µs)
// instead of one page (97 µs). With it, bulk writeback is about half as
// fast (4 KiB appends then one sync: 1.42 GB/s normal, 0.62-0.71 GB/s
// small).
func (o *osFile) Advise(small bool) error {
	if len(o.m) == 0 {
		return nil
	}
	advice := unix.MADV_NORMAL
	if small {
		advice = unix.MADV_RANDOM
	}
	return unix.Madvise(o.m, advice)
}

// WillNeed starts reading [off, off+n) of the file into the page cache
// (posix_fadvise WILLNEED: what MADV_WILLNEED does for a shared mapping,
// and it needs none).
func (o *osFile) WillNeed(off, n int64) error {
	if n <= 0 {
		return nil
	}
	return unix.Fadvise(int(o.f.Fd()), off, n, unix.FADV_WILLNEED)
}

// StartWriteback starts writing back the dirty pages of [off, off+n)
// (sync_file_range SYNC_FILE_RANGE_WRITE) and returns without waiting for
// them. It can block while the device's request queue is full, so it
// belongs off any path a writer waits on.
func (o *osFile) StartWriteback(off, n int64) error {
	if o.ro {
		return ErrReadOnly
	}
	if n <= 0 {
		return nil
	}
	// Drop the range's page-table entries first (the bytes stay in the
	// page cache, and the next access maps them again): writing back a
	// page that is mapped writable write-protects it on every CPU the
	// process runs on, one TLB shootdown per page, which measured here
	// slowed a writer appending to another segment of the same file set
	// by 40%.
	if lo, hi := max(off, 0)&^(pageSize-1), min(off+n, int64(len(o.m))); hi > lo {
		if err := unix.Madvise(o.m[lo:hi], unix.MADV_DONTNEED); err != nil {
			return fmt.Errorf("start write-back %s [%d, %d): drop mapping: %w", o.Name(), lo, hi, err)
		}
	}
	for {
		err := unix.SyncFileRange(int(o.f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP, unix.ESPIPE:
			return fmt.Errorf("%w: %s [%d, %d): %w", ErrNoWriteBehind, o.Name(), off, off+n, err)
		default:
			return fmt.Errorf("start write-back %s [%d, %d): %w", o.Name(), off, off+n, err)
		}
	}
}

// unmapMinPages is the size, in pages, from which Msync unmaps a range
// before writing it back (unmapBeforeWriteback).
const unmapMinPages = 8

// unmapBeforeWriteback drops the page-table entries of the pages of
// [lo, hi) but the last (MADV_DONTNEED: the bytes stay in the page cache,
// dirty, and the next access maps them again), when the range spans at
// least unmapMinPages pages. Writing back a page that is mapped writable
// write-protects it first, and each write-protection flushes the TLB of
// every CPU the process runs on: measured here (cmd/bench W2, msyncs of
// 60-110 MB), those flushes took a quarter of both cores, one
// inter-processor interrupt per page. Unmapping the range flushes once.
// The last page stays mapped: appends go on in it.
func (o *osFile) unmapBeforeWriteback(lo, hi int64) error {
	last := (hi - 1) &^ (pageSize - 1)
	if last-lo < unmapMinPages*pageSize {
		return nil
	}
	if err := unix.Madvise(o.m[lo:last], unix.MADV_DONTNEED); err != nil {
		return fmt.Errorf("msync %s [%d, %d): drop mapping: %w", o.Name(), lo, hi, err)
	}
	return nil
}
