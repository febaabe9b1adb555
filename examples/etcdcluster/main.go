// Command etcdcluster runs a 3-node etcd raft (go.etcd.io/raft/v3) cluster
// in one process, in the spirit of etcd's raftexample: each node has a
// raft.Node, a Ready loop, a key-value state machine and, by default, one
// etcdraft.Storage (mmaplog) as its whole durable state. The nodes talk
// over an in-process network that encodes every message as a wire would.
//
// It writes keys through the leader, reads them on every node, stops a
// follower, writes more, snapshots the leader (compacting its log past
// the follower), restarts the follower from its directory and reads
// every key back on it once it has caught up.
//
//	go run ./examples/etcdcluster [-dir DIR] [-keys N] [-backend raftlog|etcdwal]
//
// With -dir the data stays in DIR and a second run restarts from it.
// -backend etcdwal runs the same nodes on raft.MemoryStorage plus etcd's
// wal and snap packages, as raftexample does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/raft/v3"
)

func main() {
	dir := flag.String("dir", "", "data directory (default: a temporary directory, removed at exit)")
	keys := flag.Int("keys", 200, "keys to write in each phase")
	backend := flag.String("backend", backendRaftlog, "storage: raftlog (etcdraft.Storage) or etcdwal (MemoryStorage + etcd wal)")
	flag.Parse()
	var err error
	if *dir != "" {
		err = os.MkdirAll(*dir, 0o755)
	} else if *dir, err = os.MkdirTemp("", "raftlog-etcdcluster-"); err == nil {
		defer func() { _ = os.RemoveAll(*dir) }()
	}
	if err == nil {
		err = run(*dir, *backend, *keys, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdcluster:", err)
		defer os.Exit(1) // after the deferred RemoveAll
	}
}

// timeout bounds every wait: elections, proposals, catching up.
const timeout = 30 * time.Second

// cluster is three nodes on one network.
type cluster struct {
	dir   string
	opts  nodeOptions
	net   *network
	nodes []*node
}

var peers = []raft.Peer{{ID: 1}, {ID: 2}, {ID: 3}}

func (c *cluster) nodeDir(id uint64) string { return filepath.Join(c.dir, fmt.Sprintf("node%d", id)) }

func (c *cluster) start(id uint64) error {
	n, err := startNode(id, c.nodeDir(id), c.net, peers, c.opts)
	if err != nil {
		return fmt.Errorf("start node %d: %w", id, err)
	}
	c.nodes[id-1] = n
	return nil
}

func (c *cluster) stopAll() error {
	var errs []error
	for i, n := range c.nodes {
		if n != nil {
			errs = append(errs, n.stop())
			c.nodes[i] = nil
		}
	}
	return errors.Join(errs...)
}

// startCluster starts (or restarts) the three nodes in dir.
func startCluster(dir string, opts nodeOptions) (*cluster, error) {
	c := &cluster{dir: dir, opts: opts, net: newNetwork(), nodes: make([]*node, 3)}
	for id := uint64(1); id <= 3; id++ {
		if err := c.start(id); err != nil {
			return nil, errors.Join(err, c.stopAll())
		}
	}
	return c, nil
}

// leader waits for a node to lead.
func (c *cluster) leader() (*node, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, n := range c.nodes {
			if n != nil && n.isLeader() {
				return n, nil
			}
		}
		time.Sleep(tick)
	}
	return nil, errors.New("no leader elected")
}

// waitApplied waits until n has applied idx.
func waitApplied(n *node, idx uint64) error {
	deadline := time.Now().Add(timeout)
	for n.appliedIndex() < idx {
		if err := n.failure(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %d applied %d, not %d", n.id, n.appliedIndex(), idx)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// write proposes keys prefix-0000... through n, 16 at a time, and waits
// for each to be applied on n.
func write(n *node, prefix string, keys int) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errc := make(chan error, keys)
	sem := make(chan struct{}, 16)
	for i := range keys {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errc <- n.propose(ctx, fmt.Sprintf("%s-%04d", prefix, i), fmt.Sprintf("%s-value-%d", prefix, i))
		}()
	}
	var errs []error
	for range keys {
		errs = append(errs, <-errc)
	}
	return errors.Join(errs...)
}

// readBack checks that n holds every key write wrote with prefix.
func readBack(n *node, prefix string, keys int) error {
	for i := range keys {
		k := fmt.Sprintf("%s-%04d", prefix, i)
		if v, ok := n.kv.get(k); !ok || v != fmt.Sprintf("%s-value-%d", prefix, i) {
			return fmt.Errorf("node %d: %s = %q (present %v)", n.id, k, v, ok)
		}
	}
	return nil
}

// run is the whole example; out receives its report.
func run(dir, backend string, keys int, out io.Writer) (err error) {
	logFile, err := os.OpenFile(filepath.Join(dir, "raft.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	c, err := startCluster(dir, nodeOptions{backend: backend, logger: &raft.DefaultLogger{Logger: log.New(logFile, "", log.LstdFlags)}})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.stopAll()) }()
	fmt.Fprintf(out, "3 nodes on %s storage in %s\n", backend, dir)

	leader, err := c.leader()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "leader: node%d\n", leader.id)
	phase := fmt.Sprintf("run%d", time.Now().UnixNano())
	start := time.Now()
	if err := write(leader, phase+"-a", keys); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %d keys in %v\n", keys, time.Since(start).Round(time.Millisecond))
	for _, n := range c.nodes {
		if err := waitApplied(n, leader.appliedIndex()); err != nil {
			return err
		}
		if err := readBack(n, phase+"-a", keys); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "every node holds them (%d keys)\n", leader.kv.len())

	// Stop a follower, write without it, compact the leader past it.
	follower := c.nodes[leader.id%3]
	stoppedAt := follower.appliedIndex()
	if err := follower.stop(); err != nil {
		return err
	}
	c.nodes[follower.id-1] = nil
	fmt.Fprintf(out, "stopped follower node%d at applied index %d\n", follower.id, stoppedAt)
	if err := write(leader, phase+"-b", keys); err != nil {
		return err
	}
	if err := leader.requestSnapshot(10); err != nil {
		return err
	}
	first, _ := leader.store.FirstIndex()
	for first <= stoppedAt+1 {
		if err := leader.failure(); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
		first, _ = leader.store.FirstIndex()
	}
	last, _ := leader.store.LastIndex()
	fmt.Fprintf(out, "wrote %d more keys; node%d snapshotted and compacted its log to [%d, %d]\n", keys, leader.id, first, last)

	// Restart the follower from its directory: it needs a snapshot.
	start = time.Now()
	if err := c.start(follower.id); err != nil {
		return err
	}
	restarted := c.nodes[follower.id-1]
	if err := waitApplied(restarted, leader.appliedIndex()); err != nil {
		return err
	}
	for _, p := range []string{phase + "-a", phase + "-b"} {
		if err := readBack(restarted, p, keys); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "restarted node%d: caught up in %v, read back all %d keys\n", follower.id, time.Since(start).Round(time.Millisecond), 2*keys)

	if err := write(leader, phase+"-c", 10); err != nil {
		return err
	}
	for _, n := range c.nodes {
		if err := waitApplied(n, leader.appliedIndex()); err != nil {
			return err
		}
		first, _ := n.store.FirstIndex()
		last, _ := n.store.LastIndex()
		fmt.Fprintf(out, "  node%d: %d keys, applied %d, log [%d, %d]\n", n.id, n.kv.len(), n.appliedIndex(), first, last)
	}
	fmt.Fprintln(out, "ok")
	return nil
}
