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
// and grown bytes are zeros on disk too. Growing allocates (fallocate):
// on a full disk (SetCapacity) it fails with ENOSPC and changes nothing.
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
	return h.setSize(size, OpResize)
}

// setSize cuts or grows the file to size for op (see Resize), charging or
// freeing disk space. Call with mu held.
func (h *file) setSize(size int64, op Op) error {
	ino := h.ino
	switch old := int64(len(ino.mem)); {
	case size > old:
		name := "fallocate"
		if op == OpWriteAt {
			name = "write"
		}
		if err := h.fs.allocate(ino, size, name, h.name); err != nil {
			return err
		}
	case size < old:
		for p, l := range ino.lost {
			switch lo := int64(p) * PageSize; {
			case lo >= size:
				delete(ino.lost, p)
			case lo+int64(len(l)) > size:
				ino.lost[p] = l[:size-lo] // the rest of a cut page stays lost
			}
		}
		h.fs.charge(ino, size)
	}
	ino.mem = resized(ino.mem, size)
	ino.durable = resized(ino.durable, size)
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
