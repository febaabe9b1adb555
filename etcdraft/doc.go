// Package etcdraft is a durable raft.Storage for etcd's Raft library,
// go.etcd.io/raft/v3 (v3.7, the pointer API), on one mmaplog.Log: it
// replaces the pair raftexample uses, raft.MemoryStorage for reads plus
// etcd's wal for durability, with one store that serves reads from its
// memory-mapped segments instead of holding the log in RAM.
//
//	st, err := etcdraft.Open(dir, mmaplog.Options{})
//	if err != nil {
//		return err
//	}
//	defer st.Close() // after the node has stopped
//	hs, _, _ := st.InitialState()
//	last, _ := st.LastIndex()
//	node := raft.RestartNode(&raft.Config{ID: id, Storage: st, ...}) // or StartNode on a new dir
//	for rd := range node.Ready() {
//		if err := st.Save(rd.HardState, rd.Entries, rd.Snapshot); err != nil { ... }
//		send(rd.Messages)
//		apply(rd.CommittedEntries)
//		node.Advance()
//	}
//
// With Config.AsyncStorageWrites, hand each MsgStorageAppend to
// StorageAppend, which writes it and delivers its responses from a
// mmaplog Flush callback once the writes are durable, in message order.
// MemoryStorage's methods (Append, SetHardState, ApplySnapshot,
// CreateSnapshot, Compact) are here too, with the same semantics, so the
// Storage also satisfies rafttest.Storage; they write without syncing
// (Sync or Save make the writes durable).
//
// # Mapping onto mmaplog
//
//   - Each raft entry is one mmaplog entry with LogID (Term, Index). Its
//     payload is a tag byte (whether Type and Data are set, and the Type)
//     followed by Data, so entries read back equal under proto.Equal.
//   - HardState.Term and Vote are the log's Vote {Term, NodeID}; etcd's
//     "vote 0 = nobody" is mmaplog's too, and mmaplog rejects a vote that
//     goes back. HardState.Commit is the log's commit record, written
//     with the committed entry's term once that entry is in the log (never
//     beyond the last entry, so a restart never finds a commit index raft
//     would refuse).
//   - The compaction point (the entry before FirstIndex) is the log's
//     Purged LogID, which keeps its term for Term(FirstIndex()-1).
//     Compact is Purge.
//   - The snapshot (metadata, ConfState and data) is the log's user data,
//     protobuf-encoded behind a magic and version (format in codec.go).
//     ApplySnapshot writes it first, then empties the log at the
//     snapshot's (Index, Term); the blob carries a "restore" flag, and
//     Open finishes a restore a crash interrupted, so the compaction
//     point and the ConfState always belong to the same snapshot.
//   - Term answers from an in-memory list of term runs (one per term
//     spanned by the live log), built at Open with a binary search per
//     term; Entries reads the segments and decodes fresh entries.
//
// Mutations are written through the mapping in the order Save applies
// them (snapshot, entries, HardState), and mmaplog's recovery keeps a
// prefix of that order after a crash, so a reopened Storage is always
// some state the Ready loop passed through, and never one it synced
// past.
//
// # Concurrency
//
// Every method is safe for concurrent use. Reads (InitialState, Entries,
// Term, FirstIndex, LastIndex, Snapshot) share a lock and never wait for
// a disk sync; writes hold it exclusively while they change the log, but
// not across the sync. StorageAppend calls are serialized with each other
// and must come from one goroutine in raft's order. Entries and Snapshot
// return copies the caller owns; entries must not be modified.
//
// # Not supported
//
// go.etcd.io/raft/v3 v3.6 and older (value types in raftpb) are not
// served. A v3.6 front end would have to live in a module of its own that
// requires raft v3.6, but every module importing this one inherits its
// requirement of go.etcd.io/raft/v3 v3.7.0, and minimal version selection
// then builds the v3.6 front end against v3.7. It takes moving every
// package that needs raft v3.7 (this one, and bench's etcd wal driver via
// go.etcd.io/etcd/server/v3 v3.7) out of the root module first.
package etcdraft
