package bench

import (
	"fmt"
	"path/filepath"

	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

func init() {
	register(&Driver{
		Name:   "boltdb",
		Module: "github.com/hashicorp/raft-boltdb/v2 v2.3.0 (go.etcd.io/bbolt v1.5.0)",
		Open:   openBoltDB,
		Adapted: map[string]string{
			"W2": "no async flush: synced StoreLogs batches of 64 (one bolt tx each)",
			"W3": "NoSync option, bolt Sync at the end",
		},
	})
}

func openBoltDB(dir string, o OpenOptions) (Store, error) {
	b, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), NoSync: o.NoSync})
	if err != nil {
		return nil, fmt.Errorf("bench: boltdb open %s: %w", dir, err)
	}
	s := &raftLogStore{ls: b, sync: b.Sync}
	return s.loadPurged("boltdb")
}
