package hashiraft_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftlog/raftlog/hashiraft"
	"github.com/raftlog/raftlog/mmaplog"
)

// The nodes of a real cluster (TCP transport: followers store the logs
// the RPCs decoded, the leader its own) have equal digests over the range
// they all hold, and sound sealed segments.
func TestClusterDigestsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test skipped in -short mode")
	}
	conf := func() *raft.Config { // no compaction: every node keeps every entry
		c := testRaftConfig()
		c.SnapshotThreshold, c.SnapshotInterval = 1<<30, time.Hour
		return c
	}
	c := newCluster(t, 3, testKind, conf)
	want := map[string]string{}
	c.apply(kvCommands("alpha", 400, want), 32)
	c.waitConverged(want)
	var lo, hi uint64 = 0, ^uint64(0)
	stores := make([]*hashiraft.Store, len(c.nodes))
	for i, nd := range c.nodes {
		stores[i] = nd.store.(*hashiraft.Store)
		f, _ := stores[i].FirstIndex()
		l, _ := stores[i].LastIndex()
		lo, hi = max(lo, f), min(hi, l)
	}
	if hi < lo+100 {
		t.Fatalf("the nodes share only [%d, %d]", lo, hi)
	}
	var ref mmaplog.Digest
	for i, s := range stores {
		d, err := s.Digest(lo, hi)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			ref = d
		} else if d != ref {
			t.Fatalf("%s: digest %v; %s: %v", c.nodes[i].id, d, c.nodes[0].id, ref)
		}
		rep, err := s.Verify(context.Background(), mmaplog.VerifyOptions{Rate: -1})
		if err != nil || len(rep.Problems) != 0 {
			t.Fatalf("%s: Verify: %v, %v", c.nodes[i].id, err, rep.Problems)
		}
	}
	t.Logf("entries [%d, %d]: %v on every node", lo, hi, ref)
}

// Store.Digest covers what raft replicates, decoded: a follower's copy of
// the leader's logs with AppendedAt in another zone (UTC) and an empty
// slice for a nil one digests like the leader's, though the stored bytes
// (and so the raw mmaplog digests) differ; a changed data byte does not.
func TestStoreDigestIgnoresTransportEncoding(t *testing.T) {
	leader, leaderDir := openStore(t, "")
	follower, followerDir := openStore(t, "")
	other, _ := openStore(t, "")
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	for i := uint64(1); i <= 50; i++ {
		l := &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: fmt.Appendf(nil, "cmd %d", i), AppendedAt: at.Add(time.Duration(i) * time.Millisecond)}
		if i == 10 {
			l.Type, l.Data = raft.LogNoop, nil
		}
		f := *l
		f.AppendedAt = l.AppendedAt.UTC()
		if f.Data == nil {
			f.Data = []byte{}
		}
		o := f
		if i == 20 {
			o.Data = []byte("cmd 2O")
		}
		for s, lg := range map[*hashiraft.Store]*raft.Log{leader: l, follower: &f, other: &o} {
			if err := s.StoreLog(lg); err != nil {
				t.Fatal(err)
			}
		}
	}
	dl, err := leader.Digest(1, 50)
	if err != nil {
		t.Fatal(err)
	}
	if df, err := follower.Digest(1, 50); err != nil || df != dl {
		t.Fatalf("follower %v (%v), leader %v", df, err, dl)
	}
	if do, err := other.Digest(1, 50); err != nil || do == dl {
		t.Fatalf("a changed log: %v (%v), leader %v", do, err, dl)
	}
	if _, err := leader.Digest(5, 3); !errors.Is(err, mmaplog.ErrNotFound) {
		t.Fatalf("Digest(5, 3): %v", err)
	}
	if err := leader.DeleteRange(1, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Digest(1, 50); !errors.Is(err, mmaplog.ErrNotFound) {
		t.Fatalf("Digest over deleted logs: %v", err)
	}
	d1, err1 := leader.Digest(11, 50)
	d2, err2 := follower.Digest(11, 50)
	if err1 != nil || err2 != nil || d1 != d2 || d1.Entries != 40 {
		t.Fatalf("Digest(11, 50): %v (%v), %v (%v)", d1, err1, d2, err2)
	}
	// The stored bytes differ: the raw digests do.
	raw := func(s *hashiraft.Store, dir string) mmaplog.Digest {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		l, err := mmaplog.Open(dir, testOptions)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		d, err := l.Digest(11, 50)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if a, b := raw(leader, leaderDir), raw(follower, followerDir); a == b {
		t.Fatalf("raw digests of differently encoded logs are equal (%v): the test shows nothing", a)
	}
}
