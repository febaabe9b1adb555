// Command bench runs the raftlog benchmark: mmaplog and the Raft log stores
// users know (hashicorp/raft-wal, raft-boltdb, tidwall/wal, etcd's WAL) side
// by side on the same directory, next to the disk's own limit, and prints a
// table of the results and of raftlog's goals, each goal a ratio measured
// in the same run.
//
// With no flags it runs a quick set (W1–W4 and W8 at 1 and 16 writers, on
// mmaplog and raftwal, plus the disk's limits) in under a minute, in a
// fresh temporary directory on a real disk. -long runs every workload for
// 10 s, W8 at 1, 4, 16 and 64 writers and W5 on a 10 GB log (each entry
// size), cold. See package bench for the workloads.
//
// Flags: -stores, -workloads (IDs or names, e.g. W1,get-random,limit),
// -duration (per timed run; 2s, or 10s with -long), -size (entry bytes,
// 128), -dir, -json FILE, -svg FILE (throughput and p99 bars), -timeline
// FILE (W6's latency over time), -long, -writers (W8's writer counts),
// -w5size (W5's log: 128MB, 10GB with -long), -w5peer (the largest log a
// peer builds for W5; beyond it the peer's figures are measured smaller
// and the scale is printed), -w5cache (drop, evict or warm), and for
// investigations -preload (W4 entries) and -cpuprofile FILE. A progress
// line is drawn on stderr when it is a terminal; a directory on tmpfs
// draws a warning. The run's directory is removed at the end, and on
// SIGINT or SIGTERM.
//
//	go run ./cmd/bench
//	go run ./cmd/bench -stores mmaplog,raftwal,boltdb,tidwall,etcdwal -duration 3s
//	go run ./cmd/bench -long -json bench.json -svg bench.svg -timeline bench-w6.svg
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/raftlog/raftlog/bench"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, isatty.IsTerminal(os.Stderr.Fd())))
}

// Quick-mode sizes: the default run must stay under a minute.
const (
	quickDuration = 2 * time.Second
	longDuration  = 10 * time.Second
	quickW5       = 128 << 20
	longW5        = 10_000_000_000
)

var (
	quickWorkloads = []string{"limit", "W1", "W2", "W3", "W4", "W8"}
	allWorkloads   = []string{"limit", "W1", "W2", "W3", "W4", "W5", "W6", "W8"}
	quickWriters   = []int{1, 16}
	longWriters    = []int{1, 4, 16, 64}
)

func run(args []string, stdout, stderr io.Writer, progress bool) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		stores    = fs.String("stores", "mmaplog,raftwal", "comma-separated stores: "+strings.Join(bench.StoreNames(), ","))
		workloads = fs.String("workloads", "", "comma-separated workloads by ID or name (W1,append-sync,...,limit); default W1–W4, W8 and limit, all with -long")
		duration  = fs.Duration("duration", 0, "length of each timed run; default 2s, 10s with -long")
		size      = fs.Int("size", 128, "entry payload bytes (W3 also runs 4096, W5 1024)")
		dir       = fs.String("dir", "", "directory to run in (a fresh subdirectory is used and removed); default a new temporary directory on a real disk")
		jsonOut   = fs.String("json", "", "write the results as JSON to `FILE`")
		svgOut    = fs.String("svg", "", "write a chart of throughput and p99 to `FILE`")
		tlOut     = fs.String("timeline", "", "write W6's latency over time as an SVG chart to `FILE`")
		long      = fs.Bool("long", false, "full run: every workload, 10s runs, W8 at 1, 4, 16, 64 writers, W5 on a 10GB log")
		writers   = fs.String("writers", "", "W8's writer counts, comma-separated (default 1,16; 1,4,16,64 with -long)")
		w5size    = fs.String("w5size", "", "payload of W5's log per entry size, e.g. 512MB, 10GB (default 128MiB; 10GB with -long)")
		w5peer    = fs.String("w5peer", "1GB", "largest W5 log a peer store builds; a larger -w5size is measured smaller and scaled")
		w5cache   = fs.String("w5cache", "drop", "how W5 makes an open cold: drop (the page cache, needs root; else evict), evict (the log's files), warm")
		preload   = fs.Int("preload", 0, "W4 entries (default 1 M)")
		cpuProf   = fs.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: bench [flags]\n\nRuns Raft log store benchmarks side by side. Flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected arguments %q\n", fs.Args())
		return 2
	}

	cfg := bench.Config{Duration: *duration, Size: *size, Preload: *preload, Writers: quickWriters, ReopenBytes: quickW5}
	ws := quickWorkloads
	if *long {
		ws = allWorkloads
		if cfg.Duration == 0 {
			cfg.Duration = longDuration
		}
		cfg.Writers, cfg.ReopenBytes = longWriters, longW5
	}
	if cfg.Duration == 0 {
		cfg.Duration = quickDuration
	}
	if *workloads != "" {
		ws = splitList(*workloads)
	}
	var err error
	if *writers != "" {
		if cfg.Writers, err = parseCounts(*writers); err != nil {
			fmt.Fprintf(stderr, "bench: -writers: %v\n", err)
			return 2
		}
	}
	if *w5size != "" {
		if cfg.ReopenBytes, err = parseBytes(*w5size); err != nil {
			fmt.Fprintf(stderr, "bench: -w5size: %v\n", err)
			return 2
		}
	}
	if cfg.PeerReopenBytes, err = parseBytes(*w5peer); err != nil {
		fmt.Fprintf(stderr, "bench: -w5peer: %v\n", err)
		return 2
	}
	if cfg.ReopenCache, err = bench.ParseCacheMode(*w5cache); err != nil {
		fmt.Fprintf(stderr, "bench: -w5cache: %v\n", err)
		return 2
	}

	root, cleanup, err := workDir(*dir, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	defer cleanup()
	stopSignals := removeOnSignal(root, cleanup, stderr)
	defer stopSignals()
	cfg.Dir = root
	if name, mem := bench.FileSystem(root); mem {
		fmt.Fprintf(stderr, "bench: WARNING: %s is on %s: syncs cost nothing there, durability results are meaningless\n", root, name)
	}

	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	var bar *progressLine
	if progress {
		bar = newProgressLine(stderr)
		cfg.Progress = bar.update
	}
	start := time.Now()
	rep, runErr := bench.Run(cfg, splitList(*stores), ws)
	if bar != nil {
		bar.finish()
	}
	if rep == nil {
		fmt.Fprintf(stderr, "bench: %v\n", runErr)
		return 2
	}
	rep.Machine.Command = strings.TrimSpace("go run ./cmd/bench " + strings.Join(args, " "))
	if err := bench.WriteTable(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\n%s (total %s)\n", rep.Machine.Command, time.Since(start).Round(time.Second))
	code := 0
	if *jsonOut != "" {
		if err := writeFile(*jsonOut, rep.WriteJSON); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			code = 1
		}
	}
	if *svgOut != "" {
		if err := writeFile(*svgOut, func(w io.Writer) error { return bench.WriteSVG(w, rep) }); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			code = 1
		}
	}
	if *tlOut != "" {
		if err := writeFile(*tlOut, func(w io.Writer) error { return bench.WriteTimelineSVG(w, rep) }); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			code = 1
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "bench: %v\n", runErr)
		code = 1
	}
	return code
}

