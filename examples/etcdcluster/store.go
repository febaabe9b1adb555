package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"

	"github.com/raftlog/raftlog/etcdraft"
	"github.com/raftlog/raftlog/mmaplog"
)

// store is what a node's Ready loop needs from its storage: raft's reads,
// a durable Save of each Ready, and a durable snapshot-then-compact.
type store interface {
	raft.Storage
	// Save persists a Ready's snapshot, entries and hard state; durable on
	// return as raft requires before its messages are sent.
	Save(hs *pb.HardState, ents []*pb.Entry, snap *pb.Snapshot) error
	// SnapshotAndCompact durably records a snapshot of the state machine
	// at applied, then discards the log up to compactTo (0: nothing).
	SnapshotAndCompact(applied, compactTo uint64, cs *pb.ConfState, data []byte) error
	Close() error
}

// Backends the example and its benchmark can run on.
const (
	backendRaftlog = "raftlog" // etcdraft.Storage on mmaplog
	backendEtcdWAL = "etcdwal" // raft.MemoryStorage + etcd's wal + snap, as raftexample
)

// openStore opens (or creates) a node's store of the given backend in dir.
func openStore(backend, dir string) (store, error) {
	switch backend {
	case backendRaftlog:
		s, err := etcdraft.Open(filepath.Join(dir, "raftlog"), mmaplog.Options{})
		if err != nil {
			return nil, err
		}
		return raftlogStore{s}, nil
	case backendEtcdWAL:
		return openWALStore(dir)
	}
	return nil, fmt.Errorf("unknown backend %q (want %s or %s)", backend, backendRaftlog, backendEtcdWAL)
}

// raftlogStore is an etcdraft.Storage: one store for reads and durability.
type raftlogStore struct{ *etcdraft.Storage }

func (s raftlogStore) SnapshotAndCompact(applied, compactTo uint64, cs *pb.ConfState, data []byte) error {
	if _, err := s.CreateSnapshot(applied, cs, data); err != nil {
		return err
	}
	if compactTo > 0 {
		if err := s.Compact(compactTo); err != nil {
			return err
		}
	}
	return s.Sync()
}

// walStore is what etcd's raftexample does: raft reads a MemoryStorage
// holding the whole unsnapshotted log, and durability comes from etcd's
// write-ahead log (entries and hard state) plus snapshot files.
type walStore struct {
	*raft.MemoryStorage
	wal   *wal.WAL
	snaps *snap.Snapshotter
}

func openWALStore(dir string) (*walStore, error) {
	lg := zap.NewNop()
	waldir, snapdir := filepath.Join(dir, "wal"), filepath.Join(dir, "snap")
	if err := os.MkdirAll(snapdir, 0o750); err != nil {
		return nil, err
	}
	s := &walStore{MemoryStorage: raft.NewMemoryStorage(), snaps: snap.New(lg, snapdir)}
	if !wal.Exist(waldir) {
		w, err := wal.Create(lg, waldir, nil)
		if err != nil {
			return nil, err
		}
		s.wal = w
		return s, nil
	}
	// Restart: the newest snapshot, then the WAL from that snapshot on.
	walSnap := &walpb.Snapshot{}
	sn, err := s.snaps.Load()
	switch {
	case errors.Is(err, snap.ErrNoSnapshot):
	case err != nil:
		return nil, err
	default:
		walSnap = &walpb.Snapshot{Index: sn.Metadata.Index, Term: sn.Metadata.Term, ConfState: sn.Metadata.ConfState}
		if err := s.ApplySnapshot(sn); err != nil {
			return nil, err
		}
	}
	w, err := wal.Open(lg, waldir, walSnap)
	if err != nil {
		return nil, err
	}
	_, hs, ents, err := w.ReadAll()
	if err == nil {
		err = s.SetHardState(hs)
	}
	if err == nil {
		err = s.Append(ents)
	}
	if err != nil {
		return nil, errors.Join(err, w.Close())
	}
	s.wal = w
	return s, nil
}

func (s *walStore) Save(hs *pb.HardState, ents []*pb.Entry, sn *pb.Snapshot) error {
	if !raft.IsEmptySnap(sn) {
		if err := s.saveSnap(sn); err != nil {
			return err
		}
	}
	if err := s.wal.Save(hs, ents); err != nil { // syncs when raft.MustSync
		return err
	}
	if !raft.IsEmptySnap(sn) {
		if err := s.ApplySnapshot(sn); err != nil {
			return err
		}
	}
	return s.Append(ents)
}

// saveSnap writes the snapshot file, then its WAL record, then lets the
// WAL release the segments before it (raftexample's order).
func (s *walStore) saveSnap(sn *pb.Snapshot) error {
	m := sn.GetMetadata()
	if err := s.snaps.SaveSnap(sn); err != nil {
		return err
	}
	if err := s.wal.SaveSnapshot(&walpb.Snapshot{Index: m.Index, Term: m.Term, ConfState: m.ConfState}); err != nil {
		return err
	}
	return s.wal.ReleaseLockTo(m.GetIndex())
}

func (s *walStore) SnapshotAndCompact(applied, compactTo uint64, cs *pb.ConfState, data []byte) error {
	sn, err := s.CreateSnapshot(applied, cs, data)
	if err != nil {
		return err
	}
	if err := s.saveSnap(sn); err != nil {
		return err
	}
	if compactTo == 0 {
		return nil
	}
	return s.Compact(compactTo)
}

func (s *walStore) Close() error { return s.wal.Close() }
