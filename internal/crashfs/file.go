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
	h.ino.mapped++
	if len(h.ino.mem) == 0 {
		return nil, nil
	}
	return h.ino.mem, nil
}

// Msync makes [off rounded down to a page, off+n) durable, and the size.
// The end is not rounded up: bytes after off+n in the last page may be
// being written right now, and leaving them unsynced is one of the
// outcomes a real msync allows. Pages whose write-back failed earlier and
// that were not written since are skipped: the page cache holds them as
// clean. A sync hook (SetSyncHook) sees the sync before it copies.
func (h *file) Msync(off, n int64) (err error) {
	defer func() { h.fs.end(OpMsync, h.name, err) }()
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	ft, err := h.fs.beginFault(OpMsync, h.name)
	usable := !h.closed && h.mapped && n > 0 && off >= 0
	lo := off &^ (PageSize - 1)
	hi := min(off+n, int64(len(h.ino.mem)))
	if err != nil {
		if ft.Writeback && usable && hi > lo {
			h.ino.loseRange(lo, hi)
		}
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
	if hi > lo {
		h.fs.duringSync(OpMsync, h, lo, hi)
		// The hook ran unlocked: the file may have changed size meanwhile.
		if hi = min(hi, int64(len(h.ino.mem))); hi > lo {
			h.ino.syncRange(lo, hi, false)
		}
	}
	h.ino.sizeSynced = true
	return h.ino.reportWriteback()
}

// StartWriteback models sync_file_range(SYNC_FILE_RANGE_WRITE) of
// [off, off+n): the kernel writes the dirty pages of the range back now,
// whole, as they are at this moment, and the call waits for nothing.
// Nothing is made durable that a crash image could not already hold (see
// Writeback); the size is not synced. Under a Writeback fault the call
// succeeds and the write-back fails after it, as a real one does: the
// range's dirty pages become clean without reaching the disk, and the next
// Msync or Datasync of the file fails with the fault's error. Any other
// fault fails the call and changes nothing.
func (h *file) StartWriteback(off, n int64) (err error) {
	defer func() { h.fs.end(OpWriteBehind, h.name, err) }()
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	ft, err := h.fs.beginFault(OpWriteBehind, h.name)
	lo := max(off, 0) &^ (PageSize - 1)
	hi := min(off+n, int64(len(h.ino.mem)))
	if err != nil {
		if !ft.Writeback || h.closed {
			return err
		}
		if hi > lo {
			h.ino.loseRange(lo, hi)
		}
		h.ino.wbErr = err
		return nil
	}
	if h.closed {
		return pathErr(OpWriteBehind, h.name, errClosed)
	}
	if off < 0 || n < 0 {
		return pathErr(OpWriteBehind, h.name, syscall.EINVAL)
	}
	for p := int(lo / PageSize); int64(p)*PageSize < hi; p++ {
		if h.ino.dirty(p) {
			plo, phi := h.ino.pageBounds(p)
			racyCopy(h.ino.durable[plo:phi], h.ino.mem[plo:phi])
			delete(h.ino.lost, p)
		}
	}
	return nil
}

// reportWriteback returns, once, the error of a failed asynchronous
// write-back of the file (see StartWriteback). Call with mu held.
func (ino *inode) reportWriteback() error {
	err := ino.wbErr
	ino.wbErr = nil
	return err
}

// duringSync runs the sync hook, if any, with mu released. Call with mu
// held.
func (f *FS) duringSync(op Op, h *file, lo, hi int64) {
	hook := f.syncHook
	if hook == nil {
		return
	}
	f.mu.Unlock()
	defer f.mu.Lock()
	hook(Event{Op: op, Path: h.name, Off: lo, Len: hi - lo, ino: h.ino})
}

// WriteAt writes p into the process view (not durable until a sync). A
// write past the end grows the file (as Resize does), which needs disk
// space (ENOSPC when the disk is full, see SetCapacity); a mapped file
// cannot grow (EFBIG): the mapping is the file's Go slice.
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
		if h.ino.mapped > 0 {
			// Growing a mapped file would reallocate the mapping (the Go
			// slice); raftlog never does.
			return 0, pathErr(OpWriteAt, h.name, syscall.EFBIG)
		}
		if err := h.setSize(end, OpWriteAt); err != nil {
			return 0, err
		}
	}
	h.ino.redirty(off, off+int64(len(p)))
	// Like pwrite(2), not a memory access of the caller's: uninstrumented.
	return racyCopy(h.ino.mem[off:], p), nil
}

// Datasync makes the whole file durable (pages whose write-back failed
// and that were not written since excepted, as for Msync).
func (h *file) Datasync() error { return h.datasync(false) }

// SyncInode implements vfs.InodeSyncer: Datasync that also makes the
// file's extent changes durable (Reuse's zeroing).
func (h *file) SyncInode() error { return h.datasync(true) }

func (h *file) datasync(inode bool) (err error) {
	defer func() { h.fs.end(OpDatasync, h.name, err) }()
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	ft, err := h.fs.beginFault(OpDatasync, h.name)
	if err != nil {
		if ft.Writeback && !h.closed {
			h.ino.loseRange(0, int64(len(h.ino.mem)))
		}
		return err
	}
	if h.closed {
		return pathErr(OpDatasync, h.name, errClosed)
	}
	if len(h.ino.mem) > 0 {
		h.fs.duringSync(OpDatasync, h, 0, int64(len(h.ino.mem))) // len read again below
	}
	if inode {
		h.ino.zeroed = nil
	}
	h.ino.syncRange(0, int64(len(h.ino.mem)), true)
	h.ino.sizeSynced = true
	return h.ino.reportWriteback()
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
	h.ino.handles--
	if h.mapped {
		h.ino.mapped--
	}
	h.fs.release(h.ino)
	return h.fs.begin(OpClose, h.name)
}
