//go:build unix

package vfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrReadOnly is returned by every writing operation of ReadOnly.
var ErrReadOnly = errors.New("mmaplog: read-only file system view")

// ReadOnly is the real file system seen read-only, for tools that check a
// log (recovery.Verify): files are opened O_RDONLY and mapped PROT_READ, so
// that checking a log cannot change a byte of it even by mistake (a stray
// store into a mapping faults, and the fault guard turns that into an
// error). Every writing method fails with ErrReadOnly, and Lock takes the
// lock shared.
var ReadOnly FS = readOnlyFS{}

type readOnlyFS struct{}

func (readOnlyFS) MkdirAll(string) error                { return ErrReadOnly }
func (readOnlyFS) ReadDir(dir string) ([]string, error) { return OS.ReadDir(dir) }
func (readOnlyFS) Create(string, int64) (File, error)   { return nil, ErrReadOnly }
func (readOnlyFS) Reuse(string, int64) (File, error)    { return nil, ErrReadOnly }
func (readOnlyFS) Rename(string, string) error          { return ErrReadOnly }
func (readOnlyFS) Remove(string) error                  { return ErrReadOnly }
func (readOnlyFS) SyncDir(string) error                 { return ErrReadOnly }

func (readOnlyFS) Open(path string) (File, error) {
	f, err := openFile(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return &osFile{f: f, ro: true}, nil
}

// Lock takes a shared, non-blocking flock on the existing lock file path
// without creating or writing it. A Log holds the same file exclusively,
// so a running writer makes this fail with ErrLocked, and a shared holder
// keeps a writer out. When the lock file does not exist no Log ever opened
// the directory; nothing is locked then.
func (readOnlyFS) Lock(path string) (io.Closer, error) {
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

// Concurrent: see the Concurrent interface.
func (readOnlyFS) Concurrent() {}
