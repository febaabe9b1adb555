package fuzz

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/vfs"
	"github.com/raftlog/raftlog/mmaplog"
)

var (
	flagSeed    = flag.Uint64("crash.seed", 0, "first seed of each family (0: from the clock)")
	flagN       = flag.Int("crash.n", 0, "run exactly this many seeds/cases per family (0: the family's count times the scale)")
	flagScale   = flag.Float64("crash.scale", 0, "multiply every family's count (default: $FUZZ_SCALE, else 1; -short: 0.1)")
	flagTorture = flag.Bool("torture", false, "100 times the CI counts (same as -crash.scale=100)")
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	flag.Parse()
	os.Exit(m.Run())
}

// scale is the factor applied to every family's CI count.
func scale() float64 {
	switch {
	case *flagScale > 0:
		return *flagScale
	case *flagTorture:
		return 100
	}
	if s, err := strconv.ParseFloat(os.Getenv("FUZZ_SCALE"), 64); err == nil && s > 0 {
		return s
	}
	if testing.Short() {
		return 0.1
	}
	return 1
}

// count is how many cases a family with CI count n runs.
func count(n int) int {
	if *flagN > 0 {
		return *flagN
	}
	return max(1, int(float64(n)*scale()))
}

// baseSeed is the first seed of family fam.
func baseSeed(fam string) uint64 {
	if *flagSeed != 0 {
		return *flagSeed
	}
	return uint64(time.Now().UnixNano())&(1<<40-1) | uint64(fam[1])<<40
}

// regressionSeeds reads testdata/regress/<fam>.txt: one seed per line,
// '#' starts a comment. Each was a failure once.
func regressionSeeds(t testing.TB, fam string) []uint64 {
	t.Helper()
	if *flagSeed != 0 {
		return nil
	}
	f, err := os.Open(filepath.Join("testdata", "regress", fam+".txt"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seeds []uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		s, err := strconv.ParseUint(line, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", f.Name(), err)
		}
		seeds = append(seeds, s)
	}
	return seeds
}

// family collects a family's results and prints its summary line.
type family struct {
	t          *testing.T
	name, test string
	start      time.Time
	mu         sync.Mutex
	violations int
	counters   map[string]int
	order      []string
}

func newFamily(t *testing.T, name string) *family {
	t.Helper()
	return &family{t: t, name: name, test: t.Name(), start: time.Now(), counters: map[string]int{}}
}

func (f *family) add(key string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.counters[key]; !ok {
		f.order = append(f.order, key)
	}
	f.counters[key] += n
}

func (f *family) get(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counters[key]
}

func (f *family) replay(seed uint64) string {
	return fmt.Sprintf("go test -race -count=1 -v -run '^%s$' ./fuzz/ -args -crash.seed=%d -crash.n=1", f.test, seed)
}

// violation reports one failure with its seed and replay command.
func (f *family) violation(seed uint64, format string, args ...any) {
	f.mu.Lock()
	f.violations++
	n := f.violations
	f.mu.Unlock()
	if n <= maxViolations {
		f.t.Errorf("fuzz: %s violation seed=%d: %s\n\treplay: %s", f.name, seed, fmt.Sprintf(format, args...), f.replay(seed))
	}
}

func (f *family) violationCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.violations
}

// maxViolations is how many violations a family prints before it stops
// ($FUZZ_MAXVIOL, default 20).
var maxViolations = func() int {
	if n, err := strconv.Atoi(os.Getenv("FUZZ_MAXVIOL")); err == nil && n > 0 {
		return n
	}
	return 20
}()

// baseFailure counts a seed whose setup hit a failure another family
// reports (F2 for workloads and crash images); this family skips it.
func (f *family) baseFailure(seed uint64, err error) {
	f.add("skipped-bases", 1)
	if n := f.get("skipped-bases"); n <= 3 {
		f.t.Logf("fuzz: %s seed=%d skipped (its setup fails; see F2): %v", f.name, seed, err)
	}
}

// summary prints the family's one line.
func (f *family) summary() {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "fuzz: %s", f.name)
	for _, k := range f.order {
		fmt.Fprintf(&b, " %s=%d", k, f.counters[k])
	}
	fmt.Fprintf(&b, " violations=%d time=%s", f.violations, time.Since(f.start).Round(time.Millisecond))
	fmt.Println(b.String())
	f.t.Log(b.String())
}

// run runs fn for seeds (see forSeeds) until the family's counter key
// reaches count(n), then logs the family's summary.
func (f *family) run(key string, n int, fn func(seed uint64) error) {
	want := count(n)
	f.forSeeds(func() bool { return f.get(key) >= want }, fn)
	f.summary()
}

// forSeeds runs fn for the seeds of seedsToRun, on one worker per CPU. A
// panic in fn is a violation of that seed.
func (f *family) forSeeds(done func() bool, fn func(seed uint64) error) {
	seeds := make(chan uint64)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range seeds {
				if err := runSafe(s, fn); err != nil {
					f.violation(s, "%v", err)
				}
			}
		}()
	}
	for s := range f.seedsToRun(done) {
		seeds <- s
	}
	close(seeds)
	wg.Wait()
}

// runSerial is run with every seed on the calling goroutine, one after
// the other: for a family whose seeds use something only the test
// goroutine may touch (a loop-mounted disk, whose methods may call
// t.Fatal).
func (f *family) runSerial(key string, n int, fn func(seed uint64) error) {
	want := count(n)
	for s := range f.seedsToRun(func() bool { return f.get(key) >= want }) {
		if err := runSafe(s, fn); err != nil {
			f.violation(s, "%v", err)
		}
	}
	f.summary()
}

