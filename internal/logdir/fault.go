package logdir

import (
	"errors"
	"io/fs"

	"github.com/raftlog/raftlog/internal/vfs"
)

var errNotExist = fs.ErrNotExist

// errMapped is what a memory fault while reading a mapped file wraps.
var errMapped = errors.New("cannot read a mapped file")

// guardFault runs f with faults on mapped memory turned into errors
// (SIGBUS when a mapped file shrank or its disk failed).
func guardFault(f func() error) error { return vfs.GuardFault(errMapped, f) }
