package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config sets the size of every workload. The zero value of a field means
// its default.
type Config struct {
	// Dir is where the stores and the limit files are created, one fresh
	// subdirectory per run, removed afterwards. Required.
	Dir string
	// Duration of each timed run (W1, W2, W3 per entry size, W4, W6).
	// Default 2s.
	Duration time.Duration
	// Size is the payload size in bytes of W1–W5 entries and of W6's
	// appends. Default 128. W3 also runs 4 KiB entries.
	Size int
	// Preload is the number of entries W4 reads from. Default 1 000 000.
	Preload int
	// ReopenBytes is the payload of the log W5 reopens, per entry size
	// (Size and 1 KiB): ReopenBytes/size entries. Default 128 MB
	// (1 M entries of 128 B).
	ReopenBytes int64
	// PeerReopenBytes caps the payload a peer store builds for W5 (a
	// driver may cap it lower); its figures are then measured on the
	// smaller log and Result.Scale says how much larger the target is.
	// Default 1 GB.
	PeerReopenBytes int64
	// ReopenRounds is how many opens W5 measures. Default 3.
	ReopenRounds int
	// ReopenCache says how W5 makes each open cold. Default CacheDrop.
	ReopenCache CacheMode
	// ChurnPreload is the number of ChurnPreloadSize entries W6 writes
	// before it starts. Default 500 000.
	ChurnPreload int
	// ChurnPreloadSize is the payload size of W6's preload. Default 1024.
	ChurnPreloadSize int
	// ChurnTrail is how many entries W6's purges keep. Default 10 000.
	ChurnTrail int
	// ChurnEvery is the period of W6's purges. Default 1s.
	ChurnEvery time.Duration
	// Writers are W8's concurrent writer counts, each run on a fresh
	// store. Default 1, 4, 16, 64.
	Writers []int
	// ConcurrentDuration is the length of each W8 run. Default
	// Duration/2 (W8 makes up to three runs per writer count and store).
	ConcurrentDuration time.Duration
	// LimitDuration is the duration of each sync primitive of the limit
	// workload. Default Duration/2.
	LimitDuration time.Duration
	// MaxBytes caps the payload bytes one W3 run or the sequential write
	// limit writes, to bound disk use. Default 2 GiB.
	MaxBytes int64
	// Progress, when set, is told what runs. It is called from the
	// goroutine that called Run.
	Progress func(Progress)
}

// Progress describes the step Run is on.
type Progress struct {
	Step, Steps int    // 1-based step number and total steps
	Store       string // "disk" for limit
	Workload    string // workload ID and name
	Phase       string // "preload", "run", "sync", ...
	Started     time.Time
	Timed       time.Duration // length of the timed part, 0 if none
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Duration <= 0 {
		c.Duration = 2 * time.Second
	}
	def(&c.Size, 128)
	def(&c.Preload, 1_000_000)
	if c.ReopenBytes <= 0 {
		c.ReopenBytes = 128 << 20
	}
	if c.PeerReopenBytes <= 0 {
		c.PeerReopenBytes = 1 << 30
	}
	def(&c.ReopenRounds, 3)
	def(&c.ChurnPreload, 500_000)
	def(&c.ChurnPreloadSize, 1024)
	def(&c.ChurnTrail, 10_000)
	if c.ChurnEvery <= 0 {
		c.ChurnEvery = time.Second
	}
	if len(c.Writers) == 0 {
		c.Writers = []int{1, 4, 16, 64}
	}
	if c.ConcurrentDuration <= 0 {
		c.ConcurrentDuration = c.Duration / 2
	}
	if c.LimitDuration <= 0 {
		c.LimitDuration = c.Duration / 2
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 2 << 30
	}
	return c
}

// Workload is one benchmark scenario.
type Workload struct {
	ID   string // "W1" … "W8", "limit"
	Name string // "append-sync", …
	// run measures one store (nil for limit).
	run func(r *runner, d *Driver) ([]Result, error)
	// together, when set, measures every store of the run at once instead
	// of run (one result per store, an error row for each that failed).
	together func(r *runner, w *Workload, ds []*Driver) ([]Result, []error)
}

