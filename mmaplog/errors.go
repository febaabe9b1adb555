package mmaplog

import (
	"errors"
	"fmt"

	"github.com/raftlog/raftlog/internal/raftstate"
)

// Errors returned by Log methods, matched with errors.Is. Messages start
// with "mmaplog: ".
var (
	// ErrNotFound: the index is outside [Purged.Index+1, Last.Index], or a
	// Truncate point is outside [Purged.Index+1, Last.Index+1].
	ErrNotFound = raftstate.ErrNotFound
	// ErrVoteReversal: SaveVote would move the vote backwards.
	ErrVoteReversal = raftstate.ErrVoteReversal
	// ErrLogIDReversal: an Append or Commit LogID is not above the current one.
	ErrLogIDReversal = raftstate.ErrLogIDReversal
	// ErrNonConsecutive: an appended entry's index is not Last.Index+1.
	ErrNonConsecutive = raftstate.ErrNonConsecutive

	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("mmaplog: log closed")
	// ErrLocked: another process or Log holds the directory lock.
	ErrLocked = errors.New("mmaplog: directory locked")
	// ErrCorrupt: data proven durable is damaged; see CorruptError.
	ErrCorrupt = errors.New("mmaplog: corrupt")
	// ErrFailed: an earlier msync/fdatasync or file operation failed; the
	// Log fails closed until it is reopened. The first failure is wrapped.
	ErrFailed = errors.New("mmaplog: log failed")
	// ErrInvalidOptions: Options.Validate rejected a field.
	ErrInvalidOptions = errors.New("mmaplog: invalid options")
)

// CorruptError reports damaged durable data: which file, where, and why.
// It matches ErrCorrupt with errors.Is.
type CorruptError = corruptError

type corruptError struct {
	Path   string
	Offset int64
	Index  uint64 // the log index involved, 0 when unknown
	Reason string
}

func (e *corruptError) Error() string {
	if e.Index != 0 {
		return fmt.Sprintf("mmaplog: corrupt: %s at offset %d (entry %d): %s", e.Path, e.Offset, e.Index, e.Reason)
	}
	return fmt.Sprintf("mmaplog: corrupt: %s at offset %d: %s", e.Path, e.Offset, e.Reason)
}

func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }
