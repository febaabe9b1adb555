package logdir

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/vfs"
)

var errNotExist = fs.ErrNotExist

// errMapped is what a memory fault while reading a mapped file wraps.
var errMapped = errors.New("cannot read a mapped file")

// guardFault runs f with faults on mapped memory turned into errors
// (SIGBUS when a mapped file shrank or its disk failed).
func guardFault(f func() error) error { return vfs.GuardFault(errMapped, f) }

// Prefixed is err, returned by this package, as the public package pkg
// ("mmaplog", "recovery") returns it (see the package documentation): a
// *format.CorruptError as it is, any other error behind pkg's prefix.
func Prefixed(pkg string, err error) error {
	var ce *format.CorruptError
	if err == nil || errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("%s: %w", pkg, err)
}
