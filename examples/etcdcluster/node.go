package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// tick is the raft clock: elections after 10 ticks, heartbeats every tick.
const tick = 10 * time.Millisecond

// node is one cluster member: a raft.Node, its store, the key-value state
// machine, and the Ready loop between them (raftexample's shape).
type node struct {
	id    uint64
	store store
	raft  raft.Node
	kv    *kv
	net   *network

	opts  nodeOptions
	snapc chan uint64   // snapshot requests (entries to keep), served by the Ready loop
	stopc chan struct{} // closed by stop
	wg    sync.WaitGroup

	mu        sync.Mutex
	applied   uint64
	snapIndex uint64
	confState *pb.ConfState
	waiters   map[uint64]chan struct{} // proposal id -> closed when applied here
	nextID    uint64
	err       error // the Ready loop's failure, if any
}

// nodeOptions are the settings every node of a cluster shares.
type nodeOptions struct {
	backend string      // backendRaftlog or backendEtcdWAL
	logger  raft.Logger // raft's log
	// snapCount > 0: snapshot after this many applied entries, keeping
	// catchUp entries for slow followers (raftexample: 10000 and 10000).
	snapCount, catchUp uint64
}

// startNode opens the node's store in dir and starts raft on it: a new
// node when the store is empty (with peers as the initial configuration),
// a restarted one otherwise.
func startNode(id uint64, dir string, net *network, peers []raft.Peer, opts nodeOptions) (*node, error) {
	st, err := openStore(opts.backend, dir)
	if err != nil {
		return nil, err
	}
	n := &node{id: id, store: st, kv: newKV(), net: net, opts: opts, snapc: make(chan uint64), stopc: make(chan struct{}),
		waiters: map[uint64]chan struct{}{}, nextID: id << 48}
	hs, _, err := st.InitialState()
	if err == nil {
		err = n.restoreSnapshot()
	}
	last, _ := st.LastIndex()
	if err != nil {
		return nil, errors.Join(err, st.Close())
	}
	cfg := &raft.Config{
		ID:              id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         st,
		Applied:         n.applied,
		MaxSizePerMsg:   1 << 20, // raftexample's limits
		MaxInflightMsgs: 256,
		Logger:          opts.logger,
	}
	if raft.IsEmptyHardState(hs) && last == 0 && n.applied == 0 {
		n.raft = raft.StartNode(cfg, peers)
	} else {
		n.raft = raft.RestartNode(cfg)
	}
	inbox := net.join(id)
	n.wg.Add(2)
	go n.receive(inbox)
	go n.run()
	return n, nil
}

// restoreSnapshot loads the store's snapshot into the state machine.
func (n *node) restoreSnapshot() error {
	sn, err := n.store.Snapshot()
	if err != nil {
		return err
	}
	if err := n.kv.restore(sn.GetData()); err != nil {
		return fmt.Errorf("node %d: snapshot %d: %w", n.id, sn.GetMetadata().GetIndex(), err)
	}
	n.mu.Lock()
	n.applied, n.snapIndex = sn.GetMetadata().GetIndex(), sn.GetMetadata().GetIndex()
	n.confState = sn.GetMetadata().GetConfState()
	n.mu.Unlock()
	return nil
}

func (n *node) receive(inbox <-chan []byte) {
	defer n.wg.Done()
	for {
		select {
		case b := <-inbox:
			if m, err := decode(b); err == nil {
				_ = n.raft.Step(context.Background(), m) // fails only once stopped
			}
		case <-n.stopc:
			return
		}
	}
}

// run is the Ready loop.
func (n *node) run() {
	defer n.wg.Done()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		var err error
		select {
		case <-ticker.C:
			n.raft.Tick()
		case rd := <-n.raft.Ready():
			if err = n.handle(rd); err == nil {
				n.raft.Advance()
			}
		case keep := <-n.snapc:
			err = n.snapshot(keep)
		case <-n.stopc:
			return
		}
		if err != nil {
			n.mu.Lock()
			n.err = err
			n.mu.Unlock()
			return
		}
	}
}

