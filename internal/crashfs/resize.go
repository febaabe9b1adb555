package crashfs

import (
	"errors"
	"io"
	"syscall"
)

// ReadAt reads the process view through the descriptor (what pread(2)
// sees: the page cache).
func (h *file) ReadAt(p []byte, off int64) (n int, err error) {
	defer func() { h.fs.end(OpReadAt, h.name, err) }()
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.fs.begin(OpReadAt, h.name); err != nil {
		return 0, err
	}
	if h.closed {
		return 0, pathErr(OpReadAt, h.name, errClosed)
	}
	if off < 0 {
		return 0, pathErr(OpReadAt, h.name, syscall.EINVAL)
	}
	if off >= int64(len(h.ino.mem)) {
		return 0, io.EOF
	}
	n = racyCopy(p, h.ino.mem[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Resize cuts or grows the file. The new size is durable at once (a
// simplification: a real file system may revert it until the next sync,
// and raftlog syncs right after); the bytes kept keep their durability,
// and grown bytes are zeros on disk too.
func (h *file) Resize(size int64) (err error) {
	defer func() { h.fs.end(OpResize, h.name, err) }()
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.fs.begin(OpResize, h.name); err != nil {
		return err
	}
	if h.closed {
		return pathErr(OpResize, h.name, errClosed)
	}
	if size < 0 {
		return pathErr(OpResize, h.name, syscall.EINVAL)
	}
	if h.mapped {
		return pathErr(OpResize, h.name, errors.New("resize of a mapped file"))
	}
	h.ino.mem = resized(h.ino.mem, size)
	h.ino.durable = resized(h.ino.durable, size)
	return nil
}

func resized(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return b[:size:size]
	}
	nb := make([]byte, size)
	racyCopy(nb, b)
	return nb
}
