// Command cluster runs a 3-node hashicorp/raft cluster on loopback TCP with
// a small key-value state machine, each node keeping its log and stable
// state in a hashiraft.Store. It writes keys, reads them back on every
// node, stops a follower, writes more, restarts the follower and shows it
// catching up.
//
//	go run ./examples/cluster [-dir DIR] [-keys N] [-metrics ADDR]
//
// With -dir the data stays in DIR (raft's own log is in DIR/raft.log), and
// running again with the same -dir starts from the stored state. With
// -metrics the nodes' raftlog metrics (package raftlogprom, labelled
// node="node1" ...) are served at http://ADDR/metrics, and after its last
// step the example keeps the cluster up and serving until interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/raftlog/raftlog/internal/raftnet"
)

func main() {
	dir := flag.String("dir", "", "data directory (default: a temporary directory, removed at exit)")
	keys := flag.Int("keys", 200, "keys to write in each phase")
	metricsAddr := flag.String("metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9100) and keep running until interrupted")
	flag.Parse()
	var err error
	if *dir != "" {
		err = os.MkdirAll(*dir, 0o700)
	} else if *dir, err = os.MkdirTemp("", "raftlog-cluster-"); err == nil {
		defer func() { _ = os.RemoveAll(*dir) }()
	}
	var m *metrics
	if err == nil && *metricsAddr != "" {
		m, err = serveMetrics(*metricsAddr, os.Stdout)
		if m != nil {
			defer m.close()
		}
	}
	if err == nil {
		err = run(*dir, *keys, os.Stdout, m)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		defer os.Exit(1) // after the deferred RemoveAll
	}
}

// timeout bounds every wait: elections, applies, catching up.
const timeout = 30 * time.Second

// metrics is the example's /metrics endpoint.
type metrics struct {
	reg *prometheus.Registry
	srv *http.Server
	url string
	// hold runs when the example is done, with every node up; nil: return.
	hold func()
}

// serveMetrics starts serving a registry, holding the Go runtime's and the
// process's metrics plus the nodes' (registered as they start), at addr.
func serveMetrics(addr string, out io.Writer) (*metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	m := &metrics{reg: reg, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = m.srv.Serve(ln) }()
	url := fmt.Sprintf("http://%s/metrics", ln.Addr())
	m.url = url
	fmt.Fprintf(out, "metrics at %s\n", url)
	m.hold = func() {
		fmt.Fprintf(out, "cluster up, metrics at %s; interrupt (Ctrl-C) to stop\n", url)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
	}
	return m, nil
}

func (m *metrics) close() { _ = m.srv.Close() }

