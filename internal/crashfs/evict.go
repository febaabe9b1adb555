package crashfs

// Evict is fdatasync followed by posix_fadvise(DONTNEED): the process view
// is made durable, as Datasync does (a real fdatasync writes back pages
// dirtied through a mapping too), and then the pages the cache holds
// clean although their write-back failed (Fault.Writeback) are dropped,
// so that the next reads see what the disk holds. Pages stay while any
// handle has the file mapped: the kernel does not drop mapped pages (and,
// like fadvise, Evict does not report it). It is instrumented as
// OpDatasync.
func (h *file) Evict() error {
	if err := h.datasync(false); err != nil {
		return err
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if !h.closed && h.ino.mapped == 0 {
		h.ino.dropClean(0, int64(len(h.ino.mem)))
	}
	return nil
}
