package recovery

import (
	"errors"

	"github.com/raftlog/raftlog/internal/format"

	"github.com/raftlog/raftlog/internal/logdir"
	"github.com/raftlog/raftlog/internal/vfs"
)

// ErrNoLog: the path given to Verify, Repair or Walk is not a directory
// holding a log (no segment or index file): it may be missing, a file,
// empty or another program's directory. Open would create a new log
// there; the tools do not.
var ErrNoLog = errors.New("recovery: no log in this directory")

// CorruptError names the file, byte offset and (when known) log index of
// damage found in a log. It is the same type as mmaplog.CorruptError, so
// errors.As with either works on what Open, Verify and Repair return.
type CorruptError = format.CorruptError

// errMapped is what a memory fault while reading a mapped file wraps.
var errMapped = errors.New("recovery: cannot read a mapped file")

// guardFault runs f with faults on mapped memory turned into errors
// (SIGBUS when a mapped file shrank or its disk failed).
func guardFault(f func() error) error { return vfs.GuardFault(errMapped, f) }

// engineError is an error of the recovery engine (internal/logdir) as this
// package returns it: with its prefix, unless it is a *format.CorruptError.
func engineError(err error) error { return logdir.Prefixed("recovery", err) }
