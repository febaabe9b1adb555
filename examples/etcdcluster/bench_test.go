package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkCluster measures the throughput of a 3-node cluster committing
// proposals of 128 B and 4 KiB through its leader, on etcdraft.Storage
// (store=raftlog) and on raftexample's raft.MemoryStorage + etcd wal
// (store=etcdwal). Both run the same nodes, Ready loop, transport and
// state machine, with raftexample's snapshot policy (every 10000 entries,
// keeping 10000). 256 proposers wait for their own entry to be applied on
// the leader; raft batches what they propose meanwhile into each Ready.
// An op is one entry committed and applied.
//
//	go test -run '^$' -bench BenchmarkCluster -benchtime 3s ./examples/etcdcluster
func BenchmarkCluster(b *testing.B) {
	for _, size := range []int{128, 4096} {
		for _, backend := range []string{backendRaftlog, backendEtcdWAL} {
			b.Run(fmt.Sprintf("size=%d/store=%s", size, backend), func(b *testing.B) {
				benchCluster(b, backend, size)
			})
		}
	}
}

func benchCluster(b *testing.B, backend string, size int) {
	b.Helper()
	c, err := startCluster(b.TempDir(), nodeOptions{backend: backend, logger: newDiscardLogger(), snapCount: 10000, catchUp: 10000})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := c.stopAll(); err != nil {
			b.Error(err)
		}
	}()
	leader, err := c.leader()
	if err != nil {
		b.Fatal(err)
	}
	// An entry: an 8-byte proposal id, a 4-byte key, a zero byte, the value.
	value := strings.Repeat("v", size-8-4-1)
	ctx := context.Background()
	b.SetBytes(int64(size))
	b.SetParallelism(128) // 256 proposers on 2 CPUs
	var seq atomicCounter
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := fmt.Sprintf("k%03d", seq.next()%1000) // a bounded state machine
			if err := leader.propose(ctx, key, value); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	for _, n := range c.nodes {
		if err := n.failure(); err != nil {
			b.Fatal(err)
		}
	}
}
