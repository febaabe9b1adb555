package mmaplog

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// LogID names one entry. The zero LogID means "none". Indexes start at 1.
// LogIDs are ordered by (Term, Index).
type LogID = raftstate.LogID

// Entry is one log entry. Payloads returned by Get and Entries are copies
// owned by the caller.
type Entry = raftstate.Entry

// Vote is the node's vote. NodeID 0 means "voted for nobody yet".
type Vote = raftstate.Vote

// State is the durable Raft state apart from the entries themselves.
type State = raftstate.State

// Options configures Open. The zero value means defaults.
type Options struct {
	// SegmentSize is the number of bytes preallocated per segment file.
	// Default 64 MiB; minimum 64 KiB. An entry larger than this still fits:
	// its segment is sized to hold it.
	SegmentSize int64
	// Logger receives recovery and background-failure messages.
	// nil: slog.Default().
	Logger *slog.Logger
	// ZeroFill writes zeros over segments prepared in the background,
	// turning the file's unwritten extents into written ones. Default
	// false: measured on ext4 here (BenchmarkMsyncPage and its fallocate
	// variant), msync of a page in a fallocated, never-written extent
	// costs about 0.1 ms p50 against 0.3-0.4 ms in a zero-filled one, and
	// zero-filling costs a sequential write of every segment.
	ZeroFill bool
	// FileMode is the permission of every file the Log creates (segments,
	// indexes, LOCK) and, with search (x) added wherever it grants read,
	// of the directory and its parents when Open creates them: 0640 lets
	// a group read the log (backups, monitoring) in a 0750 directory.
	// Default 0600, directory 0700: the log holds the application's data
	// (a secrets store replicates its writes through it), so only its
	// owner may read it, as etcd's WAL. Only permission bits are allowed,
	// and they must include owner read and write. The process umask
	// applies on top; files and directories that exist keep their modes.
	FileMode os.FileMode

	// fs is the file-system seam; nil means the real one (vfs.OS). Set
	// by tests in this module through export_test.go and by fuzz/.
	fs vfs.FS
	// uid, when nonzero, is the identity a new log gets instead of a
	// random one (golden-bytes tests, through export_test.go).
	uid uint64
}

// DefaultSegmentSize is the default Options.SegmentSize: 64 MiB.
const DefaultSegmentSize = 64 << 20

// MinSegmentSize is the smallest accepted Options.SegmentSize: 64 KiB.
const MinSegmentSize = 64 << 10

// MaxSegmentSize is the largest accepted Options.SegmentSize: 4 GiB.
const MaxSegmentSize = 4 << 30

// MaxPayload is the largest entry payload (and user data blob) accepted:
// just under 4 GiB, the limit of a record's u32 length field.
const MaxPayload = format.MaxBody - format.StateHeadSize

// DefaultFileMode is the default Options.FileMode: 0600 (directories 0700).
const DefaultFileMode = vfs.DefaultPerm

// withDefaults returns a copy of o with defaults filled in.
func (o Options) withDefaults() Options {
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FileMode == 0 {
		o.FileMode = DefaultFileMode
	}
	if o.fs == nil {
		o.fs = vfs.WithPerm(o.FileMode)
	}
	return o
}

// Validate reports a field outside its accepted range. Zero fields are valid
// (they mean "default").
func (o Options) Validate() error {
	if o.SegmentSize != 0 && (o.SegmentSize < MinSegmentSize || o.SegmentSize > MaxSegmentSize) {
		return fmt.Errorf("%w: SegmentSize %d outside [%d, %d]", ErrInvalidOptions, o.SegmentSize, MinSegmentSize, MaxSegmentSize)
	}
	if m := o.FileMode; m != 0 && (m&^os.ModePerm != 0 || m&0o600 != 0o600) {
		return fmt.Errorf("%w: FileMode %#o: want permission bits including owner read and write (0600, 0640, ...)", ErrInvalidOptions, uint32(m))
	}
	return nil
}

// Stats is a point-in-time view of the Log's files and activity.
type Stats struct {
	Segments        int           // segment files on disk (including ones awaiting deletion)
	BytesUsed       int64         // bytes of records written in all segments
	BytesAllocated  int64         // bytes preallocated for all segment files
	IndexBytes      int64         // bytes preallocated for all index files
	Entries         uint64        // live entries: Last.Index - Purged.Index (or 0)
	FirstIndex      uint64        // first live index, 0 when empty
	LastIndex       uint64        // last live index, 0 when empty
	Appends         uint64        // entries appended since Open
	Flushes         uint64        // Flush calls since Open
	Syncs           uint64        // group syncs performed since Open
	SyncTotal       time.Duration // time spent in syncs since Open
	SyncMax         time.Duration // longest sync since Open
	LastSync        time.Duration // duration of the most recent sync
	PendingRemovals int           // purged segment files awaiting the next flush
	Failed          error         // the sticky failure, nil while healthy
}
