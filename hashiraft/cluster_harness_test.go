package hashiraft_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"

	"github.com/raftlog/raftlog/hashiraft"
	"github.com/raftlog/raftlog/internal/kvfsm"
	"github.com/raftlog/raftlog/internal/raftnet"
	"github.com/raftlog/raftlog/mmaplog"
)

// logStore is what a raft node needs from its storage.
type logStore interface {
	raft.LogStore
	raft.StableStore
	io.Closer
}

// storeKind opens one kind of raft storage in a directory.
type storeKind struct {
	name string
	open func(dir string) (logStore, error)
}

// kindRaftlog opens a hashiraft.Store with opts.
func kindRaftlog(opts mmaplog.Options) storeKind {
	return storeKind{"raftlog", func(dir string) (logStore, error) {
		return hashiraft.Open(dir, opts)
	}}
}

var (
	kindRaftWAL = storeKind{"raftwal", func(dir string) (logStore, error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		return raftwal.Open(dir)
	}}
	// kindInmem is hashicorp/raft's InmemStore: no disk at all. It is the
	// ceiling BenchmarkClusterApply shows beside the stores (what the
	// engine, its transport and this machine's CPUs allow); a node using
	// it loses its log on restart, so tests that restart nodes must not.
	kindInmem = storeKind{"inmem", func(string) (logStore, error) {
		return inmemStore{raft.NewInmemStore()}, nil
	}}
	kindBolt = storeKind{"boltdb", func(dir string) (logStore, error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		return raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	}}
)

// inmemStore is raft.InmemStore with the Close the harness calls.
type inmemStore struct{ *raft.InmemStore }

func (inmemStore) Close() error { return nil }

// syncBuffer collects raft's log output; it is printed if the test fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 4<<20 {
		b.buf.Reset()
		b.buf.WriteString("[log truncated]\n")
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type node struct {
	id    raft.ServerID
	dir   string
	raft  *raft.Raft
	fsm   *kvfsm.FSM
	store logStore
	trans *raft.NetworkTransport
}

// cluster is a set of raft nodes on loopback TCP, each with its own store.
type cluster struct {
	tb     testing.TB
	kind   storeKind
	config func(id raft.ServerID) *raft.Config
	newFSM func() raft.FSM // nil: a kvFSM
	nodes  []*node
	book   *raftnet.Book
	logs   *syncBuffer
	logger hclog.Logger
}

// newCluster starts n nodes with kvFSMs and bootstraps them as one
// cluster. config returns the raft configuration of a node (LocalID and
// Logger are set).
func newCluster(tb testing.TB, n int, kind storeKind, config func() *raft.Config) *cluster {
	tb.Helper()
	return newClusterFSM(tb, n, kind, config, nil)
}

// newClusterFSM is newCluster with the FSM made by newFSM (nil: kvFSM).
func newClusterFSM(tb testing.TB, n int, kind storeKind, config func() *raft.Config, newFSM func() raft.FSM) *cluster {
	tb.Helper()
	c := &cluster{
		tb:     tb,
		kind:   kind,
		newFSM: newFSM,
		book:   raftnet.NewBook(),
		logs:   &syncBuffer{},
	}
	c.logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Output: c.logs, Level: hclog.Info})
	c.config = func(id raft.ServerID) *raft.Config {
		conf := config()
		conf.LocalID = id
		conf.Logger = c.logger.Named(string(id))
		return conf
	}
	root := tb.TempDir() // before the Cleanup below, which must run first
	tb.Cleanup(func() {
		if tb.Failed() {
			out := c.logs.String()
			if len(out) > 64<<10 {
				out = out[len(out)-64<<10:]
			}
			tb.Logf("raft log (tail):\n%s", out)
		}
		for i := range c.nodes {
			c.stop(i)
		}
	})
	var servers []raft.Server
	for i := range n {
		nd := &node{id: raft.ServerID(fmt.Sprintf("node%d", i)), dir: filepath.Join(root, fmt.Sprintf("node%d", i))}
		c.nodes = append(c.nodes, nd)
		c.start(i, false)
		servers = append(servers, raft.Server{ID: nd.id, Address: nd.trans.LocalAddr()})
	}
	if err := c.nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		tb.Fatalf("bootstrap: %v", err)
	}
	return c
}

