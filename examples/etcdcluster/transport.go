package main

import (
	"sync"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// network is an in-process transport between the nodes: every message is
// encoded and decoded as on a real wire (so no node shares memory with
// another) and dropped when its target is down or its inbox is full, as
// a network may; raft retries.
type network struct {
	mu      sync.RWMutex
	inboxes map[uint64]chan []byte
}

// inboxSize is how many messages a node may have queued.
const inboxSize = 4096

func newNetwork() *network { return &network{inboxes: map[uint64]chan []byte{}} }

// join connects node id and returns its inbox; leave disconnects it.
func (n *network) join(id uint64) <-chan []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := make(chan []byte, inboxSize)
	n.inboxes[id] = c
	return c
}

func (n *network) leave(id uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.inboxes, id)
}

// send delivers ms to their targets, or drops them.
func (n *network) send(ms []*pb.Message) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, m := range ms {
		c, ok := n.inboxes[m.GetTo()]
		if !ok {
			continue
		}
		b, err := proto.Marshal(m)
		if err != nil {
			continue // cannot happen for raft's messages; dropped like a bad packet
		}
		select {
		case c <- b:
		default:
		}
	}
}

// decode is the receiving end of send.
func decode(b []byte) (*pb.Message, error) {
	m := &pb.Message{}
	return m, proto.Unmarshal(b, m)
}
