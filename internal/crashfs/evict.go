package crashfs

// Evict is fdatasync followed by posix_fadvise(DONTNEED): the process view
// is made durable, as Datasync does (a real fdatasync writes back pages
// dirtied through a mapping too), and since the simulator keeps no pages
// that are clean in the cache but missing from the disk, nothing else
// changes. It is instrumented as OpDatasync.
func (h *file) Evict() (err error) {
	defer func() { h.fs.end(OpDatasync, h.name, err) }()
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.fs.begin(OpDatasync, h.name); err != nil {
		return err
	}
	if h.closed {
		return pathErr(OpDatasync, h.name, errClosed)
	}
	racyCopy(h.ino.durable, h.ino.mem)
	h.ino.sizeSynced = true
	return nil
}