// start opens node i's storage and starts raft on it.
func (c *cluster) start(i int, restart bool) {
	c.tb.Helper()
	nd := c.nodes[i]
	store, err := c.kind.open(filepath.Join(nd.dir, c.kind.name))
	if err != nil {
		c.tb.Fatalf("%s: open store: %v", nd.id, err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(nd.dir, 2, c.logger.Named("snap"))
	if err != nil {
		c.tb.Fatalf("%s: snapshot store: %v", nd.id, err)
	}
	trans, err := c.book.Listen(nd.id, c.logger.Named("net"))
	if err != nil {
		c.tb.Fatalf("%s: transport: %v", nd.id, err)
	}
	var fsm raft.FSM
	nd.fsm = nil
	if c.newFSM != nil {
		fsm = c.newFSM()
	} else {
		nd.fsm = kvfsm.New()
		fsm = nd.fsm
	}
	r, err := raft.NewRaft(c.config(nd.id), fsm, store, store, snaps, trans)
	if err != nil {
		c.tb.Fatalf("%s: NewRaft (restart %v): %v", nd.id, restart, err)
	}
	nd.raft, nd.store, nd.trans = r, store, trans
}

// stop shuts node i down and closes its storage. Stopping a stopped node
// is a no-op.
func (c *cluster) stop(i int) {
	c.tb.Helper()
	nd := c.nodes[i]
	if nd.raft == nil {
		return
	}
	if err := nd.raft.Shutdown().Error(); err != nil {
		c.tb.Errorf("%s: shutdown: %v", nd.id, err)
	}
	if err := nd.trans.Close(); err != nil {
		c.tb.Errorf("%s: close transport: %v", nd.id, err)
	}
	if err := nd.store.Close(); err != nil {
		c.tb.Errorf("%s: close store: %v", nd.id, err)
	}
	nd.raft, nd.store, nd.trans = nil, nil, nil
}

// waitFor polls cond every 10ms until it returns nil or timeout passes.
func (c *cluster) waitFor(what string, timeout time.Duration, cond func() error) {
	c.tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leader waits for a running node to be leader and returns its index.
func (c *cluster) leader() int {
	c.tb.Helper()
	leader := -1
	c.waitFor("a leader", 30*time.Second, func() error {
		for i, nd := range c.nodes {
			if nd.raft != nil && nd.raft.State() == raft.Leader {
				leader = i
				return nil
			}
		}
		return errors.New("no leader")
	})
	return leader
}

// apply commits every command, pipelining up to window at a time on the
// current leader and retrying on leader changes. Commands must be
// idempotent: a retried one may have committed already.
func (c *cluster) apply(cmds []string, window int) {
	c.tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for len(cmds) > 0 {
		if time.Now().After(deadline) {
			c.tb.Fatalf("could not apply %d commands: no stable leader", len(cmds))
		}
		r := c.nodes[c.leader()].raft
		var failed []string
		for start := 0; start < len(cmds); start += window {
			batch := cmds[start:min(start+window, len(cmds))]
			futures := make([]raft.ApplyFuture, len(batch))
			for j, cmd := range batch {
				futures[j] = r.Apply([]byte(cmd), 5*time.Second)
			}
			for j, f := range futures {
				if err := f.Error(); err != nil {
					failed = append(failed, batch[j])
				} else if resp := f.Response(); resp != nil {
					c.tb.Fatalf("apply %q: %v", batch[j], resp)
				}
			}
		}
		cmds = failed
		if len(failed) > 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// waitConverged waits until every running node's FSM equals want.
func (c *cluster) waitConverged(want map[string]string) {
	c.tb.Helper()
	c.waitFor("FSMs to converge", 30*time.Second, func() error {
		for _, nd := range c.nodes {
			if nd.raft == nil {
				continue
			}
			got := nd.fsm.State()
			if !maps.Equal(got, want) {
				return fmt.Errorf("%s has %d keys, want %d", nd.id, len(got), len(want))
			}
		}
		return nil
	})
}

// checkLogsAgree checks that the indexes every running node holds have the
// same term, type and data everywhere, and returns each node's first index.
func (c *cluster) checkLogsAgree() map[raft.ServerID]uint64 {
	c.tb.Helper()
	firsts := map[raft.ServerID]uint64{}
	var lo, hi uint64 = 0, ^uint64(0)
	for _, nd := range c.nodes {
		if nd.raft == nil {
			continue
		}
		f, err1 := nd.store.FirstIndex()
		l, err2 := nd.store.LastIndex()
		if err1 != nil || err2 != nil {
			c.tb.Fatalf("%s: FirstIndex/LastIndex: %v, %v", nd.id, err1, err2)
		}
		firsts[nd.id] = f
		lo, hi = max(lo, f), min(hi, l)
	}
	for idx := lo; idx <= hi && idx != 0; idx++ {
		var ref raft.Log
		for _, nd := range c.nodes {
			if nd.raft == nil {
				continue
			}
			var l raft.Log
			err := nd.store.GetLog(idx, &l)
			if err == raft.ErrLogNotFound { //nolint:errorlint // compacted meanwhile
				continue
			}
			if err != nil {
				c.tb.Fatalf("%s: GetLog(%d): %v", nd.id, idx, err)
			}
			if ref.Index == 0 {
				ref = l
				continue
			}
			if l.Index != ref.Index || l.Term != ref.Term || l.Type != ref.Type || !bytes.Equal(l.Data, ref.Data) {
				c.tb.Fatalf("index %d differs between nodes: %+v vs %+v", idx, l, ref)
			}
		}
	}
	return firsts
}

// kvCommands returns n commands setting distinct keys prefixed with phase.
func kvCommands(phase string, n int, want map[string]string) []string {
	cmds := make([]string, n)
	for i := range n {
		k, v := fmt.Sprintf("%s-%04d", phase, i), strings.Repeat(phase[:1], 1+i%400)
		cmds[i] = k + "=" + v
		want[k] = v
	}
	return cmds
}
