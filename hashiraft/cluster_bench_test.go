package hashiraft_test

import (
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftlog/raftlog/mmaplog"
)

// benchFSM applies nothing: the benchmark measures replication and storage.
type benchFSM struct{}

func (benchFSM) Apply(*raft.Log) any                 { return nil }
func (benchFSM) Snapshot() (raft.FSMSnapshot, error) { return benchSnapshot{}, nil }
func (benchFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type benchSnapshot struct{}

func (benchSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (benchSnapshot) Release()                             {}

// kindZeroFilled is hashiraft.Store with mmaplog.Options.ZeroFill.
var kindZeroFilled = storeKind{"raftlog-zerofill", kindRaftlog(mmaplog.Options{ZeroFill: true}).open}

// benchRaftConfig is hashicorp/raft's default configuration with faster
// elections, so that setup is quick; the replication path is the default.
func benchRaftConfig() *raft.Config {
	conf := raft.DefaultConfig()
	conf.HeartbeatTimeout = 500 * time.Millisecond
	conf.ElectionTimeout = 500 * time.Millisecond
	conf.LeaderLeaseTimeout = 250 * time.Millisecond
	return conf
}

// BenchmarkClusterApply measures the apply throughput of a 3-node cluster
// on loopback TCP with each node's logs and stable store in Store (raftlog),
// raft-wal or raft-boltdb: inflight Apply calls are kept outstanding on the
// leader, each with a size-byte command. Every store syncs each append, as
// raft requires. It reports ops/s (applies committed per second) and
// entries/store, the entries per StoreLogs call on the leader. The inmem
// rows use hashicorp/raft's InmemStore, no disk at all: the ceiling the
// engine, its transport and the CPUs leave to a store. On Linux it also
// reports what the three nodes asked of the disk under them, per apply:
// cache flushes (flushes/op), KiB written (disk-KiB/op), and the share of
// the run with a request in flight (disk-busy).
//
//	go test -run '^$' -bench BenchmarkClusterApply -benchtime 5s ./hashiraft/
func BenchmarkClusterApply(b *testing.B) {
	kinds := []storeKind{kindRaftlog(mmaplog.Options{}), kindZeroFilled, kindRaftWAL, kindBolt, kindInmem}
	for _, size := range []int{128, 4096} {
		for _, inflight := range []int{1, 64} {
			for _, kind := range kinds {
				name := fmt.Sprintf("store=%s/size=%d/inflight=%d", kind.name, size, inflight)
				b.Run(name, func(b *testing.B) { benchClusterApply(b, kind, size, inflight) })
			}
		}
	}
}

func benchClusterApply(b *testing.B, kind storeKind, size, inflight int) {
	b.Helper()
	c := newClusterFSM(b, 3, countingKind(kind), benchRaftConfig, func() raft.FSM { return benchFSM{} })
	leader := c.nodes[c.leader()]
	r := leader.raft
	cmd := make([]byte, size)
	// Warm up: connections, first segment files, leader's no-op committed.
	if err := r.Barrier(10 * time.Second).Error(); err != nil {
		b.Fatal(err)
	}
	for range 200 {
		if err := r.Apply(cmd, 10*time.Second).Error(); err != nil {
			b.Fatal(err)
		}
	}

	ring := make([]raft.ApplyFuture, inflight)
	n := 0
	counts := leader.store.(*countedStore)
	calls0, entries0 := counts.calls.Load(), counts.entries.Load()
	busy0 := make([]int64, len(c.nodes))
	for k, nd := range c.nodes {
		busy0[k] = nd.store.(*countedStore).busy.Load()
	}
	disk0, diskOK := readDiskCounters(leader.dir)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		slot := n % inflight
		if f := ring[slot]; f != nil {
			if err := f.Error(); err != nil {
				b.Fatal(err)
			}
		}
		ring[slot] = r.Apply(cmd, 10*time.Second)
		n++
	}
	for _, f := range ring {
		if f != nil {
			if err := f.Error(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	// What the three nodes together asked of the one disk under them per
	// committed apply (cache flushes, KiB written: the entry three times,
	// plus metadata and any zero-fill), and the share of the run the disk
	// had a request in flight.
	if disk1, ok := readDiskCounters(leader.dir); ok && diskOK {
		b.ReportMetric(float64(disk1.flushes-disk0.flushes)/float64(b.N), "flushes/op")
		b.ReportMetric(float64(disk1.sectors-disk0.sectors)/2/float64(b.N), "disk-KiB/op")
		b.ReportMetric(float64(disk1.busyMs-disk0.busyMs)/float64(b.Elapsed().Milliseconds()), "disk-busy")
	}
	// How many entries the leader hands its store per StoreLogs call: its
	// applyCh is unbuffered, so while a synced StoreLogs runs at most one
	// Apply waits, and the batches stay small however many are in flight.
	if calls := counts.calls.Load() - calls0; calls > 0 {
		b.ReportMetric(float64(counts.entries.Load()-entries0)/float64(calls), "entries/store")
	}
	// The share of the run each node spent inside StoreLogs: near 1 on
	// the leader, the cluster waits for the leader's store.
	var follower float64
	for k, nd := range c.nodes {
		share := float64(nd.store.(*countedStore).busy.Load()-busy0[k]) / float64(b.Elapsed())
		if nd == leader {
			b.ReportMetric(share, "leader-store-busy")
		} else {
			follower = max(follower, share)
		}
	}
	b.ReportMetric(follower, "follower-store-busy")
}

// countedStore counts a store's StoreLogs calls, the entries they hold and
// the nanoseconds spent in them.
type countedStore struct {
	logStore
	calls, entries, busy atomic.Int64
}

func (s *countedStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *countedStore) StoreLogs(logs []*raft.Log) error {
	start := time.Now()
	defer func() { s.busy.Add(int64(time.Since(start))) }()
	s.calls.Add(1)
	s.entries.Add(int64(len(logs)))
	return s.logStore.StoreLogs(logs)
}

// countingKind opens kind's stores wrapped in a countedStore.
func countingKind(kind storeKind) storeKind {
	return storeKind{kind.name, func(dir string) (logStore, error) {
		st, err := kind.open(dir)
		if err != nil {
			return nil, err
		}
		return &countedStore{logStore: st}, nil
	}}
}

// BenchmarkStoreLogs measures one store's StoreLogs (append and sync) with
// batch entries of size bytes per call, the per-node cost under
// BenchmarkClusterApply. It reports entries/s.
//
//	go test -run '^$' -bench BenchmarkStoreLogs ./hashiraft/
func BenchmarkStoreLogs(b *testing.B) {
	kinds := []storeKind{kindRaftlog(mmaplog.Options{}), kindZeroFilled, kindRaftWAL, kindBolt}
	for _, size := range []int{128, 4096} {
		for _, batch := range []int{1, 64} {
			for _, kind := range kinds {
				name := fmt.Sprintf("store=%s/size=%d/batch=%d", kind.name, size, batch)
				b.Run(name, func(b *testing.B) { benchStoreLogs(b, kind, size, batch) })
			}
		}
	}
}

func benchStoreLogs(b *testing.B, kind storeKind, size, batch int) {
	b.Helper()
	s, err := kind.open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	logs := make([]*raft.Log, batch)
	for i := range logs {
		logs[i] = &raft.Log{Term: 1, Type: raft.LogCommand, Data: make([]byte, size), AppendedAt: time.Now()}
	}
	next := uint64(1)
	b.SetBytes(int64(size * batch))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range logs {
			l.Index = next
			next++
		}
		if err := s.StoreLogs(logs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
}
