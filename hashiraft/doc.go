// Package hashiraft is a log store and stable store for
// github.com/hashicorp/raft built on one mmaplog.Log: a drop-in replacement
// for raft-boltdb and raft-wal.
//
// A Store implements raft.LogStore, raft.StableStore, raft.MonotonicLogStore,
// raft.CommitTrackingLogStore and io.Closer, so one Store serves as both the
// logs and the stable store of a raft.Raft, with or without
// Config.RestoreCommittedLogs:
//
//	store, err := hashiraft.Open(filepath.Join(dataDir, "raft"), mmaplog.Options{})
//	if err != nil {
//		return err
//	}
//	defer store.Close() // after raft.Raft.Shutdown().Error()
//	snaps, err := raft.NewFileSnapshotStore(dataDir, 2, os.Stderr)
//	if err != nil {
//		return err
//	}
//	r, err := raft.NewRaft(conf, fsm, store, store, snaps, transport)
//
// Users of raft-boltdb or raft-wal switch with Migrate, which copies an
// existing store's logs and stable keys into a new Store.
//
// # Mapping onto mmaplog
//
// Each raft.Log is one mmaplog entry whose LogID is (Term, Index); its Type,
// Data, Extensions and AppendedAt are encoded compactly in the payload
// (format in codec.go). StoreLogs is Append followed by Sync, so entries are
// durable when it returns. DeleteRange maps a prefix of the log to Purge, a
// suffix to Truncate, and the whole log to Truncate(FirstIndex); after that
// the next StoreLogs may start at any index, below the old purge point too
// (see StoreLogs). A commit index staged with StageCommitIndex is written as
// an mmaplog Commit record after the next StoreLogs batch's entries, synced
// with them, and GetCommitIndex answers at most LastIndex. The stable
// store's keys live in the log's user data, one blob
// rewritten and synced on every Set. A missing key is ErrKeyNotFound, whose
// text is exactly "not found" as hashicorp/raft requires. The Store owns the
// log's entries and user data: do not write to its directory with mmaplog
// directly (the directory lock forbids it while the Store is open).
//
// # Round trip
//
// GetLog returns exactly what StoreLogs was given — Index, Term, Type, Data,
// Extensions, AppendedAt, including nil versus empty Data and Extensions —
// with these normalizations of AppendedAt: the monotonic clock reading is
// dropped (as by t.Round(0)); a zero time in any location reads back as
// time.Time{}; and the location becomes time.UTC for UTC times, time.Local
// when the local zone has the stored offset at that instant, else an
// unnamed fixed zone with the stored offset (the rules of
// time.Time.UnmarshalBinary). Times compare Equal to the originals.
//
// # Concurrency
//
// Every method is safe for concurrent use. Mutations (StoreLogs,
// DeleteRange, Set, SetUint64) are serialized, but not across the disk sync,
// so concurrent callers share one group commit. FirstIndex, LastIndex, Get
// and GetUint64 read memory only; GetLog reads the mapping and never waits
// for a sync. Slices returned by GetLog, Get and GetUint64 are owned by the
// caller. Methods called after Close return mmaplog.ErrClosed.
package hashiraft