// Label is the workload's name in results: "W1-append-sync".
func (w *Workload) Label() string {
	if w.ID == w.Name {
		return w.ID
	}
	return w.ID + "-" + w.Name
}

// Workloads returns every workload in run order: limit first, so that the
// others can be related to it.
func Workloads() []*Workload {
	return []*Workload{
		{ID: "limit", Name: "limit", run: runLimit},
		{ID: "W1", Name: "append-sync", together: runAppendSyncTogether},
		{ID: "W2", Name: "append-pipelined", run: runAppendPipelined},
		{ID: "W3", Name: "append-nosync", run: runAppendNoSync},
		{ID: "W4", Name: "get-random", run: runGetRandom},
		{ID: "W5", Name: "reopen", run: runReopen},
		{ID: "W6", Name: "churn", together: runChurnTogether},
		{ID: "W8", Name: "concurrent", run: runConcurrent},
	}
}

// LookupWorkload finds a workload by ID or name, case-insensitively.
func LookupWorkload(s string) (*Workload, error) {
	for _, w := range Workloads() {
		if strings.EqualFold(s, w.ID) || strings.EqualFold(s, w.Name) || strings.EqualFold(s, w.Label()) {
			return w, nil
		}
	}
	var have []string
	for _, w := range Workloads() {
		have = append(have, w.Label())
	}
	return nil, fmt.Errorf("bench: unknown workload %q (have %s)", s, strings.Join(have, ", "))
}

