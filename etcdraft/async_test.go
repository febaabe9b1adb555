package etcdraft_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlog/raftlog/etcdraft"
	"github.com/raftlog/raftlog/mmaplog"
)

func TestStorageAppendDeliversInOrder(t *testing.T) {
	s, _ := openStorage(t)
	const n = 200
	var mu sync.Mutex
	var got []uint64
	done := make(chan struct{})
	for k := range uint64(n) {
		idx := k + 1
		m := &pb.Message{
			Type:    pb.MsgStorageAppend.Enum(),
			Entries: []*pb.Entry{{Index: new(idx), Term: new(uint64(1)), Data: []byte(fmt.Sprint(idx))}},
			Term:    new(uint64(1)), Vote: new(uint64(1)), Commit: new(k),
			Responses: []*pb.Message{{Type: pb.MsgStorageAppendResp.Enum(), Index: new(idx)}},
		}
		err := s.StorageAppend(m, func(resps []*pb.Message, err error) {
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range resps {
				got = append(got, r.GetIndex())
			}
			if len(got) == n {
				close(done)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	<-done
	for k, idx := range got {
		if idx != uint64(k+1) {
			t.Fatalf("response %d delivered for message %d: out of order (%v)", k+1, idx, got)
		}
	}
	if last, _ := s.LastIndex(); last != n {
		t.Errorf("LastIndex %d, want %d", last, n)
	}
	if err := s.StorageAppend(&pb.Message{Type: pb.MsgApp.Enum()}, nil); !errors.Is(err, etcdraft.ErrNotStorageAppend) {
		t.Errorf("StorageAppend(MsgApp) = %v, want ErrNotStorageAppend", err)
	}
}

func TestStorageAppendAfterClose(t *testing.T) {
	s, err := etcdraft.Open(t.TempDir(), testOptions)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	m := &pb.Message{Type: pb.MsgStorageAppend.Enum(), Entries: []*pb.Entry{{Index: new(uint64(1)), Term: new(uint64(1))}}}
	called := false
	if err := s.StorageAppend(m, func([]*pb.Message, error) { called = true }); !errors.Is(err, mmaplog.ErrClosed) {
		t.Errorf("StorageAppend after Close = %v, want ErrClosed", err)
	}
	if called {
		t.Error("deliver was called for a message that was not written")
	}
}

// asyncNode is a RawNode with Config.AsyncStorageWrites whose append thread
// is Storage.StorageAppend: responses come back on the flusher goroutine
// into inbox.
type asyncNode struct {
	rn      *raft.RawNode
	st      *etcdraft.Storage
	mu      sync.Mutex
	inbox   []*pb.Message
	applied []string
}

func (n *asyncNode) post(ms ...*pb.Message) {
	n.mu.Lock()
	n.inbox = append(n.inbox, ms...)
	n.mu.Unlock()
}

func (n *asyncNode) take() []*pb.Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	ms := n.inbox
	n.inbox = nil
	return ms
}

// TestAsyncCluster runs three RawNodes with AsyncStorageWrites on
// Storages, commits proposals, and checks that every node applied the same
// entries, and that after closing and reopening each Storage holds them
// durably with the commit index recorded.
func TestAsyncCluster(t *testing.T) {
	const proposals = 100
	dirs := make([]string, 3)
	nodes := make([]*asyncNode, 3)
	peers := []raft.Peer{{ID: 1}, {ID: 2}, {ID: 3}}
	for k := range nodes {
		dirs[k] = t.TempDir()
		st, err := etcdraft.Open(dirs[k], testOptions)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = st.Close() }()
		cfg := &raft.Config{ID: uint64(k + 1), ElectionTick: 10, HeartbeatTick: 1, Storage: st,
			MaxSizePerMsg: math.MaxUint64, MaxInflightMsgs: 256, AsyncStorageWrites: true, Logger: newDiscardLogger()}
		rn, err := raft.NewRawNode(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := rn.Bootstrap(peers); err != nil {
			t.Fatal(err)
		}
		nodes[k] = &asyncNode{rn: rn, st: st}
	}
	proposed := 0
	deadline := time.Now().Add(20 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("the cluster stalled: %d proposed, %d applications of %d", proposed, applied(nodes), 3*proposals)
		}
		if st := nodes[0].rn.Status(); st.RaftState == raft.StateFollower && st.Applied >= 3 {
			// The bootstrap configuration is applied: campaign.
			if err := nodes[0].rn.Campaign(); err != nil {
				t.Fatal(err)
			}
		}
		if nodes[0].rn.Status().RaftState == raft.StateLeader && proposed < proposals {
			if err := nodes[0].rn.Propose([]byte(fmt.Sprintf("p%d", proposed))); err != nil {
				t.Fatal(err)
			}
			proposed++
		}
		busy := false
		for k, n := range nodes {
			for _, m := range n.take() {
				busy = true
				if err := n.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
					t.Fatalf("node %d step %s: %v", k+1, m.GetType(), err)
				}
			}
			if !n.rn.HasReady() {
				continue
			}
			busy = true
			rd := n.rn.Ready()
			for _, m := range rd.Messages {
				switch m.GetTo() {
				case raft.LocalAppendThread:
					err := n.st.StorageAppend(m, func(resps []*pb.Message, err error) {
						if err != nil {
							t.Error(err)
							return
						}
						route(nodes, resps)
					})
					if err != nil {
						t.Fatal(err)
					}
				case raft.LocalApplyThread:
					for _, e := range m.GetEntries() {
						switch e.GetType() {
						case pb.EntryConfChange:
							var cc pb.ConfChange
							if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
								t.Fatal(err)
							}
							n.rn.ApplyConfChange(&cc)
						case pb.EntryNormal:
							if len(e.GetData()) > 0 {
								n.applied = append(n.applied, string(e.GetData()))
							}
						}
					}
					route(nodes, m.GetResponses())
				default:
					route(nodes, []*pb.Message{m})
				}
			}
		}
		if !busy {
			if proposed == proposals && applied(nodes) == 3*proposals {
				break
			}
			time.Sleep(50 * time.Microsecond) // responses come from the flushers
		}
	}
	for k, n := range nodes {
		for j, p := range n.applied {
			if p != fmt.Sprintf("p%d", j) {
				t.Fatalf("node %d applied %q as entry %d", k+1, p, j)
			}
		}
	}
	// Reopen each Storage: the entries and the commit index are there.
	for k, n := range nodes {
		last, _ := n.st.LastIndex()
		if err := n.st.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := etcdraft.Open(dirs[k], testOptions)
		if err != nil {
			t.Fatal(err)
		}
		hs, _, _ := st.InitialState()
		got, _ := st.LastIndex()
		if got != last || hs.GetCommit() < uint64(proposals) {
			t.Errorf("node %d reopened: last %d commit %d, want last %d, commit >= %d", k+1, got, hs.GetCommit(), last, proposals)
		}
		_ = st.Close()
	}
}

// route delivers messages to their nodes' inboxes (safe from any
// goroutine).
func route(nodes []*asyncNode, ms []*pb.Message) {
	for _, m := range ms {
		nodes[m.GetTo()-1].post(m)
	}
}

func applied(nodes []*asyncNode) int {
	n := 0
	for _, x := range nodes {
		n += len(x.applied)
	}
	return n
}

// discardLogger silences raft; a Fatal panics with its message instead
// of exiting the process.
type discardLogger struct{ *raft.DefaultLogger }

func newDiscardLogger() discardLogger {
	return discardLogger{&raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}}
}
func (discardLogger) Fatal(v ...any)            { panic(fmt.Sprint(v...)) }
func (discardLogger) Fatalf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }
