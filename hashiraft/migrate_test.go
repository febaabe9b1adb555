package hashiraft_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftlog/raftlog/hashiraft"
)

// TestMigrate copies raft-boltdb and raft-wal stores into a Store and
// compares every entry and stable key with what the source returns.
func TestMigrate(t *testing.T) {
	for _, kind := range []storeKind{kindBolt, kindRaftWAL} {
		t.Run(kind.name, func(t *testing.T) {
			src, err := kind.open(filepath.Join(t.TempDir(), kind.name))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			logs := mkLogs(1, 700, 2)
			logs = append(logs, mkLogs(701, 900, 3)...)
			for i := 0; i < len(logs); i += 100 {
				if err := src.StoreLogs(logs[i : i+100]); err != nil {
					t.Fatal(err)
				}
			}
			if err := src.DeleteRange(1, 99); err != nil { // compacted: starts at 100
				t.Fatal(err)
			}
			for k, v := range map[string]uint64{"CurrentTerm": 3, "LastVoteTerm": 3, "extra-int": 9} {
				if err := src.SetUint64([]byte(k), v); err != nil {
					t.Fatal(err)
				}
			}
			for k, v := range map[string]string{"LastVoteCand": "node1", "extra": "x"} {
				if err := src.Set([]byte(k), []byte(v)); err != nil {
					t.Fatal(err)
				}
			}

			dst, dir := openStore(t, "")
			var calls, lastDone uint64
			mopts := hashiraft.MigrateOptions{
				BatchBytes:      4 << 10, // many batches
				ExtraKeys:       [][]byte{[]byte("extra"), []byte("absent")},
				ExtraUint64Keys: [][]byte{[]byte("extra-int"), []byte("absent-int")},
				Progress: func(done, total uint64) {
					if total != 801 || done <= lastDone || done > total {
						t.Errorf("Progress(%d, %d) after %d: want increasing, of 801", done, total, lastDone)
					}
					calls, lastDone = calls+1, done
				},
			}
			err = hashiraft.Migrate(context.Background(), dst, src, src, mopts)
			if err != nil {
				t.Fatal(err)
			}
			if calls < 10 || lastDone != 801 {
				t.Fatalf("Progress: %d calls, last done %d; want many, ending at 801", calls, lastDone)
			}
			dst = reopen(t, dst, dir)
			lastDone, calls = 0, 0
			if err := hashiraft.VerifyMigration(context.Background(), dst, src, src, mopts); err != nil {
				t.Fatal(err)
			}
			if calls == 0 || lastDone != 801 {
				t.Fatalf("VerifyMigration Progress: %d calls, last done %d; want it to end at 801", calls, lastDone)
			}
			if _, err := dst.GetUint64([]byte("absent-int")); err == nil || err.Error() != "not found" {
				t.Fatalf("GetUint64(absent-int) = %v, want not found (raft-wal reads 0 for it)", err)
			}
			checkRange(t, dst, 100, 900)
			checkMissing(t, dst, 99)
			for i := uint64(100); i <= 900; i++ {
				var want, got raft.Log
				if err := src.GetLog(i, &want); err != nil {
					t.Fatal(err)
				}
				if err := dst.GetLog(i, &got); err != nil {
					t.Fatal(err)
				}
				want.AppendedAt = hashiraft.NormalizeTime(want.AppendedAt)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("entry %d:\n got %#v\nwant %#v", i, got, want)
				}
			}
			for k, v := range map[string]uint64{"CurrentTerm": 3, "LastVoteTerm": 3, "extra-int": 9} {
				if got, err := dst.GetUint64([]byte(k)); err != nil || got != v {
					t.Fatalf("GetUint64(%s) = %d, %v; want %d", k, got, err, v)
				}
			}
			for k, v := range map[string]string{"LastVoteCand": "node1", "extra": "x"} {
				if got, err := dst.Get([]byte(k)); err != nil || string(got) != v {
					t.Fatalf("Get(%s) = %q, %v; want %q", k, got, err, v)
				}
			}
			if _, err := dst.Get([]byte("absent")); err == nil || err.Error() != "not found" {
				t.Fatalf("Get(absent) = %v, want not found", err)
			}

			// A second migration into a non-empty store is refused.
			if err := hashiraft.Migrate(context.Background(), dst, src, src, hashiraft.MigrateOptions{}); err == nil {
				t.Fatal("Migrate into a non-empty store succeeded")
			}
		})
	}
}

func TestMigrateCanceled(t *testing.T) {
	src := raft.NewInmemStore()
	if err := src.StoreLogs(mkLogs(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	dst, _ := openStore(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := hashiraft.Migrate(ctx, dst, src, nil, hashiraft.MigrateOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Migrate = %v, want context.Canceled", err)
	}
}

// TestMigrateCluster runs a cluster on raft-boltdb, stops it, migrates each
// node to a Store, and restarts the cluster on the Stores: the state
// survives and the cluster keeps working.
func TestMigrateCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test skipped in -short mode")
	}
	c := newCluster(t, 3, kindBolt, testRaftConfig)
	want := map[string]string{}
	c.apply(kvCommands("before", 200, want), 32)
	c.waitConverged(want)
	for i := range c.nodes {
		c.stop(i)
	}
	for _, nd := range c.nodes {
		src, err := kindBolt.open(filepath.Join(nd.dir, kindBolt.name))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := testKind.open(filepath.Join(nd.dir, testKind.name))
		if err != nil {
			t.Fatal(err)
		}
		err = hashiraft.Migrate(context.Background(), dst.(*hashiraft.Store), src, src, hashiraft.MigrateOptions{})
		if err := errors.Join(err, src.Close(), dst.Close()); err != nil {
			t.Fatalf("%s: migrate: %v", nd.id, err)
		}
	}
	c.kind = testKind
	for i := range c.nodes {
		c.start(i, true)
	}
	c.waitConverged(want)
	c.apply(kvCommands("after", 200, want), 32)
	c.waitConverged(want)
	c.checkLogsAgree()
}