// lookupAll looks each name up, in order.
func lookupAll[T any](names []string, lookup func(string) (T, error)) ([]T, error) {
	var out []T
	for _, name := range names {
		x, err := lookup(name)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// Run runs the named workloads against the named stores and returns every
// result, including a row with a note for each pair that cannot run or
// failed. The error joins every failure; the report is complete either way.
func Run(cfg Config, stores, workloads []string) (*Report, error) {
	cfg = cfg.withDefaults()
	if cfg.Dir == "" {
		return nil, errors.New("bench: Config.Dir is required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	ds, err := lookupAll(stores, LookupDriver)
	if err != nil {
		return nil, err
	}
	ws, err := lookupAll(workloads, LookupWorkload)
	if err != nil {
		return nil, err
	}
	// Keep the canonical order whatever order the caller named them in.
	var ordered []*Workload
	for _, w := range Workloads() {
		for _, x := range ws {
			if x.ID == w.ID {
				ordered = append(ordered, w)
				break
			}
		}
	}
	for _, w := range ordered {
		if w.ID == "W5" {
			if err := checkRoom(cfg, ds); err != nil {
				return nil, err
			}
		}
	}
	steps, withLimit := 0, false
	for _, w := range ordered {
		withLimit = withLimit || w.ID == "limit"
	}
	for _, w := range ordered {
		switch {
		case w.ID == "limit":
			steps++
		case w.ID == "W1" && withLimit && canRun(ds, "W1"):
			steps += len(ds) + len(diskW1Participants())
		default:
			steps += len(ds)
		}
	}
	rep := &Report{Machine: DescribeMachine(cfg.Dir)}
	r := &runner{cfg: cfg, steps: steps, withLimit: withLimit, payload: makePayload(max(cfg.Size, 4096, cfg.ChurnPreloadSize))}
	var errs []error
	for _, w := range ordered {
		if w.ID == "limit" {
			r.begin("disk", w)
			res, err := w.run(r, nil)
			if err != nil {
				errs = append(errs, fmt.Errorf("limit: %w", err))
				res = append(res, Result{Store: "disk", Workload: w.Label(), Note: "error: " + err.Error()})
			}
			rep.Results = append(rep.Results, res...)
			continue
		}
		if w.together != nil {
			res, werrs := r.runTogether(w, ds)
			rep.Results = append(rep.Results, res...)
			errs = append(errs, werrs...)
			continue
		}
		for _, d := range ds {
			r.begin(d.Name, w)
			if why, ok := d.Cannot[w.ID]; ok {
				rep.Results = append(rep.Results, Result{Store: d.Name, Workload: w.Label(), EntrySize: cfg.Size, Note: "cannot run: " + why})
				continue
			}
			res, err := w.run(r, d)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s on %s: %w", w.Label(), d.Name, err))
				res = []Result{{Store: d.Name, Workload: w.Label(), EntrySize: cfg.Size, Note: "error: " + err.Error()}}
			}
			for i := range res {
				if a := d.Adapted[w.ID]; a != "" {
					res[i].Note = joinNote(a, res[i].Note)
				}
			}
			rep.Results = append(rep.Results, res...)
		}
	}
	return rep, errors.Join(errs...)
}

// canRun reports whether any of ds can run workload id.
func canRun(ds []*Driver, id string) bool {
	for _, d := range ds {
		if _, no := d.Cannot[id]; !no {
			return true
		}
	}
	return false
}

// runTogether runs a workload that measures its stores at once
// (Workload.together): the stores that cannot run it get their row first.
func (r *runner) runTogether(w *Workload, ds []*Driver) ([]Result, []error) {
	var out []Result
	var run []*Driver
	for _, d := range ds {
		if why, ok := d.Cannot[w.ID]; ok {
			r.begin(d.Name, w)
			out = append(out, Result{Store: d.Name, Workload: w.Label(), EntrySize: r.cfg.Size, Note: "cannot run: " + why})
			continue
		}
		run = append(run, d)
	}
	res, errs := w.together(r, w, run)
	for i := range res {
		for _, d := range run {
			if a := d.Adapted[w.ID]; a != "" && d.Name == res[i].Store {
				res[i].Note = joinNote(a, res[i].Note)
			}
		}
	}
	return append(out, res...), errs
}

// ErrNoRoom: the disk lacks the room for W5's log; Run refuses to start.
var ErrNoRoom = errors.New("bench: not enough free disk space")

// checkRoom refuses W5 when the largest log one of ds builds would not
// fit in Config.Dir's file system (the logs are built one at a time and
// removed after use).
func checkRoom(cfg Config, ds []*Driver) error {
	var need, payload int64
	size := 0
	for _, d := range ds {
		b, _ := cfg.reopenTarget(d)
		for _, s := range cfg.reopenSizes() {
			if n := reopenRoom(b, s); n > need {
				need, payload, size = n, b, s
			}
		}
	}
	free, err := freeBytes(cfg.Dir)
	if err != nil {
		return err
	}
	if need > free {
		return fmt.Errorf("%w: W5 builds a log of %s in %s B entries, which needs about %s in %s; the file system has %s available: lower the W5 size (cmd/bench -w5size) or run on a larger disk (-dir)",
			ErrNoRoom, fmtSI(payload), withCommas(int64(size)), fmtSI(need), cfg.Dir, fmtSI(free))
	}
	return nil
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// runner carries what every workload needs.
type runner struct {
	cfg     Config
	step    int
	steps   int
	cur     Progress
	payload []byte
	// withLimit: the run includes the limit workload (W1 then measures
	// the disk's sync primitives in its turns too).
	withLimit bool
	seq       int
}

func (r *runner) begin(store string, w *Workload) {
	r.step++
	r.cur = Progress{Step: r.step, Steps: r.steps, Store: store, Workload: w.Label()}
	r.phase("start", 0)
}

// phase reports a new phase of the current step; timed is the length of
// its timed part (0 for untimed phases such as a preload).
func (r *runner) phase(p string, timed time.Duration) {
	r.cur.Phase, r.cur.Started, r.cur.Timed = p, time.Now(), timed
	if r.cfg.Progress != nil {
		r.cfg.Progress(r.cur)
	}
}

// tempDir returns a fresh, empty directory for one run and a function that
// removes it.
func (r *runner) tempDir(name string) (string, func(), error) {
	r.seq++
	dir := filepath.Join(r.cfg.Dir, fmt.Sprintf("%02d-%s", r.seq, name))
	if err := os.RemoveAll(dir); err != nil {
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	return dir, func() {
		_ = os.RemoveAll(dir)
		// Let the file system settle (journal, writeback of the removal)
		// before the next run starts its clock.
		syncFS(r.cfg.Dir)
	}, nil
}

// makePayload returns n pseudo-random bytes (fixed seed).
func makePayload(n int) []byte {
	rng := rand.New(rand.NewChaCha8([32]byte{'r', 'a', 'f', 't', 'l', 'o', 'g'}))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

// perSec returns n per second of d.
func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
