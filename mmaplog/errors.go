package mmaplog

import (
	"errors"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// Errors returned by Log methods, matched with errors.Is. Messages start
// with "mmaplog: ".
var (
	// Rejected calls (nothing was written).

	// ErrNotFound: the index is outside [Purged.Index+1, Last.Index], or a
	// Truncate point is outside [Purged.Index+1, Last.Index+1].
	ErrNotFound = raftstate.ErrNotFound
	// ErrVoteReversal: SaveVote would move the vote backwards.
	ErrVoteReversal = raftstate.ErrVoteReversal
	// ErrLogIDReversal: an appended LogID is not above Last, or a Commit
	// is below Committed.
	ErrLogIDReversal = raftstate.ErrLogIDReversal
	// ErrNonConsecutive: an appended entry's index is not Last.Index+1
	// (or is 0).
	ErrNonConsecutive = raftstate.ErrNonConsecutive
	// ErrTooLarge: a payload or user data blob exceeds MaxPayload.
	ErrTooLarge = errors.New("mmaplog: record too large")

	// Lifecycle.

	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("mmaplog: log closed")
	// ErrLocked: another process or Log holds the directory lock.
	ErrLocked = vfs.ErrLocked
	// ErrInvalidOptions: Options.Validate rejected a field.
	ErrInvalidOptions = errors.New("mmaplog: invalid options")
	// ErrFailed: an earlier msync/fdatasync or file operation failed; the
	// Log fails closed until it is reopened. The first failure is wrapped.
	ErrFailed = errors.New("mmaplog: log failed")

	// Data on disk.

	// ErrCorrupt: data proven durable is damaged, or a file belongs to
	// another log or another place in this one; see CorruptError.
	ErrCorrupt = format.ErrCorrupt
	// ErrVersion: a segment or index file was written in another format
	// version (this build reads format.Version 2 only; the file is not
	// touched). The index's own sentinel is wrapped the same way.
	ErrVersion = format.ErrVersion
)

// CorruptError reports damaged durable data: which file, at which offset,
// the log index involved when known (0 otherwise), and why. It matches
// ErrCorrupt with errors.Is.
type CorruptError = format.CorruptError