// removeOnSignal removes the run's directory and exits when the process is
// interrupted, so that an aborted run of a 10 GB W5 leaves nothing behind.
// The returned function stops watching.
func removeOnSignal(root string, cleanup func(), stderr io.Writer) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			fmt.Fprintf(stderr, "\nbench: %v: removing %s\n", sig, root)
			cleanup()
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// parseCounts parses "1,4,16".
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no counts")
	}
	return out, nil
}

// parseBytes parses a size: a number of bytes with an optional unit, KB,
// MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024),
// e.g. 10GB, 512MiB, 1.5GB.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"B", 1},
	}
	num, mult := strings.TrimSpace(s), 1.0
	for _, u := range units {
		if len(num) > len(u.suffix) && strings.EqualFold(num[len(num)-len(u.suffix):], u.suffix) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 || v*mult > 1<<62 {
		return 0, fmt.Errorf("%q is not a size (e.g. 10GB, 512MiB)", s)
	}
	return int64(v * mult), nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// workDir returns the directory to run in and a function that removes what
// was created. Without -dir it is a new temporary directory; when the
// system's temporary directory is memory-backed it is made in the current
// directory instead, since syncs on tmpfs are free.
func workDir(dir string, stderr io.Writer) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, err
		}
		d, err := os.MkdirTemp(dir, "raftlog-bench-")
		if err != nil {
			return "", nil, err
		}
		return d, func() { _ = os.RemoveAll(d) }, nil
	}
	parent := os.TempDir()
	if name, mem := bench.FileSystem(parent); mem {
		wd, err := os.Getwd()
		if err != nil {
			return "", nil, err
		}
		fmt.Fprintf(stderr, "bench: %s is on %s; running in %s instead (use -dir to choose)\n", parent, name, wd)
		parent = wd
	}
	d, err := os.MkdirTemp(parent, "raftlog-bench-")
	if err != nil {
		return "", nil, err
	}
	abs, err := filepath.Abs(d)
	if err != nil {
		abs = d
	}
	return abs, func() { _ = os.RemoveAll(abs) }, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// progressLine shows the current step on stderr, refreshed while it runs.
type progressLine struct {
	bar  *progressbar.ProgressBar
	mu   sync.Mutex
	cur  bench.Progress
	stop chan struct{}
	done chan struct{}
}

func newProgressLine(w io.Writer) *progressLine {
	p := &progressLine{stop: make(chan struct{}), done: make(chan struct{})}
	p.bar = progressbar.NewOptions(1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
	go p.loop()
	return p
}

func (p *progressLine) update(pr bench.Progress) {
	p.mu.Lock()
	first := p.cur.Steps == 0
	p.cur = pr
	p.mu.Unlock()
	if first {
		p.bar.ChangeMax(pr.Steps)
	}
	_ = p.bar.Set(pr.Step - 1)
	p.describe()
}

func (p *progressLine) describe() {
	p.mu.Lock()
	pr := p.cur
	p.mu.Unlock()
	phase := pr.Phase
	if pr.Timed > 0 {
		phase = fmt.Sprintf("%s %.1fs/%s", phase, time.Since(pr.Started).Seconds(), pr.Timed)
	}
	p.bar.Describe(fmt.Sprintf("%s · %s · %s", pr.Workload, pr.Store, phase))
}

func (p *progressLine) loop() {
	defer close(p.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.describe()
		}
	}
}

func (p *progressLine) finish() {
	close(p.stop)
	<-p.done
	_ = p.bar.Finish()
	_ = p.bar.Clear()
}
