package storetest_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"

	"github.com/raftlog/raftlog/hashiraft"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/storetest"
)

var tableFile = flag.String("table", "", "write the conformance table (Markdown) to this file")

// both is what the stores under test are: a log store and a stable store.
type both interface {
	raft.LogStore
	raft.StableStore
}

// subject is one store the kit runs against.
type subject struct {
	name       string
	open       func(dir string) (both, error)
	persistent bool
}

func (s subject) logFactory() storetest.Factory[raft.LogStore] {
	return storetest.Factory[raft.LogStore]{
		Open:       func(dir string) (raft.LogStore, error) { return s.open(dir) },
		Persistent: s.persistent,
	}
}

func (s subject) stableFactory() storetest.Factory[raft.StableStore] {
	return storetest.Factory[raft.StableStore]{
		Open:       func(dir string) (raft.StableStore, error) { return s.open(dir) },
		Persistent: s.persistent,
	}
}

var raftlog = subject{"raftlog (hashiraft)", func(dir string) (both, error) {
	return hashiraft.Open(dir, mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize})
}, true}

// walSegment is raft-wal's segment size here (default 64 MiB): small, so
// that the crash cases copy little and rotations happen, as raftlog's
// smallest segments do for it.
const walSegment = 1 << 20

// peers are the stores compared with raftlog; their failures are findings.
var peers = []subject{
	{"raft-wal v0.4", func(dir string) (both, error) { return raftwal.Open(dir, raftwal.WithSegmentSize(walSegment)) }, true},
	{"raft-wal v0.4, meta store closed by caller", openWALClosingMeta, true},
	{"raft-boltdb v2", func(dir string) (both, error) {
		return raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	}, true},
	{"raft InmemStore", func(string) (both, error) { return raft.NewInmemStore(), nil }, false},
	{"raft InmemCommitTrackingStore", func(string) (both, error) { return raft.NewInmemCommitTrackingStore(), nil }, false},
}

// walClosingMeta is a raft-wal WAL whose Close also closes its meta store:
// WAL.Close leaves the default one (wal-meta.db, bbolt) open, holding its
// file lock, so opening the directory again in the same process blocks.
type walClosingMeta struct {
	*raftwal.WAL
	meta *metadb.BoltMetaDB
}

func (w walClosingMeta) Close() error { return errors.Join(w.WAL.Close(), w.meta.Close()) }

func openWALClosingMeta(dir string) (both, error) {
	meta := &metadb.BoltMetaDB{}
	w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta), raftwal.WithSegmentSize(walSegment))
	if err != nil {
		return nil, errors.Join(err, meta.Close())
	}
	return walClosingMeta{w, meta}, nil
}

// raftlogResults are TestRaftlog's outcomes, for TestConformance's table.
var raftlogResults storetest.Results

// TestRaftlog is the gate: hashiraft.Store must pass every case.
func TestRaftlog(t *testing.T) {
	var res storetest.Results
	t.Run("log", func(t *testing.T) { res = append(res, storetest.LogStore(t, raftlog.logFactory())...) })
	t.Run("stable", func(t *testing.T) { res = append(res, storetest.StableStore(t, raftlog.stableFactory())...) })
	raftlogResults = res
}

// TestConformance surveys the peers (in parallel) and prints the table
// with raftlog's column from TestRaftlog (surveyed here when -run left
// TestRaftlog out); -args -table=FILE also writes it. A peer failing a case
// does not fail the test: it is a finding, listed under the table.
func TestConformance(t *testing.T) {
	subjects := peers
	cols := make([]storetest.Column, len(peers))
	if raftlogResults != nil {
		cols = append([]storetest.Column{{Store: raftlog.name, Results: raftlogResults}}, cols...)
	} else {
		subjects = append([]subject{raftlog}, peers...)
		cols = append([]storetest.Column{{}}, cols...)
	}
	offset := len(cols) - len(subjects)
	t.Run("stores", func(t *testing.T) {
		for i, s := range subjects {
			t.Run(s.name, func(t *testing.T) {
				t.Parallel()
				var res storetest.Results
				t.Run("log", func(t *testing.T) { res = append(res, storetest.SurveyLogStore(t, s.logFactory())...) })
				t.Run("stable", func(t *testing.T) { res = append(res, storetest.SurveyStableStore(t, s.stableFactory())...) })
				cols[offset+i] = storetest.Column{Store: s.name, Results: res}
			})
		}
	})
	table := storetest.Table(cols...)
	t.Logf("conformance of hashicorp/raft stores:\n%s", table)
	if *tableFile != "" {
		if err := os.WriteFile(*tableFile, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The survey records outcomes; it must still have run every case.
	for _, c := range cols {
		if len(c.Results) > 0 && len(c.Results) != len(storetest.Cases()) { // 0: left out by -run
			t.Fatalf("%s: %d results for %d cases", c.Store, len(c.Results), len(storetest.Cases()))
		}
	}
}
