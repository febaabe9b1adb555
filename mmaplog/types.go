package mmaplog

import (
	"fmt"
	"log/slog"
	"math"
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
	// ZeroFill writes zeros over every segment meant for small syncs (a
	// Raft log's) before it is used, turning the file's unwritten extents
	// into written ones: the first segment of a new log, on Open, and
	// each one the background preparer makes for a log synced in small
	// pieces (segments of bulk loads and of batches written through the
	// file are not: their syncs are few and large). The zeros are written
	// through the mapping, in small pages, and msynced in 1 MiB pieces,
	// so that the pages stay cached, small and clean (a pwrite of zeros
	// would leave large folios, which every small msync writes whole).
	// Then no sync has an extent conversion to commit to the journal: on
	// ext4 here (BenchmarkAppendSync), Append+Sync of a 4 KiB entry took
	// p50 140-165 µs instead of 210-255 µs, and of a 128-byte entry about
	// the same (130-150 µs); a 3-node hashicorp/raft cluster with 4 KiB
	// entries applied 1.2-1.6x as many per second (BenchmarkClusterApply,
	// raftlog-zerofill). The price: one more sequential write of each
	// such segment (64 MiB by default, in the background), and a new log
	// takes ~0.2 s longer to Open. A segment whose zero-fill fails is
	// discarded and the Log goes on. Default false: fallocate only.
	ZeroFill bool
	// SpareSegments is how many purged segment files are kept, under
	// temporary names, to become new segments again instead of being
	// deleted; the others are deleted. A reused file is zeroed in place
	// (fallocate ZERO_RANGE), so it is never freed and never allocated:
	// measured here (ext4 mounted with discard, a virtio disk), deleting
	// one 64 MiB segment stalls every concurrent sync for 10-15 ms while
	// the device trims the freed blocks, and a purge that frees eight
	// stalled a writer for 30-100 ms. The price is disk space: up to
	// SpareSegments × SegmentSize bytes stay allocated after a purge
	// until the log grows into them again or Close deletes them.
	// Default 8; negative: none, every purged segment is deleted.
	SpareSegments int
	// WriteThrough is the size from which an Append's records are
	// written through the file (one pwrite of the encoded batch) instead
	// of being copied into the mapping, and the segments such batches
	// fill are not prefaulted. Measured here (ext4, 256 KiB batches, each
	// synced): a copy into prefaulted pages takes a write fault per page
	// (~3 µs each), and the msync writes back 64 single-page folios;
	// through the file the kernel makes large folios, and the batch is
	// durable 1.6x sooner. Smaller batches and records (a vote, a commit)
	// are written through the file too when they are among the first few
	// writes after a sync that made every earlier one durable (Raft's
	// pattern: a batch and a commit, then a sync): copied in, their
	// pages would become writable in the page tables, and the next sync
	// would write-protect them again, a TLB shootdown of every CPU the
	// process runs on (measured here: a 3-node hashicorp/raft cluster with
	// 4 KiB entries committed 1.2-1.45x as many per second with the
	// pwrite). Later writes, until everything is durable again, are
	// copied in, so that a pipelined writer's appends stay memory copies. Readers see the bytes through the mapping either way
	// (one page cache). Default 64 KiB;
	// negative: never, every batch is copied into the mapping.
	WriteThrough int
	// WriteBehind: when a rotation leaves a segment with at least this
	// many bytes that no sync was asked for yet, the flusher starts
	// writing them back (sync_file_range SYNC_FILE_RANGE_WRITE) while the
	// writer fills the next segment, without waiting and without making
	// anything durable. A log appended to without syncs (a bulk load)
	// otherwise leaves all of it to its next sync, since the kernel starts
	// writing dirty pages back only after 30 s or at its dirty-memory
	// thresholds: measured here (cmd/bench W3, 2 GiB of 128-byte entries),
	// the final sync took 1.2-1.8 s without and 0.3 s with. The segment's
	// pages are unmapped first and mapped again on the next read (the
	// bytes stay in the page cache): writing back mapped pages costs a
	// TLB shootdown each, which slowed the writer by 40%. A log synced
	// at least once per WriteBehind bytes never asks. Default 4 MiB;
	// negative: never.
	WriteBehind int
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
	// SlowSync is the duration above which a group sync (msync of the
	// written ranges and index headers plus the directory fsync) logs a
	// warning through Logger: one "mmaplog: slow sync" record with the
	// duration, bytes and files synced, at most one per 10 s, each
	// carrying the number of slow syncs not logged since the previous
	// one. Stats.SlowSyncs counts them all. Default 1 s (etcd's WAL warns
	// at 1 s too); negative: never warn.
	SlowSync time.Duration
	// Verify runs a background verifier that re-reads the sealed segments
	// from the disk, every Verify.Interval, at Verify.Rate bytes per
	// second (see Log.Verify and VerifierOptions). Default: none.
	Verify VerifierOptions
	// FS is the file-system seam: the files the Log creates, maps, syncs
	// and removes go through it. Its type is internal to this module, so
	// only the module's own tests set it (to the crash simulator,
	// internal/crashfs); leave it nil for the operating system's files.
	FS vfs.FS

	// slowSyncEvery replaces the 10 s between slow-sync warnings when
	// set (tests, through export_metrics_test.go).
	slowSyncEvery time.Duration

	// uid, when nonzero, is the identity a new log gets instead of a
	// random one (golden-bytes tests, through export_test.go).
	uid uint64

	// lazyReady leaves readying the open segment after Open to the first
	// write or lookup that needs it, never to a background goroutine
	// (tests of that path, through export_test.go).
	lazyReady bool
}

