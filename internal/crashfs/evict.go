package crashfs

// Evict is fdatasync followed by posix_fadvise(DONTNEED): the process view
// is made durable, as Datasync does (a real fdatasync writes back pages
// dirtied through a mapping too), and since the simulator keeps no pages
// that are clean in the cache but missing from the disk, nothing else
// changes. It is instrumented as OpDatasync.
func (h *file) Evict() error { return h.datasync() }