// run is the whole example; out receives its report. m (may be nil)
// receives the nodes' metrics.
func run(dir string, keys int, out io.Writer, m *metrics) (err error) {
	logFile, err := os.OpenFile(filepath.Join(dir, "raft.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()

	book := raftnet.NewBook()
	nodes := make([]*node, 3)
	var servers []raft.Server
	for i := range nodes {
		n := &node{id: raft.ServerID(fmt.Sprintf("node%d", i+1)), dir: filepath.Join(dir, fmt.Sprintf("node%d", i+1))}
		if m != nil {
			n.reg = m.reg
		}
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			return err
		}
		if err := n.start(book, logFile); err != nil {
			return fmt.Errorf("start %s: %w", n.id, err)
		}
		defer func() { err = errors.Join(err, n.stop()) }()
		nodes[i] = n
		servers = append(servers, raft.Server{ID: n.id, Address: n.trans.LocalAddr()})
		fmt.Fprintf(out, "%s listening on %s, data in %s\n", n.id, n.trans.LocalAddr(), n.dir)
	}
	// Bootstrapping an existing cluster (a second run with -dir) is refused
	// with ErrCantBootstrap; the nodes then start from their stored state.
	if err := nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil &&
		!errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("bootstrap: %w", err)
	}
	leader, err := waitLeader(nodes)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "leader: %s\n", nodes[leader].id)

	// Write, then read back on every node.
	run0 := time.Now().UnixNano()
	first := phaseKeys("first", run0, keys)
	start := time.Now()
	if err := apply(nodes, first); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %d keys in %v\n", keys, time.Since(start).Round(time.Millisecond))
	if err := waitKeys(nodes, first); err != nil {
		return err
	}
	k, v := first[len(first)-1][0], first[len(first)-1][1]
	for _, n := range nodes {
		got, _ := n.fsm.Get(k)
		lo, hi := n.logRange()
		fmt.Fprintf(out, "  %s: %s=%q (%d keys, log [%d, %d])\n", n.id, k, got, n.fsm.Len(), lo, hi)
		if got != v {
			return fmt.Errorf("%s: %s=%q, want %q", n.id, k, got, v)
		}
	}

	// Stop a follower and write without it: two of three is a majority.
	leader, err = waitLeader(nodes)
	if err != nil {
		return err
	}
	f := nodes[(leader+1)%len(nodes)]
	_, before := f.logRange()
	if err := f.stop(); err != nil {
		return fmt.Errorf("stop %s: %w", f.id, err)
	}
	fmt.Fprintf(out, "stopped follower %s at log index %d\n", f.id, before)
	second := phaseKeys("second", run0, keys)
	if err := apply(nodes, second); err != nil {
		return err
	}
	// Snapshot the leader's state: raft then compacts its log (keeping
	// TrailingLogs entries), so the follower may no longer find its next
	// entry there.
	if err := nodes[leader].raft.Snapshot().Error(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	lo, hi := nodes[leader].logRange()
	fmt.Fprintf(out, "wrote %d more keys without %s; snapshot on %s compacted its log to [%d, %d]\n",
		keys, f.id, nodes[leader].id, lo, hi)

	// Restart it from its Store: it catches up from the leader's log, or
	// from a snapshot if the leader has compacted past it.
	start = time.Now()
	if err := f.start(book, logFile); err != nil {
		return fmt.Errorf("restart %s: %w", f.id, err)
	}
	if err := waitKeys(nodes, append(first, second...)); err != nil {
		return err
	}
	fmt.Fprintf(out, "restarted %s: caught up in %v, %d keys\n", f.id, time.Since(start).Round(time.Millisecond), f.fsm.Len())

	// One more write reaches every node, the restarted one included. If it
	// caught up from a snapshot, its log was emptied and restarted past the
	// snapshot's index.
	third := phaseKeys("third", run0, 10)
	if err := apply(nodes, third); err != nil {
		return err
	}
	if err := waitKeys(nodes, third); err != nil {
		return err
	}
	for _, n := range nodes {
		lo, hi := n.logRange()
		fmt.Fprintf(out, "  %s: %d keys, log [%d, %d]\n", n.id, n.fsm.Len(), lo, hi)
	}
	if m != nil && m.hold != nil {
		m.hold()
	}
	fmt.Fprintln(out, "ok")
	return nil
}

// phaseKeys returns n key-value pairs unique to this run and phase.
func phaseKeys(phase string, run int64, n int) [][2]string {
	kvs := make([][2]string, n)
	for i := range kvs {
		kvs[i] = [2]string{fmt.Sprintf("%s-%04d", phase, i), fmt.Sprintf("v%d-%d", run, i)}
	}
	return kvs
}

// waitLeader waits until a running node leads and returns it.
func waitLeader(nodes []*node) (int, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for i, n := range nodes {
			if n.raft != nil && n.raft.State() == raft.Leader {
				return i, nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return -1, errors.New("no leader elected")
}

// apply commits "k=v" commands through the leader, 64 in flight at a time,
// retrying on a leader change (a retried set is harmless: it is idempotent).
func apply(nodes []*node, kvs [][2]string) error {
	deadline := time.Now().Add(timeout)
	for len(kvs) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d writes not committed", len(kvs))
		}
		leader, err := waitLeader(nodes)
		if err != nil {
			return err
		}
		var failed [][2]string
		for start := 0; start < len(kvs); start += 64 {
			batch := kvs[start:min(start+64, len(kvs))]
			futures := make([]raft.ApplyFuture, len(batch))
			for i, kv := range batch {
				futures[i] = nodes[leader].raft.Apply([]byte(kv[0]+"="+kv[1]), 5*time.Second)
			}
			for i, fut := range futures {
				if fut.Error() != nil {
					failed = append(failed, batch[i])
				}
			}
		}
		kvs = failed
	}
	return nil
}

// waitKeys waits until every running node has every pair.
func waitKeys(nodes []*node, kvs [][2]string) error {
	deadline := time.Now().Add(timeout)
	for {
		missing := ""
		for _, n := range nodes {
			for _, kv := range kvs {
				if n.raft != nil {
					if v, _ := n.fsm.Get(kv[0]); v != kv[1] {
						missing = fmt.Sprintf("%s lacks %s", n.id, kv[0])
						break
					}
				}
			}
		}
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New(missing)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