// DefaultSegmentSize is the default Options.SegmentSize: 64 MiB.
const DefaultSegmentSize = 64 << 20

// DefaultSpareSegments is the default Options.SpareSegments: 8.
const DefaultSpareSegments = 8

// DefaultWriteThrough is the default Options.WriteThrough: 64 KiB.
const DefaultWriteThrough = 64 << 10

// DefaultWriteBehind is the default Options.WriteBehind: 4 MiB.
const DefaultWriteBehind = 4 << 20

// DefaultSlowSync is the default Options.SlowSync: 1 s.
const DefaultSlowSync = time.Second

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
	if o.SlowSync == 0 {
		o.SlowSync = DefaultSlowSync
	}
	switch {
	case o.SpareSegments == 0:
		o.SpareSegments = DefaultSpareSegments
	case o.SpareSegments < 0:
		o.SpareSegments = 0
	}
	switch {
	case o.WriteThrough == 0:
		o.WriteThrough = DefaultWriteThrough
	case o.WriteThrough < 0:
		o.WriteThrough = math.MaxInt
	}
	switch {
	case o.WriteBehind == 0:
		o.WriteBehind = DefaultWriteBehind
	case o.WriteBehind < 0:
		o.WriteBehind = math.MaxInt
	}
	if o.FS == nil {
		o.FS = vfs.WithPerm(o.FileMode)
	}
	return o
}

// Validate reports a field outside its accepted range. Zero fields are valid
// (they mean "default").
func (o Options) Validate() error {
	if o.SegmentSize != 0 && (o.SegmentSize < MinSegmentSize || o.SegmentSize > MaxSegmentSize) {
		return fmt.Errorf("%w: SegmentSize %d outside [%d, %d]", ErrInvalidOptions, o.SegmentSize, MinSegmentSize, MaxSegmentSize)
	}
	if err := o.Verify.validate(); err != nil {
		return err
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
	Verify          VerifyStats   // online verification: passes, bytes checked, damage found
	Appends         uint64        // entries appended since Open
	Flushes         uint64        // Flush calls since Open
	Syncs           uint64        // group syncs performed since Open
	SyncTotal       time.Duration // time spent in syncs since Open
	SyncMax         time.Duration // longest sync since Open
	LastSync        time.Duration // duration of the most recent sync
	PendingRemovals int           // purged segment files awaiting the next flush
	SpareSegments   int           // purged segment files kept for reuse (Options.SpareSegments), not in Segments
	WrittenBehind   int64         // bytes whose write-back the flusher started early (Options.WriteBehind)
	Failed          error         // the sticky failure, nil while healthy

	// Distributions since Open (see Distribution: count, p50, p90, p99,
	// max, and buckets for exporters). A group is one group commit: the
	// sync that serves every Flush and Sync call handed to the flusher
	// while the previous group was syncing. Recording takes no
	// allocation, no lock of its own and no clock reading per entry
	// (atomic counters in fixed-size histograms, about 52 KiB per Log);
	// reading them in Stats costs tens of microseconds and a few small
	// allocations (the Buckets).

	// GroupWait, per group: how long its first Flush or Sync call waited
	// for the previous group to finish its sync and callbacks (0 when
	// the pipeline was idle). Later calls in the group waited less.
	GroupWait Latency
	// QueueWait, per group: from the moment it could start (its first
	// call, or the previous group finishing) until its sync started: the
	// flusher goroutine's wake-up, or an inline Sync taking its turn.
	QueueWait Latency
	// SyncDuration, per group: the sync itself, msync of the written
	// ranges (and of sealed index files after a rotation), without the
	// directory fsync. Its Count is Syncs.
	SyncDuration Latency
	// DirSyncDuration, per directory fsync: in a group's sync after a
	// segment file was created, and by the background remover after each
	// purged segment it deleted.
	DirSyncDuration Latency
	// CallbackDelay, per group with Flush callbacks: from the end of its
	// sync until its last callback returned, which is also how long the
	// callbacks held up the next group.
	CallbackDelay Latency
	// GroupEntries, per group: entries appended since the previous group.
	GroupEntries Sizes
	// GroupBytes, per group: bytes of records it made durable.
	GroupBytes Sizes
	// RotationStall, per rotation to a new segment: how long the writer
	// was stalled (taking the prepared file, writing its header and State
	// snapshot). Count is the number of rotations since Open.
	RotationStall Latency
	// RemovalDuration, per batch of purged segments the background
	// remover deleted (the ones a group's sync made deletable): the time
	// the removal took (unmapping, unlinking each segment and its index,
	// one directory fsync per segment). It runs off the flush path.
	RemovalDuration Latency
	// RemovedSegments is the number of purged segment files removed
	// since Open (each with its index file).
	RemovedSegments uint64
	// SlowSyncs is the number of group syncs that took longer than
	// Options.SlowSync since Open, logged or not.
	SlowSyncs uint64
}
