package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"golang.org/x/sys/unix"

	"github.com/raftlog/raftlog/hashiraft"
)

// source is an open store to migrate from.
type source struct {
	kind     string // "raft-boltdb" or "raft-wal"
	path     string
	logs     raft.LogStore
	stable   raft.StableStore
	opts     hashiraft.MigrateOptions // the extra keys to copy
	uid, gid int                      // SRC's owner
	close    func() error
}

// raftKeys are the stable keys hashicorp/raft writes, which
// hashiraft.Migrate always copies.
var raftKeys = []string{"CurrentTerm", "LastVoteTerm", "LastVoteCand"}

// boltTimeout is how long opening a raft-boltdb file waits for the lock a
// running node holds.
const boltTimeout = time.Second

// openSource opens SRC read-only (raft-boltdb) or with raft-wal's own
// recovery (raft-wal), after checking that it is such a store and that no
// node has it open. keys and uint64Keys are extra stable keys to copy.
func openSource(from, path string, keys, uint64Keys []string) (*source, error) {
	st, err := os.Stat(path)
	switch {
	case isNotExist(err):
		return nil, fmt.Errorf("%s does not exist", path)
	case errors.Is(err, fs.ErrPermission):
		return nil, errors.New(permissionText(path))
	case err != nil:
		return nil, err
	}
	s := &source{path: path}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		s.uid, s.gid = int(sys.Uid), int(sys.Gid)
	}
	for _, k := range uint64Keys {
		s.opts.ExtraUint64Keys = append(s.opts.ExtraUint64Keys, []byte(k))
	}
	if from == "boltdb" {
		err = s.openBolt(st, keys)
	} else {
		err = s.openWAL(st, keys)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *source) openBolt(st fs.FileInfo, keys []string) error {
	path := s.path
	s.kind = "raft-boltdb"
	if st.IsDir() {
		for _, name := range []string{"raft.db", "raft/raft.db"} {
			if isBolt(filepath.Join(path, name)) {
				return fmt.Errorf("%s is a directory; -from boltdb wants the database file: %s", path, filepath.Join(path, name))
			}
		}
		if _, err := os.Stat(filepath.Join(path, "wal-meta.db")); err == nil {
			return fmt.Errorf("%s is a raft-wal directory: use -from raftwal", path)
		}
		return fmt.Errorf("%s is a directory; -from boltdb wants a raft-boltdb database file (usually raft.db)", path)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is %s, not a raft-boltdb database file", path, modeText(st.Mode()))
	}
	if f, err := os.Open(path); errors.Is(err, fs.ErrPermission) {
		return errors.New(permissionText(path))
	} else if err == nil {
		_ = f.Close()
	}
	if !isBolt(path) {
		return fmt.Errorf("%s is not a bolt database, so not a raft-boltdb store", path)
	}
	bopts := &bbolt.Options{ReadOnly: true, Timeout: boltTimeout}
	db, err := bbolt.Open(path, 0o600, bopts)
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("%s is in use by another process (a running node?): stop it first", path)
	case err != nil:
		return fmt.Errorf("cannot open %s as a bolt database: %w", path, err)
	}
	var conf []string
	err = db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte("logs")) == nil || tx.Bucket([]byte("conf")) == nil {
			var names []string
			_ = tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
				names = append(names, string(name))
				return nil
			})
			return fmt.Errorf("%s is a bolt database but not a raft-boltdb store: it lacks the logs and conf buckets (it has %q)", path, names)
		}
		return tx.Bucket([]byte("conf")).ForEach(func(k, _ []byte) error {
			conf = append(conf, string(k))
			return nil
		})
	})
	if err = errors.Join(err, db.Close()); err != nil {
		return err
	}
	// raft-boltdb stores a uint64 as 8 big-endian bytes, as Store does:
	// every key copies byte for byte.
	for _, k := range append(conf, keys...) {
		if !slices.Contains(raftKeys, k) && !slices.ContainsFunc(s.opts.ExtraKeys, func(b []byte) bool { return string(b) == k }) {
			s.opts.ExtraKeys = append(s.opts.ExtraKeys, []byte(k))
		}
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: bopts})
	if err != nil {
		return fmt.Errorf("cannot open %s with raft-boltdb: %w", path, err)
	}
	s.logs, s.stable, s.close = store, store, store.Close
	return nil
}

func (s *source) openWAL(st fs.FileInfo, keys []string) error {
	path := s.path
	s.kind = "raft-wal"
	if !st.IsDir() {
		switch {
		case filepath.Base(path) == "wal-meta.db":
			return fmt.Errorf("%s is raft-wal's meta file; -from raftwal wants its directory: %s", path, filepath.Dir(path))
		case isBolt(path):
			return fmt.Errorf("%s is a file, not a raft-wal directory; if it is a raft-boltdb store, use -from boltdb", path)
		}
		return fmt.Errorf("%s is not a directory; -from raftwal wants a raft-wal directory (the one holding wal-meta.db)", path)
	}
	meta := filepath.Join(path, "wal-meta.db")
	if _, err := os.Stat(meta); isNotExist(err) {
		if isBolt(filepath.Join(path, "raft.db")) {
			return fmt.Errorf("%s holds no raft-wal store but raft.db: use -from boltdb %s", path, filepath.Join(path, "raft.db"))
		}
		return fmt.Errorf("%s holds no raft-wal store (no wal-meta.db)", path)
	}
	// raft-wal's bolt meta file is held locked by a running node, and
	// raft-wal would wait for it forever: look first.
	f, err := os.Open(meta)
	if errors.Is(err, fs.ErrPermission) {
		return errors.New(permissionText(meta))
	}
	if err != nil {
		return err
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	_ = f.Close() // releases the lock
	if errors.Is(err, unix.EWOULDBLOCK) {
		return fmt.Errorf("%s is in use by another process (a running node?): stop it first", path)
	}
	for _, k := range keys {
		s.opts.ExtraKeys = append(s.opts.ExtraKeys, []byte(k))
	}
	w, err := raftwal.Open(path, raftwal.WithLogger(hclog.NewNullLogger()))
	if errors.Is(err, fs.ErrPermission) {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return errors.New(permissionText(pe.Path))
		}
	}
	if err != nil {
		return fmt.Errorf("cannot open %s with raft-wal: %w", path, err)
	}
	s.logs, s.stable, s.close = w, w, w.Close
	return nil
}
