package crashfs

import (
	"errors"
	"syscall"

	"github.com/raftlog/raftlog/internal/vfs"
)

// file is an open handle on an inode. Every handle of an inode shares one
// mapping: the inode's process view, like a shared mmap.
type file struct {
	fs     *FS
	ino    *inode
	name   string
	mapped bool
	closed bool
}

var _ vfs.File = (*file)(nil)

var errClosed = errors.New("crashfs: file already closed")

func (h *file) Name() string { return h.name }

// Renamed records the handle's new name, for messages.
func (h *file) Renamed(path string) { h.name = path }

func (h *file) Size() (size int64, err error) {
	defer func() { h.fs.end(OpSize, h.name, err) }()
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.fs.begin(OpSize, h.name); err != nil {
		return 0, err
	}
	if h.closed {
		return 0, pathErr(OpSize, h.name, errClosed)
	}
	return int64(len(h.ino.mem)), nil
}

// Map returns the inode's process view itself: writes to it are what a
// crash may or may not keep.
func (h *file) Map() (b []byte, err error) {
	defer func() { h.fs.end(OpMap, h.name, err) }()
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.fs.begin(OpMap, h.name); err != nil {
		return nil, err
	}
	if h.closed {
		return nil, pathErr(OpMap, h.name, errClosed)
	}
	if h.mapped {
		return nil, pathErr(OpMap, h.name, errors.New("already mapped"))
	}
	h.mapped = true
	if len(h.ino.mem) == 0 {
		return nil, nil
	}
	return h.ino.mem, nil
}

// Msync makes [off rounded down to a page, off+n) durable, and the size.
// The end is not rounded up: bytes after off+n in the last page may be
// being written right now, and leaving them unsynced is one of the
// outcomes a real msync allows.
func (h *file) Msync(off, n int64) (err error) {
	defer func() { h.fs.end(OpMsync, h.name, err) }()
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.fs.begin(OpMsync, h.name); err != nil {
		return err
	}
	if h.closed {
		return pathErr(OpMsync, h.name, errClosed)
	}
	if n <= 0 || !h.mapped {
		return nil
	}
	if off < 0 {
		return pathErr(OpMsync, h.name, syscall.EINVAL)
	}
	lo := off &^ (PageSize - 1)
	hi := min(off+n, int64(len(h.ino.mem)))
	if hi > lo {
		copy(h.ino.durable[lo:hi], h.ino.mem[lo:hi])
	}
	h.ino.sizeSynced = true
	return nil
}

// WriteAt writes p into the process view (not durable until a sync).
func (h *file) WriteAt(p []byte, off int64) (n int, err error) {
	defer func() { h.fs.end(OpWriteAt, h.name, err) }()
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.fs.begin(OpWriteAt, h.name); err != nil {
		return 0, err
	}
	if h.closed {
		return 0, pathErr(OpWriteAt, h.name, errClosed)
	}
	if off < 0 {
		return 0, pathErr(OpWriteAt, h.name, syscall.EINVAL)
	}
	if end := off + int64(len(p)); end > int64(len(h.ino.mem)) {
		// Growing a file would reallocate the mapping; raftlog never does.
		return 0, pathErr(OpWriteAt, h.name, syscall.EFBIG)
	}
	// Like pwrite(2), not a memory access of the caller's: uninstrumented.
	return racyCopy(h.ino.mem[off:], p), nil
}

// Datasync makes the whole file durable.
func (h *file) Datasync() error { return h.datasync() }

func (h *file) datasync() (err error) {
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

// Close closes the handle. The Go slice Map returned stays valid (there is
// no unmapping to fault on), which is the one thing a real mapping does
// that this cannot.
func (h *file) Close() (err error) {
	defer func() { h.fs.end(OpClose, h.name, err) }()
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.closed {
		return pathErr(OpClose, h.name, errClosed)
	}
	h.closed = true // an injected error still closes, as close(2) does
	return h.fs.begin(OpClose, h.name)
}
