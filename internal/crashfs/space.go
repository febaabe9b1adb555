package crashfs

import (
	"io/fs"
	"syscall"
)

// Space: a simulated disk can be given a capacity (SetCapacity). Every
// file holds its size rounded up to whole pages, from the call that
// allocates it (Create's fallocate, a WriteAt or Resize that extends it,
// WriteFile) until it is removed and its last handle closed, as on a real
// file system. An allocation that does not fit fails with ENOSPC (a
// *fs.PathError wrapping syscall.ENOSPC, like the real calls) and changes
// nothing; so does creating a file, even an empty one, on a full disk.
// Syncs never allocate: files are preallocated.

// SetCapacity limits the bytes the files may hold (0: unlimited). Files
// already holding more keep their space; only new allocations fail.
// Crash images and restarts (Image, Restart) start unlimited.
func (f *FS) SetCapacity(bytes int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.capacity = max(0, bytes)
}

// Used returns the bytes the files hold (whole pages each).
func (f *FS) Used() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used
}

// blocks is n rounded up to whole pages.
func blocks(n int64) int64 { return (n + PageSize - 1) &^ (PageSize - 1) }

// allocate charges ino for size bytes, or fails with ENOSPC (reported as
// op on path) when the disk cannot hold them. Call with mu held.
func (f *FS) allocate(ino *inode, size int64, op, path string) error {
	need := blocks(size) - ino.charged
	if f.capacity > 0 && (f.used+need > f.capacity || ino.charged == 0 && f.used >= f.capacity) {
		return &fs.PathError{Op: op, Path: path, Err: syscall.ENOSPC}
	}
	f.charge(ino, size)
	return nil
}

// charge sets ino's share of the disk to size bytes, without a check.
// Call with mu held.
func (f *FS) charge(ino *inode, size int64) {
	f.used += blocks(size) - ino.charged
	ino.charged = blocks(size)
}

// release frees ino's space once no name and no handle refers to it.
// Call with mu held.
func (f *FS) release(ino *inode) {
	if !ino.linked && ino.handles == 0 {
		f.used -= ino.charged
		ino.charged = 0
	}
}

// link makes path name ino in the process view; a file it replaces loses
// its name. Call with mu held.
func (f *FS) link(path string, ino *inode) {
	if old, ok := f.names[path]; ok && old != ino {
		old.linked = false
		f.release(old)
	}
	f.names[path] = ino
	ino.linked = true
}

// unlink removes path from the process view. Call with mu held.
func (f *FS) unlink(path string) {
	ino, ok := f.names[path]
	if !ok {
		return
	}
	delete(f.names, path)
	ino.linked = false
	f.release(ino)
}

// handle opens a handle on ino. Call with mu held.
func (f *FS) handle(ino *inode, path string) *file {
	ino.handles++
	return &file{fs: f, ino: ino, name: path}
}

// recount marks every named inode linked and charges it for its size
// (a new FS built from a snapshot). Call with mu held.
func (f *FS) recount() {
	for _, ino := range f.names {
		if !ino.linked {
			ino.linked = true
			f.charge(ino, int64(len(ino.mem)))
		}
	}
}
