package recovery

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/vfs"
)

// errReadOnly is returned by every writing method of readOnly.
var errReadOnly = errors.New("recovery: read-only file system view")

// readOnly is the vfs.FS that Verify reads through: files are opened
// O_RDONLY and mapped PROT_READ, so that checking a log cannot change a
// byte of it even by mistake (a stray store into a mapping faults, and the
// fault guard turns that into an error). Every writing method fails.
type readOnly struct{}

func (readOnly) MkdirAll(string) error                  { return errReadOnly }
func (readOnly) ReadDir(dir string) ([]string, error)   { return vfs.OS.ReadDir(dir) }
func (readOnly) Create(string, int64) (vfs.File, error) { return nil, errReadOnly }
func (readOnly) Rename(string, string) error            { return errReadOnly }
func (readOnly) Remove(string) error                    { return errReadOnly }
func (readOnly) SyncDir(string) error                   { return errReadOnly }
func (readOnly) Lock(path string) (io.Closer, error)    { return lockShared(path) }

func (readOnly) Open(path string) (vfs.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &readOnlyFile{f: f}, nil
}

type readOnlyFile struct {
	f *os.File
	m mmap.MMap
}

func (o *readOnlyFile) Name() string { return o.f.Name() }

func (o *readOnlyFile) Size() (int64, error) {
	st, err := o.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (o *readOnlyFile) Map() ([]byte, error) {
	if o.m != nil {
		return nil, fmt.Errorf("map %s: already mapped", o.f.Name())
	}
	size, err := o.Size()
	if err != nil || size == 0 {
		return nil, err
	}
	m, err := mmap.Map(o.f, mmap.RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", o.f.Name(), err)
	}
	o.m = m
	return []byte(m), nil
}

func (o *readOnlyFile) Msync(int64, int64) error           { return errReadOnly }
func (o *readOnlyFile) WriteAt([]byte, int64) (int, error) { return 0, errReadOnly }
func (o *readOnlyFile) Datasync() error                    { return errReadOnly }

func (o *readOnlyFile) Close() error {
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

// lockShared takes a shared, non-blocking flock on the existing lock file
// path without creating or writing it. A Log holds the same file
// exclusively, so a running writer makes this fail with vfs.ErrLocked, and
// a shared holder keeps a writer (and Repair) out. When the lock file does
// not exist no Log ever opened the directory; nothing is locked then.
func lockShared(path string) (io.Closer, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(filepath.Dir(path)); serr != nil {
			return nil, serr
		}
		return io.NopCloser(nil), nil
	}
	if err != nil {
		return nil, err
	}
	if err := flock(f, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("%w: %s", vfs.ErrLocked, f.Name())
		default:
			return fmt.Errorf("flock %s: %w", f.Name(), err)
		}
	}
}

// lockDir locks dir for a tool: shared (read-only tools) or exclusive
// (Repair, like a Log). A lock held elsewhere is an error matching
// vfs.ErrLocked (mmaplog.ErrLocked).
func lockDir(dir string, exclusive bool) (io.Closer, error) {
	path := filepath.Join(dir, format.LockName)
	if !exclusive {
		return lockShared(path)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	l, err := vfs.OS.Lock(path)
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, err
		}
		return nil, fmt.Errorf("recovery: lock %s: %w", dir, err)
	}
	return l, nil
}
