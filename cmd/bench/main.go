// Command bench runs the raftlog benchmark: mmaplog and the Raft log stores
// users know (hashicorp/raft-wal, raft-boltdb, tidwall/wal, etcd's WAL) side
// by side on the same directory, next to the disk's own limit.
//
// With no flags it runs a quick set (W1–W4 on mmaplog and raftwal, plus the
// disk limit) in under a minute, in a fresh temporary directory on a real
// disk, and prints a table. See package bench for the workloads.
//
// Flags: -stores, -workloads (IDs or names, e.g. W1,get-random,limit),
// -duration (per timed run; 2s, or 10s with -long), -size (entry bytes,
// 128), -dir, -json FILE, -svg FILE, -long (every workload, W5 over 10 M
// entries), and for investigations -preload (W4 entries), -reopen (W5
// entries) and -cpuprofile FILE. A progress line is drawn on stderr when
// it is a terminal; a directory on tmpfs draws a warning.
//
//	go run ./cmd/bench
//	go run ./cmd/bench -stores mmaplog,raftwal,boltdb,tidwall,etcdwal -duration 3s
//	go run ./cmd/bench -long -json bench.json -svg bench.svg
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
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
	longReopen    = 10_000_000
)

var (
	quickWorkloads = []string{"limit", "W1", "W2", "W3", "W4"}
	allWorkloads   = []string{"limit", "W1", "W2", "W3", "W4", "W5", "W6"}
)

func run(args []string, stdout, stderr io.Writer, progress bool) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		stores    = fs.String("stores", "mmaplog,raftwal", "comma-separated stores: "+strings.Join(bench.StoreNames(), ","))
		workloads = fs.String("workloads", "", "comma-separated workloads by ID or name (W1,append-sync,...,limit); default W1–W4 and limit, all with -long")
		duration  = fs.Duration("duration", 0, "length of each timed run; default 2s, 10s with -long")
		size      = fs.Int("size", 128, "entry payload bytes (W3 also runs 4096)")
		dir       = fs.String("dir", "", "directory to run in (a fresh subdirectory is used and removed); default a new temporary directory on a real disk")
		jsonOut   = fs.String("json", "", "write the results as JSON to `FILE`")
		svgOut    = fs.String("svg", "", "write a chart of throughput and p99 to `FILE`")
		long      = fs.Bool("long", false, "full run: every workload, 10s runs, W5 over 10 M entries")
		preload   = fs.Int("preload", 0, "W4 entries (default 1 M)")
		reopen    = fs.Int("reopen", 0, "W5 entries (default 1 M, 10 M with -long)")
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

	cfg := bench.Config{Duration: *duration, Size: *size, Preload: *preload, ReopenEntries: *reopen}
	ws := quickWorkloads
	if *long {
		ws = allWorkloads
		if cfg.Duration == 0 {
			cfg.Duration = longDuration
		}
		if cfg.ReopenEntries == 0 {
			cfg.ReopenEntries = longReopen
		}
	}
	if cfg.Duration == 0 {
		cfg.Duration = quickDuration
	}
	if *workloads != "" {
		ws = splitList(*workloads)
	}

	root, cleanup, err := workDir(*dir, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	defer cleanup()
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
	if runErr != nil {
		fmt.Fprintf(stderr, "bench: %v\n", runErr)
		code = 1
	}
	return code
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
