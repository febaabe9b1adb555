package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/raftlog/raftlog/internal/vfs"
	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

func init() {
	register(&Driver{
		Name:   "etcdwal",
		Module: "go.etcd.io/etcd/server/v3 v3.7.3 storage/wal",
		Open:   openEtcdWAL,
		// ReadAll holds every entry in memory, a few times its payload.
		MaxReopenBytes: 256 << 20,
		Cannot: map[string]string{
			"W4": "the etcd WAL has no read by index: ReadAll replays it once at open and etcd serves reads from raft's MemoryStorage",
		},
		Adapted: map[string]string{
			"W2": "no async flush: Save of 64 entries (one fdatasync) per call",
			"W3": "SetUnsafeNoFsync, segment files fdatasync'ed by path at the end",
			"W5": "open = Open + ReadAll (required before appending); entries stay in memory as in etcd's MemoryStorage",
			"W6": "purge = ReleaseLockTo + removal of unlocked 64 MB segment files (etcd's purge loop)",
		},
	})
}

// errNoRandomRead is returned by etcdwal's Get.
var errNoRandomRead = errors.New("bench: etcdwal has no read by index")

type etcdWALStore struct {
	dir   string
	w     *wal.WAL
	ents  []*raftpb.Entry // what ReadAll returned; etcd keeps these in MemoryStorage
	batch []*raftpb.Entry
	hs    raftpb.HardState
}

func openEtcdWAL(dir string, o OpenOptions) (Store, error) {
	waldir := filepath.Join(dir, "wal")
	s := &etcdWALStore{dir: waldir}
	lg := zap.NewNop()
	if wal.Exist(waldir) {
		w, err := wal.Open(lg, waldir, &walpb.Snapshot{})
		if err != nil {
			return nil, fmt.Errorf("bench: etcdwal open %s: %w", waldir, err)
		}
		if _, _, s.ents, err = w.ReadAll(); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("bench: etcdwal read all %s: %w", waldir, err)
		}
		s.w = w
	} else {
		w, err := wal.Create(lg, waldir, nil)
		if err != nil {
			return nil, fmt.Errorf("bench: etcdwal create %s: %w", waldir, err)
		}
		s.w = w
	}
	if o.NoSync {
		s.w.SetUnsafeNoFsync()
	}
	return s, nil
}

func (s *etcdWALStore) Append(entries []Entry) error {
	s.batch = s.batch[:0]
	for _, e := range entries {
		s.batch = append(s.batch, &raftpb.Entry{
			Term:  &e.Term,
			Index: &e.Index,
			Type:  raftpb.EntryNormal.Enum(),
			Data:  e.Payload,
		})
	}
	return s.w.Save(&s.hs, s.batch)
}

// Sync flushes the WAL's buffer and fdatasyncs every segment file: with
// SetUnsafeNoFsync the WAL's own Sync does not reach the disk.
func (s *etcdWALStore) Sync() error {
	if err := s.w.Sync(); err != nil {
		return fmt.Errorf("bench: etcdwal sync: %w", err)
	}
	return syncDirFiles(s.dir, ".wal")
}

func (s *etcdWALStore) Get(uint64) ([]byte, error) { return nil, errNoRandomRead }

// Purge releases the locks of segments wholly below upto+1 and removes the
// oldest unlocked segment files, as etcd's purge loop does.
func (s *etcdWALStore) Purge(upto uint64) error {
	if err := s.w.ReleaseLockTo(upto + 1); err != nil {
		return fmt.Errorf("bench: etcdwal release locks: %w", err)
	}
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("bench: etcdwal purge: %w", err)
	}
	var wals []string
	for _, n := range names {
		if strings.HasSuffix(n.Name(), ".wal") {
			wals = append(wals, n.Name())
		}
	}
	sort.Strings(wals)
	for i := 0; i < len(wals)-1; i++ {
		p := filepath.Join(s.dir, wals[i])
		l, err := fileutil.TryLockFile(p, os.O_WRONLY, fileutil.PrivateFileMode)
		if err != nil {
			break // still locked by the WAL
		}
		err = os.Remove(p)
		l.Close()
		if err != nil {
			return fmt.Errorf("bench: etcdwal purge: %w", err)
		}
	}
	return nil
}

func (s *etcdWALStore) Close() error { return s.w.Close() }

// syncDirFiles fsyncs every file in dir whose name ends in suffix, then dir.
func syncDirFiles(dir, suffix string) error {
	names, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("bench: sync %s: %w", dir, err)
	}
	for _, n := range names {
		if n.IsDir() || !strings.HasSuffix(n.Name(), suffix) {
			continue
		}
		if err := vfs.SyncPath(filepath.Join(dir, n.Name())); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	if err := vfs.SyncPath(dir); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}