// seedsToRun yields the regression seeds, then fresh seeds until done
// reports true (or n seeds were yielded when -crash.n is set), and stops
// early once the family has maxViolations violations.
func (f *family) seedsToRun(done func() bool) iter.Seq[uint64] {
	return func(yield func(uint64) bool) {
		for _, s := range regressionSeeds(f.t, f.name) {
			if !yield(s) {
				return
			}
		}
		base := baseSeed(f.name)
		if *flagN == 0 {
			f.t.Logf("fuzz: %s base seed %d", f.name, base)
		}
		for i := uint64(0); ; i++ {
			if *flagN > 0 && i >= uint64(*flagN) || *flagN == 0 && done() {
				return
			}
			if f.violationCount() >= maxViolations || !yield(base+i) {
				return
			}
		}
	}
}

func runSafe(seed uint64, fn func(uint64) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(seed)
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

const logDir = "/log"

// options are the Log options of every family: small segments so that
// rotations are frequent, and batches of 4 KiB or more written through
// the file (mmaplog.Options.WriteThrough), so that both write paths meet
// every fault.
func options(fs vfs.FS) mmaplog.Options {
	return mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize, WriteThrough: 4 << 10, WriteBehind: 8 << 10, Logger: discard, FS: fs}
}

// driver runs a workload on a Log over a crashfs and keeps the oracle and
// the acknowledged step.
type driver struct {
	fs      *crashfs.FS
	l       *mmaplog.Log
	o       *Oracle
	acked   atomic.Int64
	crashed atomic.Bool
	failed  bool // the Log failed closed (an op returned ErrFailed)
	// zeroFill opens the Log with Options.ZeroFill (F6 varies it).
	zeroFill bool
}

// options are the driver's Log options: the families' (options) with
// the driver's ZeroFill.
func (d *driver) options() mmaplog.Options {
	o := options(d.fs)
	o.ZeroFill = d.zeroFill
	return o
}

func newDriver(fs *crashfs.FS, o *Oracle) (*driver, error) {
	d := &driver{fs: fs, o: o}
	var err error
	d.l, err = mmaplog.Open(logDir, options(fs))
	return d, err
}

func storeMax(v *atomic.Int64, x int64) {
	for {
		old := v.Load()
		if x <= old || v.CompareAndSwap(old, x) {
			return
		}
	}
}

// ack returns a flush callback that acknowledges step unless the crash
// image was already taken (an acknowledgement after it proves nothing about
// the image).
func (d *driver) ack(step int, also func(error)) func(error) {
	return func(err error) {
		if err == nil && !d.crashed.Load() {
			storeMax(&d.acked, int64(step))
		}
		if also != nil {
			also(err)
		}
	}
}

var trace = os.Getenv("FUZZ_TRACE") != ""

// do runs one op. An error is the Log's, wrapped with the op.
func (d *driver) do(op Op) error {
	if trace {
		fmt.Fprintf(os.Stderr, "op %v (step %d, acked %d)\n", op, d.o.Steps(), d.acked.Load())
	}
	var err error
	switch op.Kind {
	case Flush:
		err = d.l.Flush(d.ack(d.o.Steps(), nil))
	case Sync:
		step := d.o.Steps()
		if err = d.l.Sync(); err == nil && !d.crashed.Load() {
			storeMax(&d.acked, int64(step))
		}
	case Reopen:
		return d.reopen()
	case Writeback:
		d.fs.Writeback(nil, 1)
		return nil
	default:
		err = op.Do(d.l)
		if err == nil {
			d.o.Apply(op)
		} else if errors.Is(err, mmaplog.ErrFailed) {
			d.o.Apply(op) // records may be in the mapping
			d.failed = true
		}
	}
	if err != nil {
		if errors.Is(err, mmaplog.ErrFailed) {
			d.failed = true
		}
		return fmt.Errorf("%v: %w", op, err)
	}
	return nil
}

// reopen closes the Log cleanly and opens it again: it must come back
// exactly as it was.
func (d *driver) reopen() error {
	if err := d.l.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if !d.crashed.Load() {
		storeMax(&d.acked, int64(d.o.Steps()))
	}
	l, err := mmaplog.Open(logDir, options(d.fs))
	if err != nil {
		return fmt.Errorf("open after a clean close: %w", err)
	}
	d.l = l
	if _, err := d.o.Check(l, d.o.Steps()); err != nil {
		return fmt.Errorf("after a clean close and open: %w", err)
	}
	return nil
}

// abandon closes the Log after its crash image was taken, ignoring errors.
func (d *driver) abandon() {
	d.crashed.Store(true)
	if d.l != nil {
		_ = d.l.Close()
		d.l = nil
	}
}

// recoverImage opens img (a crash image), checks it against the oracle
// from the acknowledged step, and on success makes the driver go on from
// it. After a power loss everything in img is durable, so the recovered
// step is acknowledged; after a kill (img from Snapshot.Restart) it is
// not, until a flush of the new Log succeeds.
func (d *driver) recoverImage(img *crashfs.FS, powerLoss bool) error {
	l, err := mmaplog.Open(logDir, options(img))
	if err != nil {
		return fmt.Errorf("a crash-only image does not open (acknowledged step %d): %w", d.acked.Load(), err)
	}
	step, err := d.o.Check(l, int(d.acked.Load()))
	if err != nil {
		_ = l.Close()
		return err
	}
	d.o.Rewind(step)
	d.fs, d.l = img, l
	if powerLoss {
		d.acked.Store(int64(step))
	}
	d.crashed.Store(false)
	d.failed = false
	return nil
}
