package etcdraft

import (
	"errors"

	"github.com/raftlog/raftlog/mmaplog"
)

// Errors returned by Storage methods besides etcd raft's own (raft.ErrCompacted,
// raft.ErrUnavailable, raft.ErrSnapOutOfDate) and those of package mmaplog,
// which are wrapped with context. Match them with errors.Is.
var (
	// ErrForeignData: the directory's user data was not written by this
	// package (for example, a hashiraft store). Nothing was changed.
	ErrForeignData = errors.New("etcdraft: user data not written by etcdraft")
	// ErrInvalidEntries: an Append batch is not consecutive, its terms go
	// down, or an entry has a type that cannot be stored. Nothing was
	// written.
	ErrInvalidEntries = errors.New("etcdraft: invalid entries")
	// ErrHardStateReversal: SetHardState would move the commit index back.
	// A vote moving back is mmaplog.ErrVoteReversal. Nothing was written.
	ErrHardStateReversal = errors.New("etcdraft: hard state reversal")
	// ErrNotStorageAppend: StorageAppend was given a message of another type.
	ErrNotStorageAppend = errors.New("etcdraft: not a MsgStorageAppend")
)

// errCorrupt wraps mmaplog.ErrCorrupt for damage found in this package's
// own encoding (an entry payload or the user data blob).
var errCorrupt = mmaplog.ErrCorrupt
