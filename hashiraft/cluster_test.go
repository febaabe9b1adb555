package hashiraft_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftlog/raftlog/hashiraft"
	"github.com/raftlog/raftlog/mmaplog"
)

// testRaftConfig snapshots and compacts often so that a short test
// exercises purges, snapshot installs and the delete-all path. Timeouts
// stay generous for a loaded machine running -race.
func testRaftConfig() *raft.Config {
	conf := raft.DefaultConfig()
	conf.HeartbeatTimeout = 500 * time.Millisecond
	conf.ElectionTimeout = 500 * time.Millisecond
	conf.LeaderLeaseTimeout = 250 * time.Millisecond
	conf.CommitTimeout = 10 * time.Millisecond
	conf.SnapshotInterval = 100 * time.Millisecond
	conf.SnapshotThreshold = 64
	conf.TrailingLogs = 32
	return conf
}

// testKind is the Store with the smallest segments, so compaction deletes
// whole segment files.
var testKind = kindRaftlog(mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize})

// TestCluster runs a 3-node cluster on Store through a follower restart
// that needs a snapshot install, a leadership transfer, a leader crash, and
// a full restart, checking after each phase that every FSM converges, and at
// the end that the logs agree and were compacted.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test skipped in -short mode")
	}
	start := time.Now()
	c := newCluster(t, 3, testKind, testRaftConfig)
	want := map[string]string{}
	phase := func(name string) { t.Logf("%6.2fs %s", time.Since(start).Seconds(), name) }

	phase("write")
	c.apply(kvCommands("alpha", 300, want), 32)
	c.waitConverged(want)
	c.waitFor("every log compacted", 30*time.Second, func() error {
		for _, nd := range c.nodes {
			if first, _ := nd.store.FirstIndex(); first <= 1 {
				return fmt.Errorf("%s: FirstIndex %d", nd.id, first)
			}
		}
		return nil
	})

	phase("follower restart with snapshot install")
	f := (c.leader() + 1) % 3
	fLast, err := c.nodes[f].store.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	c.stop(f)
	c.apply(kvCommands("bravo", 300, want), 32)
	// Once both running nodes compacted past the stopped follower's log,
	// whichever leads must send it a snapshot: the follower deletes its
	// whole log and continues at the snapshot index + 1.
	c.waitFor("running nodes to compact past the stopped follower", 30*time.Second, func() error {
		for i, nd := range c.nodes {
			if i == f {
				continue
			}
			if first, _ := nd.store.FirstIndex(); first <= fLast+1 {
				return fmt.Errorf("%s: FirstIndex %d <= %d", nd.id, first, fLast+1)
			}
		}
		return nil
	})
	c.start(f, true)
	c.waitConverged(want)
	// After installing the snapshot the follower's log is empty until the
	// next entry arrives.
	c.apply(kvCommands("bravo2", 10, want), 32)
	c.waitConverged(want)
	c.waitFor("restarted follower's log to move past the gap", 30*time.Second, func() error {
		first, _ := c.nodes[f].store.FirstIndex()
		last, _ := c.nodes[f].store.LastIndex()
		if first <= fLast+1 || last < first {
			return fmt.Errorf("%s: log [%d, %d], was [.., %d] before the restart", c.nodes[f].id, first, last, fLast)
		}
		return nil
	})

	phase("leadership transfer")
	old := c.leader()
	c.waitFor("leadership transfer", 30*time.Second, func() error {
		if c.nodes[old].raft.State() != raft.Leader {
			return nil // lost it some other way: also a leader change
		}
		return c.nodes[old].raft.LeadershipTransfer().Error()
	})
	c.waitFor("a new leader", 30*time.Second, func() error {
		if l := c.leader(); l == old {
			return errors.New("old leader still leads")
		}
		return nil
	})
	c.apply(kvCommands("charlie", 200, want), 32)
	c.waitConverged(want)

	phase("leader crash and restart")
	old = c.leader()
	c.stop(old)
	c.apply(kvCommands("delta", 200, want), 32)
	c.start(old, true)
	c.waitConverged(want)

	phase("full restart")
	for i := range c.nodes {
		c.stop(i)
	}
	for i := range c.nodes {
		c.start(i, true)
	}
	c.waitConverged(want) // from snapshots and logs on disk
	c.apply(kvCommands("echo", 100, want), 32)
	c.waitConverged(want)

	phase("final checks")
	c.waitFor("every log compacted", 30*time.Second, func() error {
		for _, nd := range c.nodes {
			first, _ := nd.store.FirstIndex()
			last, _ := nd.store.LastIndex()
			if first <= 1 || last-first+1 > 400 {
				return fmt.Errorf("%s: log [%d, %d] not compacted", nd.id, first, last)
			}
		}
		return nil
	})
	// About 300 KB went through each log in 64 KiB segments; what is left
	// after compaction fits in a few, so purged segment files were deleted.
	c.waitFor("purged segment files deleted", 30*time.Second, func() error {
		for _, nd := range c.nodes {
			if st := nd.store.(*hashiraft.Store).Stats(); st.Segments > 3 {
				return fmt.Errorf("%s: %d segment files, %d pending removal", nd.id, st.Segments, st.PendingRemovals)
			}
		}
		return nil
	})
	c.checkLogsAgree()
	for _, nd := range c.nodes {
		first, _ := nd.store.FirstIndex()
		last, _ := nd.store.LastIndex()
		st := nd.store.(*hashiraft.Store).Stats()
		t.Logf("%s: log [%d, %d], %d segment files, %d appends, %d syncs; FSM %d keys",
			nd.id, first, last, st.Segments, st.Appends, st.Syncs, len(nd.fsm.State()))
	}
	phase("done")
}
