package storetest

import (
	"github.com/hashicorp/raft"
)

// commitIndex returns GetCommitIndex, failing the case on an error.
func (c *lc) commitIndex(ct raft.CommitTrackingLogStore) uint64 {
	c.Helper()
	ci, err := ct.GetCommitIndex()
	if err != nil {
		c.Fatalf("GetCommitIndex: %v", err)
	}
	return ci
}

func (c *lc) stage(ct raft.CommitTrackingLogStore, idx uint64) {
	c.Helper()
	if err := ct.StageCommitIndex(idx); err != nil {
		c.Fatalf("StageCommitIndex(%d): %v", idx, err)
	}
}

// checkCommit asserts GetCommitIndex, and that it is at most LastIndex.
func (c *lc) checkCommit(ct raft.CommitTrackingLogStore, want uint64) {
	c.Helper()
	ci := c.commitIndex(ct)
	_, last := c.indexes(ct)
	if ci > last {
		c.Fatalf("GetCommitIndex = %d above LastIndex %d", ci, last)
	}
	if ci != want {
		c.Fatalf("GetCommitIndex = %d, want %d", ci, want)
	}
}

// The commit tracking cases apply to a raft.CommitTrackingLogStore
// (hashicorp/raft >= 1.8, Config.RestoreCommittedLogs).
var commitCases = []testCase[*lc]{
	{"commit-initial", "a new CommitTrackingLogStore's GetCommitIndex is 0", func(c *lc) {
		ct := c.commitTracking(c.newStore())
		c.checkCommit(ct, 0)
	}},
	{"commit-with-batch", "a staged index is recorded by the next StoreLogs: in the batch, or in the log before it", func(c *lc) {
		ct := c.commitTracking(c.newStore())
		c.stage(ct, 5)
		c.store(ct, mkLogs(1, 10, 1)...)
		c.checkCommit(ct, 5)
		c.stage(ct, 9)
		c.store(ct, mkLogs(11, 20, 2)...)
		c.checkCommit(ct, 9)
	}},
	{"commit-stage-alone", "StageCommitIndex alone records nothing: GetCommitIndex moves only with a StoreLogs (and the staged index is not persisted on its own)", func(c *lc) {
		ct := c.commitTracking(c.newStore())
		c.store(ct, mkLogs(1, 10, 1)...)
		c.checkCommit(ct, 0)
		c.stage(ct, 5)
		c.checkCommit(ct, 0)
		if c.f.Persistent {
			ct = c.commitTracking(c.reopen(ct))
			c.checkCommit(ct, 0)
		}
	}},
	{"commit-not-above-last", "GetCommitIndex never exceeds LastIndex: not when a staged index is beyond the batch, nor after suffix deletes", func(c *lc) {
		ct := c.commitTracking(c.newStore())
		c.stage(ct, 100)
		c.store(ct, mkLogs(1, 10, 1)...)
		if ci := c.commitIndex(ct); ci > 10 {
			c.Fatalf("GetCommitIndex = %d with LastIndex 10", ci)
		}
		c.stage(ct, 10)
		c.store(ct, mkLog(11, 1))
		c.deleteRange(ct, 6, 11)
		if ci := c.commitIndex(ct); ci > 5 {
			c.Fatalf("GetCommitIndex = %d after deleting down to LastIndex 5", ci)
		}
		c.deleteRange(ct, 1, 5)
		c.checkCommit(ct, 0)
	}},
	{"commit-reopen", "the recorded commit index survives Close and Open", func(c *lc) {
		ct := c.commitTracking(c.newStore())
		c.needPersistent()
		c.stage(ct, 7)
		c.store(ct, mkLogs(1, 10, 1)...)
		ct = c.commitTracking(c.reopen(ct))
		c.checkCommit(ct, 7)
	}},
	{"commit-crash", "after StoreLogs returns, a kill keeps the commit index recorded with it", func(c *lc) {
		ct := c.commitTracking(c.newStore())
		c.needPersistent()
		c.store(ct, mkLogs(1, 10, 1)...)
		c.stage(ct, 8)
		c.store(ct, mkLog(11, 1))
		k := c.commitTracking(c.crash(ct))
		c.checkCommit(k, 8)
	}},
}
