//go:build linux

package vfs

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// DropCache implements CacheDropper: madvise(MADV_DONTNEED) on the mapped
// pages of the range (safe on a shared file mapping: a dirty page-table
// entry passes its dirty bit to the cached page, nothing is lost), then
// posix_fadvise(POSIX_FADV_DONTNEED), which evicts the clean cached pages
// that no mapping holds any more.
func (o *osFile) DropCache(off, n int64) error {
	if n <= 0 {
		return nil
	}
	lo := off &^ (pageSize - 1)
	hi := (off + n + pageSize - 1) &^ (pageSize - 1)
	if m := int64(len(o.m)); m > 0 && lo < m {
		if err := unix.Madvise(o.m[lo:min(hi, m)], unix.MADV_DONTNEED); err != nil {
			return fmt.Errorf("madvise %s [%d, %d): %w", o.f.Name(), lo, min(hi, m), err)
		}
	}
	if err := unix.Fadvise(int(o.f.Fd()), lo, hi-lo, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("fadvise %s [%d, %d): %w", o.f.Name(), lo, hi, err)
	}
	return nil
}
