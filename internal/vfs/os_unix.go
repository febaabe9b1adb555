//go:build unix

package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"
)

// OS is the real file system: fallocate, shared mmap, msync, fdatasync.
// It creates files DefaultPerm (0600) and directories 0700.
var OS = WithPerm(DefaultPerm)

// DefaultPerm is the permission of the files OS creates: read and write
// for the owner only, as etcd's WAL (fileutil.PrivateFileMode). A log
// holds the application's data.
const DefaultPerm os.FileMode = 0o600

// WithPerm returns the real file system creating files with the permission
// bits perm and directories with perm plus search (x) wherever perm grants
// read (0600 gives 0700, 0640 gives 0750). The process umask applies on
// top, as for every open(2) and mkdir(2); existing files and directories
// keep their modes.
func WithPerm(perm os.FileMode) FS {
	perm = perm.Perm()
	return osFS{file: perm, dir: perm | (perm&0o444)>>2}
}

type osFS struct {
	file, dir os.FileMode // permission bits of created files and directories
}

func (o osFS) MkdirAll(dir string) error { return os.MkdirAll(dir, o.dir) }

func (osFS) ReadDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

func (o osFS) Create(path string, size int64) (File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, o.file)
	if err != nil {
		return nil, err
	}
	if size > 0 {
		if err := fallocate(f, size); err != nil {
			_ = f.Close()
			_ = os.Remove(path)
			return nil, fmt.Errorf("fallocate %s (%d bytes): %w", path, size, err)
		}
	}
	return &osFile{f: f}, nil
}

func (osFS) Open(path string) (File, error) {
	f, err := openFile(path, unix.O_RDWR)
	if err != nil {
		return nil, err
	}
	return &osFile{f: f}, nil
}

func (osFS) Reuse(path string, size int64) (File, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if err := zeroRange(f, size); err != nil {
		_ = f.Close()
		return nil, err
	}
	return &osFile{f: f}, nil
}

// openFile opens the existing file path with flags, as os.OpenFile does
// but in two system calls instead of six: os.OpenFile tries every file on
// the poller, which for a regular file costs four fcntl calls and a failed
// epoll_ctl (measured: a third of the CPU of opening a 200-segment log).
func openFile(path string, flags int) (*os.File, error) {
	for {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
		if err == nil {
			return os.NewFile(uintptr(fd), path), nil
		}
		if err != unix.EINTR {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
func (osFS) Remove(path string) error             { return os.Remove(path) }

func (osFS) SyncDir(dir string) error { return SyncPath(dir) }

// SyncPath opens the file or directory at path and fsyncs it: what makes a
// directory's entries, or a file written by another package, durable.
func SyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return nil
}

// Lock uses flock, which locks an open file description: a second Lock of
// the same path fails even inside one process.
func (o osFS) Lock(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, o.file)
	if err != nil {
		return nil, err
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil // closing the file releases the lock
}

// flock applies how to f, retrying on EINTR; a lock held elsewhere is
// ErrLocked.
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("%w: %s", ErrLocked, f.Name())
		default:
			return fmt.Errorf("flock %s: %w", f.Name(), err)
		}
	}
}

func fallocate(f *os.File, size int64) error { return allocate(f, 0, size) }

// allocate allocates [off, off+n) of f, growing it, retrying on EINTR.
func allocate(f *os.File, off, n int64) error {
	for {
		err := unix.Fallocate(int(f.Fd()), 0, off, n)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
			// File systems without fallocate (tmpfs on old kernels, some
			// FUSE): fall back to a sparse ftruncate; writes may then fail
			// later with SIGBUS on a full disk, which the mapping guard turns
			// into an error.
			return f.Truncate(off + n)
		}
		return err
	}
}

// zeroRange makes f, which must be size bytes long, read as zeros while
// keeping its blocks allocated, retrying on EINTR.
func zeroRange(f *os.File, size int64) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() != size {
		return fmt.Errorf("%w: %s is %d bytes, not %d", ErrNoReuse, f.Name(), st.Size(), size)
	}
	for {
		err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_KEEP_SIZE, 0, size)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EOPNOTSUPP, unix.ENOSYS:
			return fmt.Errorf("%w: %s: zero range: %w", ErrNoReuse, f.Name(), err)
		default:
			return fmt.Errorf("zero range %s (%d bytes): %w", f.Name(), size, err)
		}
	}
}