// handle persists a Ready, sends its messages and applies its committed
// entries, in the order raft's documentation asks for.
func (n *node) handle(rd raft.Ready) error {
	if err := n.store.Save(rd.HardState, rd.Entries, rd.Snapshot); err != nil {
		return fmt.Errorf("node %d: save: %w", n.id, err)
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := n.restoreSnapshot(); err != nil {
			return err
		}
	}
	n.net.send(rd.Messages)
	for _, e := range rd.CommittedEntries {
		if err := n.apply(e); err != nil {
			return fmt.Errorf("node %d: apply entry %d: %w", n.id, e.GetIndex(), err)
		}
	}
	if c := n.opts.snapCount; c > 0 && len(rd.CommittedEntries) > 0 {
		n.mu.Lock()
		due := n.applied-n.snapIndex >= c
		n.mu.Unlock()
		if due {
			return n.snapshot(n.opts.catchUp)
		}
	}
	return nil
}

func (n *node) apply(e *pb.Entry) error {
	var done chan struct{}
	switch e.GetType() {
	case pb.EntryNormal:
		if len(e.GetData()) == 0 {
			break // a new leader's empty entry
		}
		if len(e.GetData()) < 8 {
			return fmt.Errorf("short command")
		}
		if err := n.kv.apply(e.GetData()[8:]); err != nil {
			return err
		}
		id := binary.BigEndian.Uint64(e.GetData())
		n.mu.Lock()
		done = n.waiters[id]
		delete(n.waiters, id)
		n.mu.Unlock()
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			return err
		}
		cs := n.raft.ApplyConfChange(&cc)
		n.mu.Lock()
		n.confState = cs
		n.mu.Unlock()
	}
	n.mu.Lock()
	n.applied = e.GetIndex()
	n.mu.Unlock()
	if done != nil {
		close(done)
	}
	return nil
}

// snapshot records the state machine at the applied index and compacts
// the log, keeping the last keep entries for slow followers.
func (n *node) snapshot(keep uint64) error {
	n.mu.Lock()
	applied, cs, snapIndex := n.applied, n.confState, n.snapIndex
	n.mu.Unlock()
	if applied <= snapIndex {
		return nil
	}
	data, err := n.kv.snapshot()
	if err != nil {
		return err
	}
	compactTo := uint64(1)
	if applied > keep {
		compactTo = applied - keep
	}
	if first, _ := n.store.FirstIndex(); compactTo < first {
		compactTo = 0 // nothing to discard yet
	}
	if err := n.store.SnapshotAndCompact(applied, compactTo, cs, data); err != nil {
		return fmt.Errorf("node %d: snapshot at %d: %w", n.id, applied, err)
	}
	n.mu.Lock()
	n.snapIndex = applied
	n.mu.Unlock()
	return nil
}

// requestSnapshot asks the Ready loop for a snapshot keeping keep entries.
func (n *node) requestSnapshot(keep uint64) error {
	select {
	case n.snapc <- keep:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("node %d: snapshot request not taken", n.id)
	}
}

// propose submits key=value through this node and waits until it has
// applied it.
func (n *node) propose(ctx context.Context, key, value string) error {
	n.mu.Lock()
	n.nextID++
	id := n.nextID
	done := make(chan struct{})
	n.waiters[id] = done
	n.mu.Unlock()
	cmd := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(key)+1+len(value)), id)
	cmd = append(cmd, command(key, value)...)
	err := n.raft.Propose(ctx, cmd)
	if err == nil {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	n.mu.Lock()
	delete(n.waiters, id)
	n.mu.Unlock()
	return err
}

func (n *node) appliedIndex() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.applied
}

func (n *node) failure() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

func (n *node) isLeader() bool { return n.raft.Status().RaftState == raft.StateLeader }

// stop disconnects the node, stops raft and closes the store.
func (n *node) stop() error {
	n.net.leave(n.id)
	close(n.stopc)
	n.wg.Wait()
	n.raft.Stop()
	return errors.Join(n.failure(), n.store.Close())
}
