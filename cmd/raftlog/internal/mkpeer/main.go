// Command mkpeer writes a hashicorp/raft store with a peer library, for the
// raftlog CLI's migration tests:
//
//	mkpeer boltdb-v1|boltdb-v2|raftwal PATH < store.json
//
// boltdb-v1 is github.com/hashicorp/raft-boltdb on github.com/boltdb/bolt,
// boltdb-v2 is github.com/hashicorp/raft-boltdb/v2 on bbolt (PATH is the
// database file for both), raftwal is github.com/hashicorp/raft-wal (PATH
// is its directory, created if missing). The tests cannot write these
// stores in their own process: they run under -race, whose pointer checks
// boltdb/bolt fails, and raft-wal's Close leaves its meta file open and
// locked until the process exits.
//
// store.json is one object: {"logs": [raft.Log...], "delete": [min, max],
// "uint64": {key: value}, "keys": {key: value}}. The logs are stored 100
// per StoreLogs, then the delete range (if any) is deleted, then the keys
// are set.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdbv1 "github.com/hashicorp/raft-boltdb"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/raftlog/raftlog/cmd/raftlog/internal/peerjson"
)

type peerStore interface {
	raft.LogStore
	raft.StableStore
	Close() error
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mkpeer:", err)
		os.Exit(1)
	}
}

func open(kind, path string) (peerStore, error) {
	switch kind {
	case "boltdb-v1":
		return raftboltdbv1.NewBoltStore(path)
	case "boltdb-v2":
		return raftboltdb.NewBoltStore(path)
	case "raftwal":
		if err := os.MkdirAll(path, 0o700); err != nil {
			return nil, err
		}
		return raftwal.Open(path, raftwal.WithLogger(hclog.NewNullLogger()))
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

func run() error {
	if len(os.Args) != 3 {
		return fmt.Errorf("usage: mkpeer boltdb-v1|boltdb-v2|raftwal PATH < store.json")
	}
	var in peerjson.Store
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		return err
	}
	s, err := open(os.Args[1], os.Args[2])
	if err != nil {
		return err
	}
	for i := 0; i < len(in.Logs); i += 100 {
		if err := s.StoreLogs(in.Logs[i:min(i+100, len(in.Logs))]); err != nil {
			return err
		}
	}
	if len(in.Delete) == 2 {
		if err := s.DeleteRange(in.Delete[0], in.Delete[1]); err != nil {
			return err
		}
	}
	for k, v := range in.Uint64 {
		if err := s.SetUint64([]byte(k), v); err != nil {
			return err
		}
	}
	for k, v := range in.Keys {
		if err := s.Set([]byte(k), []byte(v)); err != nil {
			return err
		}
	}
	return s.Close()
}
