//go:build linux

package vfs

import "golang.org/x/sys/unix"

// Prefault populates the mapping's page tables writable
// (MADV_POPULATE_WRITE, Linux 5.14+). Measured here: first writes into a
// fallocated segment cost ~60 ns per 168-byte record without it, ~10 ns
// with it, and msync latency is unchanged.
func (o *osFile) Prefault() error {
	if len(o.m) == 0 {
		return nil
	}
	return unix.Madvise(o.m, unix.MADV_POPULATE_WRITE)
}

// adviseWritable marks a writable mapping MADV_RANDOM. Without it, faults
// that walk a file sequentially (prefaulting, appends) fill the page cache
// with large folios, and a store dirties the whole folio: measured here, a
// 128-byte msync 50 MB into a segment wrote back 2 MiB (p50 440 µs) instead
// of one page (97 µs). Reads through these mappings are random anyway.
func adviseWritable(m []byte) { _ = unix.Madvise(m, unix.MADV_RANDOM) }
