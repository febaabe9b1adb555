package hashiraft_test

import (
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftlog/raftlog/hashiraft"
	"github.com/raftlog/raftlog/internal/kvfsm"
)

// hasAll reports the first key of want that f lacks or holds differently.
func hasAll(f *kvfsm.FSM, want map[string]string) error {
	got := f.State()
	for k, v := range want {
		if got[k] != v {
			return fmt.Errorf("key %s = %q, want %q (%d of %d keys)", k, got[k], v, len(got), len(want))
		}
	}
	return nil
}

// TestClusterRestoreCommittedLogs runs a 3-node cluster with
// Config.RestoreCommittedLogs, which hashicorp/raft refuses unless the log
// store implements raft.CommitTrackingLogStore. After a full stop each node
// is started alone, so no election can succeed: its FSM must still get
// every committed command, from its snapshot and then the committed entries
// of its own log, replayed by NewRaft. Then one node's log is cut behind
// its recorded commit index: it must start, replay what it has, and catch
// up once the others are back.
func TestClusterRestoreCommittedLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test skipped in -short mode")
	}
	start := time.Now()
	phase := func(name string) { t.Logf("%6.2fs %s", time.Since(start).Seconds(), name) }
	config := func() *raft.Config {
		conf := testRaftConfig()
		conf.RestoreCommittedLogs = true
		conf.SnapshotThreshold = 1 << 30 // snapshots only when the test takes them
		conf.SnapshotInterval = time.Hour
		return conf
	}
	c := newCluster(t, 3, testKind, config)
	store := func(i int) *hashiraft.Store { return c.nodes[i].store.(*hashiraft.Store) }
	want := map[string]string{}

	phase("write, snapshot every node, write more")
	c.apply(kvCommands("alpha", 150, want), 32)
	c.waitConverged(want)
	snapIdx := make([]uint64, 3)
	for i, nd := range c.nodes {
		if err := nd.raft.Snapshot().Error(); err != nil {
			t.Fatalf("%s: snapshot: %v", nd.id, err)
		}
		snapIdx[i], _ = strconv.ParseUint(nd.raft.Stats()["last_snapshot_index"], 10, 64)
	}
	c.apply(kvCommands("bravo", 150, want), 32)
	c.waitConverged(want)
	target := c.nodes[c.leader()].raft.LastIndex() // covers every command

	// A follower records the commit index that comes with new entries, so
	// the last commands' commit reaches its store with a later batch.
	phase("wait for every store to record the commit index")
	markers := 0
	c.waitFor("every store's commit index to cover the commands", 30*time.Second, func() error {
		for i, nd := range c.nodes {
			if ci, _ := store(i).GetCommitIndex(); ci < target {
				markers++
				c.apply([]string{fmt.Sprintf("marker-%d=x", markers)}, 1)
				return fmt.Errorf("%s: commit index %d < %d", nd.id, ci, target)
			}
		}
		return nil
	})
	committed := maps.Clone(want) // what the stores know is committed
	for m := 1; m <= markers; m++ {
		want[fmt.Sprintf("marker-%d", m)] = "x"
	}

	phase("full stop; each node restarted alone")
	for i := range c.nodes {
		c.stop(i)
	}
	for i, nd := range c.nodes {
		c.start(i, true)
		c.waitFor(string(nd.id)+"'s FSM to hold every committed command", 10*time.Second, func() error {
			return hasAll(nd.fsm, committed)
		})
		if st, leader := nd.raft.State(), nd.raft.Leader(); st == raft.Leader || leader != "" {
			t.Fatalf("%s: alone it is %v and knows leader %q", nd.id, st, leader)
		}
		applied := nd.fsm.Applied()
		if applied <= snapIdx[i] {
			t.Fatalf("%s: FSM applied up to %d, not beyond its snapshot at %d: the log was not replayed", nd.id, applied, snapIdx[i])
		}
		c.stop(i)
	}

	phase("cut one node's log behind its commit index")
	cut := 1
	opened, err := c.kind.open(filepath.Join(c.nodes[cut].dir, c.kind.name))
	if err != nil {
		t.Fatal(err)
	}
	s := opened.(*hashiraft.Store)
	commit, _ := s.GetCommitIndex()
	last, _ := s.LastIndex()
	if err := s.DeleteRange(commit-20, last); err != nil {
		t.Fatal(err)
	}
	if ci, _ := s.GetCommitIndex(); ci != commit-21 {
		t.Fatalf("after the cut GetCommitIndex = %d, want the new last index %d", ci, commit-21)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	nd := c.nodes[cut]
	c.start(cut, true)
	c.waitFor(string(nd.id)+"'s FSM to replay its cut log", 10*time.Second, func() error {
		if nd.fsm.Applied() != commit-21 {
			return fmt.Errorf("applied %d, want %d", nd.fsm.Applied(), commit-21)
		}
		return nil
	})

	phase("the others back; write")
	for i := range c.nodes {
		if i != cut {
			c.start(i, true)
		}
	}
	c.waitConverged(want)
	c.apply(kvCommands("charlie", 50, want), 32)
	c.waitConverged(want)
	c.checkLogsAgree()
	phase("done")
}
