package bench

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

func init() {
	register(&Driver{
		Name:   "raftwal",
		Module: "github.com/hashicorp/raft-wal v0.4.0",
		Open:   openRaftWAL,
		Adapted: map[string]string{
			"W2": "no async flush: synced StoreLogs batches of 64",
			"W3": "no no-sync mode: segment Sync made a no-op via its VFS seam, real fsync at the end",
		},
	})
}

// raftLogStore adapts a hashicorp/raft LogStore (raft-wal, raft-boltdb).
type raftLogStore struct {
	ls interface {
		raft.LogStore
		Close() error
	}
	sync   func() error // makes NoSync appends durable
	close  func() error // after ls.Close, if set
	purged atomic.Uint64
	logs   []raft.Log
	ptrs   []*raft.Log
	get    raft.Log
}

func (s *raftLogStore) Append(entries []Entry) error {
	if cap(s.logs) < len(entries) {
		s.logs = make([]raft.Log, len(entries))
		s.ptrs = make([]*raft.Log, len(entries))
	}
	s.logs, s.ptrs = s.logs[:len(entries)], s.ptrs[:len(entries)]
	for i, e := range entries {
		s.logs[i] = raft.Log{Index: e.Index, Term: e.Term, Type: raft.LogCommand, Data: e.Payload}
		s.ptrs[i] = &s.logs[i]
	}
	return s.ls.StoreLogs(s.ptrs)
}

func (s *raftLogStore) Sync() error { return s.sync() }

func (s *raftLogStore) Get(index uint64) ([]byte, error) {
	if err := s.ls.GetLog(index, &s.get); err != nil {
		return nil, err
	}
	return s.get.Data, nil
}

func (s *raftLogStore) Purge(upto uint64) error {
	from := s.purged.Load() + 1
	if upto < from {
		return nil
	}
	if err := s.ls.DeleteRange(from, upto); err != nil {
		return err
	}
	s.purged.Store(upto)
	return nil
}

// loadPurged sets the purge point from the store's FirstIndex and
// returns s; on an error it closes s. name is the driver's, for the error.
func (s *raftLogStore) loadPurged(name string) (Store, error) {
	first, err := s.ls.FirstIndex()
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("bench: %s first index: %w", name, err)
	}
	if first > 0 {
		s.purged.Store(first - 1)
	}
	return s, nil
}

func (s *raftLogStore) Close() error {
	err := s.ls.Close()
	if s.close != nil {
		if cerr := s.close(); err == nil {
			err = cerr
		}
	}
	return err
}

func openRaftWAL(dir string, o OpenOptions) (Store, error) {
	var (
		w   *wal.WAL
		err error
		vfs *deferredSyncFS
	)
	// raft-wal's Close does not close its meta store, whose bolt file
	// lock would then block the next Open in this process; the driver
	// owns the meta store and closes it after the WAL.
	meta := &metadb.BoltMetaDB{}
	if o.NoSync {
		vfs = &deferredSyncFS{FS: walfs.New(), open: map[*deferredSyncFile]struct{}{}}
		w, err = wal.Open(dir, wal.WithLogger(hclog.NewNullLogger()), wal.WithMetaStore(meta),
			wal.WithSegmentFiler(segment.NewFiler(dir, vfs)))
	} else {
		w, err = wal.Open(dir, wal.WithLogger(hclog.NewNullLogger()), wal.WithMetaStore(meta))
	}
	if err != nil {
		_ = meta.Close()
		return nil, fmt.Errorf("bench: raftwal open %s: %w", dir, err)
	}
	s := &raftLogStore{ls: w, sync: func() error { return nil }, close: meta.Close}
	if vfs != nil {
		s.sync = vfs.syncAll
	}
	return s.loadPurged("raftwal")
}

// deferredSyncFS is raft-wal's own file system with Sync turned into a
// no-op on segment files; syncAll performs the deferred syncs.
type deferredSyncFS struct {
	*walfs.FS
	mu   sync.Mutex
	open map[*deferredSyncFile]struct{}
}

type deferredSyncFile struct {
	types.WritableFile
	fs *deferredSyncFS
}

func (f *deferredSyncFile) Sync() error { return nil }

func (f *deferredSyncFile) Close() error {
	f.fs.mu.Lock()
	delete(f.fs.open, f)
	f.fs.mu.Unlock()
	// A segment closed on rotation must still reach the disk.
	if err := f.WritableFile.Sync(); err != nil {
		f.WritableFile.Close()
		return err
	}
	return f.WritableFile.Close()
}

func (fs *deferredSyncFS) track(w types.WritableFile, err error) (types.WritableFile, error) {
	if err != nil {
		return nil, err
	}
	f := &deferredSyncFile{WritableFile: w, fs: fs}
	fs.mu.Lock()
	fs.open[f] = struct{}{}
	fs.mu.Unlock()
	return f, nil
}

func (fs *deferredSyncFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	return fs.track(fs.FS.Create(dir, name, size))
}

func (fs *deferredSyncFS) OpenWriter(dir, name string) (types.WritableFile, error) {
	return fs.track(fs.FS.OpenWriter(dir, name))
}

func (fs *deferredSyncFS) syncAll() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for f := range fs.open {
		if err := f.WritableFile.Sync(); err != nil {
			return fmt.Errorf("bench: raftwal deferred sync: %w", err)
		}
	}
	return nil
}