type osFile struct {
	f    *os.File
	name string // set by Renamed; the open path otherwise
	m    mmap.MMap
	ro   bool // opened by ReadOnly: O_RDONLY, mapped PROT_READ, no writes
}

func (o *osFile) Name() string {
	if o.name != "" {
		return o.name
	}
	return o.f.Name()
}

// Renamed records the file's new name, for messages.
func (o *osFile) Renamed(path string) { o.name = path }

func (o *osFile) Size() (int64, error) {
	st, err := o.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (o *osFile) Map() ([]byte, error) {
	if o.m != nil {
		return nil, fmt.Errorf("map %s: already mapped", o.Name())
	}
	size, err := o.Size()
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, nil
	}
	prot := mmap.RDWR
	if o.ro {
		prot = mmap.RDONLY
	}
	m, err := mmap.MapRegion(o.f, int(size), prot, 0, 0) // the size, or it would fstat again
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", o.Name(), err)
	}
	o.m = m
	return []byte(m), nil
}

var pageSize = int64(os.Getpagesize())

func (o *osFile) Msync(off, n int64) error {
	if o.ro {
		return ErrReadOnly
	}
	if n <= 0 || o.m == nil {
		return nil
	}
	lo := off &^ (pageSize - 1)
	hi := min(off+n, int64(len(o.m)))
	if hi <= lo {
		return nil
	}
	if err := o.unmapBeforeWriteback(lo, hi); err != nil {
		return err
	}
	if err := unix.Msync(o.m[lo:hi], unix.MS_SYNC); err != nil {
		return fmt.Errorf("msync %s [%d, %d): %w", o.Name(), lo, hi, err)
	}
	return nil
}

func (o *osFile) WriteAt(p []byte, off int64) (int, error) {
	if o.ro {
		return 0, ErrReadOnly
	}
	return o.f.WriteAt(p, off)
}

func (o *osFile) ReadAt(p []byte, off int64) (int, error) { return o.f.ReadAt(p, off) }

func (o *osFile) Resize(size int64) error {
	if o.ro {
		return ErrReadOnly
	}
	if o.m != nil {
		return fmt.Errorf("resize %s: mapped", o.Name())
	}
	have, err := o.Size()
	if err != nil {
		return err
	}
	if size <= have {
		err = o.f.Truncate(size)
	} else {
		err = allocate(o.f, have, size-have)
	}
	if err != nil {
		return fmt.Errorf("resize %s to %d bytes: %w", o.Name(), size, err)
	}
	return nil
}

func (o *osFile) Datasync() error {
	if o.ro {
		return ErrReadOnly
	}
	if err := unix.Fdatasync(int(o.f.Fd())); err != nil {
		return fmt.Errorf("fdatasync %s: %w", o.Name(), err)
	}
	return nil
}

// SyncInode implements InodeSyncer: it tells the VFS the inode is dirty
// (fchmod to the mode it has, which ext4 records with mark_inode_dirty)
// and fsyncs the file, which then writes the inode with the extent tree
// ext4 keeps in it; with a journal the fsync commits it instead.
func (o *osFile) SyncInode() error {
	if o.ro {
		return ErrReadOnly
	}
	fd := int(o.f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("fstat %s: %w", o.Name(), err)
	}
	// A file system that refuses the fchmod (some network and FUSE ones)
	// still gets the fsync, which is all it needs: the missing inode write
	// is ext4's without a journal.
	if err := unix.Fchmod(fd, st.Mode&0o7777); err != nil && !refusesChmod(err) {
		return fmt.Errorf("fchmod %s: %w", o.Name(), err)
	}
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("fsync %s: %w", o.Name(), err)
	}
	return nil
}

// refusesChmod reports whether err is a file system's refusal to change
// modes at all, rather than a failure of this file.
func refusesChmod(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EOPNOTSUPP)
}

func (o *osFile) Evict() error {
	if o.m != nil {
		return fmt.Errorf("evict %s: mapped", o.Name())
	}
	if err := unix.Fdatasync(int(o.f.Fd())); err != nil {
		return fmt.Errorf("fdatasync %s: %w", o.Name(), err)
	}
	if err := unix.Fadvise(int(o.f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("fadvise %s: %w", o.Name(), err)
	}
	return nil
}

func (o *osFile) Close() error {
	var err error
	if o.m != nil {
		err = o.m.Unmap()
		o.m = nil
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Concurrent: see the Concurrent interface.
func (osFS) Concurrent() {}
