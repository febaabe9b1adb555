package vfs

// CacheDropper is implemented by Files whose cached pages can be dropped,
// so that the next read of those bytes comes from the disk: a check that
// re-reads a file (mmaplog's online verifier) would otherwise see the page
// cache, which hides a bit flipped on the medium until the page is evicted.
type CacheDropper interface {
	// DropCache drops the clean cached pages of [off, off+n), widened to
	// whole pages: first from this File's own mapping (the page-table
	// entries only; the data stays in the page cache, and a later access
	// faults it back in), then from the page cache. Dirty pages and pages
	// other processes map stay cached. It is a hint: an error may be
	// ignored. The caller must keep the mapping from being unmapped during
	// the call.
	DropCache(off, n int64) error
}

// readOnlyOpener is implemented by file systems that can open a file
// read-only (O_RDONLY) next to the read-write handle the Log holds.
type readOnlyOpener interface {
	OpenReadOnly(path string) (File, error)
}

// OpenReadOnly opens path for reading through fs: read-only (O_RDONLY) on
// the real file system, with fs.Open on others (the crash simulator, whose
// files are in memory). Only ReadAt, Size and Close may be used on the
// result.
func OpenReadOnly(fs FS, path string) (File, error) {
	if ro, ok := fs.(readOnlyOpener); ok {
		return ro.OpenReadOnly(path)
	}
	return fs.Open(path)
}

// OpenReadOnly opens path O_RDONLY, as ReadOnly does.
func (osFS) OpenReadOnly(path string) (File, error) { return readOnlyFS{}.Open(path) }
