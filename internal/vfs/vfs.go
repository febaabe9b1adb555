// Package vfs is the seam through which raftlog creates, maps, syncs,
// renames and removes files. OS is the real implementation (fallocate,
// shared mmap, msync, fdatasync, directory fsync), ReadOnly its read-only
// view for tools, and the crash simulator internal/crashfs another (used
// by the tests and fuzz/). Only file-level operations go through the seam:
// appends and reads touch the mapped []byte directly, so the seam costs
// nothing on the hot path.
//
// Implementations must be safe for concurrent use by different goroutines
// operating on different Files; one File is used by one goroutine at a time
// except for reads and writes of its mapping.
package vfs

import "io"

// FS is the set of directory-level operations raftlog needs.
type FS interface {
	// MkdirAll creates dir and its parents when missing.
	MkdirAll(dir string) error
	// ReadDir returns the names of the entries in dir.
	ReadDir(dir string) ([]string, error)
	// Create creates path exclusively and preallocates size bytes
	// (fallocate: running out of space is an error here, never a fault
	// later). The file reads as zeros.
	Create(path string, size int64) (File, error)
	// Open opens an existing file for reading and writing.
	Open(path string) (File, error)
	// Reuse opens the existing file path, which must be size bytes long,
	// and makes it read as zeros without freeing or allocating its blocks
	// (fallocate ZERO_RANGE): a file reused this way puts no block free
	// (and on a file system mounted with discard, no trim inside the
	// journal commit that other files' syncs wait for) on anyone's path.
	// The zeros are durable after a sync of the file. A file system that
	// cannot zero a range fails with ErrNoReuse, and the caller removes
	// the file instead.
	Reuse(path string, size int64) (File, error)
	// Rename atomically renames oldpath to newpath.
	Rename(oldpath, newpath string) error
	// Remove deletes path.
	Remove(path string) error
	// SyncDir makes the directory's entries (creates, renames, removes) durable.
	SyncDir(dir string) error
	// Lock takes an exclusive, non-blocking lock on the file path (created
	// if missing). It fails with ErrLocked when another process or another
	// lock in this process holds it.
	Lock(path string) (io.Closer, error)
}

// File is one open file and, after Map, its shared read-write mapping.
type File interface {
	// Name is the path the file was opened with.
	Name() string
	// Size is the file's length in bytes.
	Size() (int64, error)
	// Map maps the whole file shared and read-write and returns the
	// mapping. Writes to it reach the file. Map may be called once.
	Map() ([]byte, error)
	// Msync makes the mapped bytes [off, off+n) durable (msync MS_SYNC,
	// which on Linux also writes the metadata needed to read them back,
	// like fdatasync). The range is widened to page boundaries. The OS
	// file unmaps the pages of a range of 8 pages or more, all but the
	// last, before writing them back (see unmapBeforeWriteback); the bytes
	// stay, and the next access maps them again.
	Msync(off, n int64) error
	// WriteAt writes p at off through the file descriptor (not the mapping).
	WriteAt(p []byte, off int64) (int, error)
	// ReadAt reads len(p) bytes at off through the file descriptor.
	ReadAt(p []byte, off int64) (int, error)
	// Resize changes the file's length to size: a shorter file is cut, a
	// longer one is grown with allocated zeros (fallocate, so that a full
	// disk is an error now, not a fault later). Not on a mapped file.
	Resize(size int64) error
	// Datasync makes the file's written data durable (fdatasync).
	Datasync() error
	// Evict writes back the file's dirty cached pages and then drops its
	// clean ones (fdatasync, then posix_fadvise DONTNEED), so that the
	// next reads come from the disk. Call it before Map. After a failed
	// write-back the kernel marks the failed pages clean while the disk
	// never got them; reading them from the page cache would bless bytes
	// that a power loss takes away (Rebello et al., ATC '20).
	Evict() error
	// Close unmaps the file (when mapped) and closes it. After Close the
	// mapping must not be touched.
	Close() error
}

// Concurrent is implemented by file systems whose calls may run on several
// goroutines at once with the same effect as one after the other (the
// operating system's). The crash simulator is not: the order of its calls
// is what its crash points enumerate.
type Concurrent interface {
	Concurrent()
}

// IsConcurrent reports whether fs implements Concurrent.
func IsConcurrent(fs FS) bool {
	_, ok := fs.(Concurrent)
	return ok
}

// InodeSyncer is implemented by Files whose file system may leave a
// change of the file's extents out of fsync and fdatasync: ext4 without
// a journal writes an inode on fsync only when the VFS was told it is
// dirty, and ext4 records extent changes (fallocate, a zeroed range, the
// conversion of unwritten extents on their first write-back) without
// telling it. Found by fuzz F10n: after a power loss such a file showed
// its previous contents, or zeros where a synced header was. SyncInode
// makes the inode as it is now durable, extents and size included.
type InodeSyncer interface {
	SyncInode() error
}

// SyncInode makes f's data and inode durable: InodeSyncer.SyncInode where
// f has it, else Datasync.
func SyncInode(f File) error {
	if s, ok := f.(InodeSyncer); ok {
		return s.SyncInode()
	}
	return f.Datasync()
}

// ReadAheader is implemented by Files that can be read ahead: WillNeed
// starts reading [off, off+n) of the file into the page cache, without
// waiting and whether or not the file is mapped, for a range about to be
// read on a mapping that is otherwise read without read-ahead (or whose
// reads are to be in flight together). A hint; errors may be ignored.
type ReadAheader interface {
	WillNeed(off, n int64) error
}

// Renamer is implemented by Files that can be told their new name after
// FS.Rename, so that later errors name the file as it is now.
type Renamer interface {
	Renamed(path string)
}

// Prefaulter is implemented by Files that can tune their mapping: fault it
// in ahead of time, so that first writes to fresh pages do not each take a
// page fault on the writer's path, and choose the page-cache granularity.
// Both are hints; errors may be ignored.
type Prefaulter interface {
	// Advise sets how the mapping is faulted in: small (true) makes every
	// fault map one page, so that an msync of a few bytes writes back one
	// page; false lets the kernel use large folios, which write back
	// faster in bulk but are written whole by every msync that touches
	// them.
	Advise(small bool) error
	// Prefault faults in [off, off+n) of the mapping (clipped to it):
	// writable (the pages become dirty, and are written back as they are
	// if nothing writes them first) or read-only (clean; each first store
	// takes a minor fault).
	Prefault(off, n int64, writable bool) error
}

// WriteBehinder is implemented by Files that can start writing a range of
// their dirty pages back without waiting for it (sync_file_range
// SYNC_FILE_RANGE_WRITE): what a later sync of the range must write is
// then mostly on its way already. The OS file first drops the range's
// page-table entries (MADV_DONTNEED: the bytes stay in the page cache and
// the next access maps them again), so that the write-back sends no TLB
// shootdown per page to the process. It makes nothing durable and orders
// nothing; a page whose early write-back fails is reported by the next
// sync of the file (the kernel keeps the error for it). ErrNoWriteBehind
// means the file system cannot; the caller stops asking.
type WriteBehinder interface {
	StartWriteback(off, n int64) error
}
