package main

import (
	"errors"
	"io"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/raftlog/raftlog/hashiraft"
	"github.com/raftlog/raftlog/internal/kvfsm"
	"github.com/raftlog/raftlog/internal/raftnet"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/raftlogprom"
)

// node is one raft server: its Store (logs and stable state), snapshot
// store, TCP transport and state machine.
type node struct {
	id  raft.ServerID
	dir string

	raft  *raft.Raft
	fsm   *kvfsm.FSM
	store *hashiraft.Store
	trans *raft.NetworkTransport

	// reg, when set, receives the Store's metrics (labelled node=id)
	// while the node runs.
	reg     *prometheus.Registry
	metrics *raftlogprom.Collector
}

// raftConfig is hashicorp/raft's default with timeouts suited to loopback
// and frequent snapshots, so that a restarted node may catch up from one.
func raftConfig(id raft.ServerID, logOut io.Writer) *raft.Config {
	conf := raft.DefaultConfig()
	conf.LocalID = id
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: string(id), Output: logOut, Level: hclog.Info})
	conf.HeartbeatTimeout = 500 * time.Millisecond
	conf.ElectionTimeout = 500 * time.Millisecond
	conf.LeaderLeaseTimeout = 250 * time.Millisecond
	conf.SnapshotInterval = time.Second
	conf.SnapshotThreshold = 64
	conf.TrailingLogs = 64
	return conf
}

// start opens the node's storage in its directory and starts raft.
func (n *node) start(book *raftnet.Book, logOut io.Writer) error {
	store, err := hashiraft.Open(filepath.Join(n.dir, "log"), mmaplog.Options{SegmentSize: 1 << 20})
	if err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStore(n.dir, 2, logOut)
	if err != nil {
		return errors.Join(err, store.Close())
	}
	trans, err := book.Listen(n.id, hclog.New(&hclog.LoggerOptions{Name: "net", Output: logOut}))
	if err != nil {
		return errors.Join(err, store.Close())
	}
	fsm := kvfsm.New()
	r, err := raft.NewRaft(raftConfig(n.id, logOut), fsm, store, store, snaps, trans)
	if err != nil {
		return errors.Join(err, trans.Close(), store.Close())
	}
	n.raft, n.fsm, n.store, n.trans = r, fsm, store, trans
	if n.reg != nil {
		n.metrics = raftlogprom.New(store, prometheus.Labels{"node": string(n.id)})
		if err := n.reg.Register(n.metrics); err != nil {
			return errors.Join(err, n.stop())
		}
	}
	return nil
}

// stop shuts raft down and closes the transport and the Store.
func (n *node) stop() error {
	if n.raft == nil {
		return nil
	}
	if n.metrics != nil {
		n.reg.Unregister(n.metrics)
		n.metrics = nil
	}
	err := errors.Join(n.raft.Shutdown().Error(), n.trans.Close(), n.store.Close())
	n.raft, n.store, n.trans = nil, nil, nil
	return err
}

// logRange returns the node's first and last log index.
func (n *node) logRange() (first, last uint64) {
	first, _ = n.store.FirstIndex()
	last, _ = n.store.LastIndex()
	return first, last
}
