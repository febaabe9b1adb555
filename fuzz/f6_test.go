package fuzz

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/mmaplog"
)

// F6: an error at every file-operation site. A scripted workload (appends
// with rotations, a truncate, a purge that deletes segments, votes,
// flushes, a reopen) runs once to count each operation's calls; then once
// per case with the first, middle or last call of one operation failing
// with EIO or ENOSPC, either from then on or once and then succeeding.
// Then the issue-10 classes: the same msync and fdatasync calls failing
// as a failed write-back (fsyncgate: the pages are marked clean without
// reaching the disk; writeback-cases), and a full disk before each file
// creation (every allocation fails with ENOSPC, for good or until the
// first failure; disk-full-cases); and with Options.ZeroFill, the
// zero-fill's msyncs failing (zerofill-cases).
//
// Checks (I7, then I1): no panic; Open fails when its own sync fails;
// after a sync error (msync, directory fsync) nothing is acknowledged and
// every later write and flush fails with ErrFailed, even when the disk
// works again; an operation that returned an error wrote nothing (no step
// of it is in the oracle: a reopen showing part of it is a violation);
// once the disk works again, a reopen in the same boot (the page cache
// kept) must show an acknowledged-or-later state, and what it calls
// durable, with one more entry synced, must survive the power loss taken
// at the end (everything unsynced lost, opened without faults).
func TestF6FaultSites(t *testing.T) {
	fam := newFamily(t, "F6")
	counts := map[crashfs.Op]int{}
	ops := f6Ops(true)
	var allocs []int64 // disk use before each file creation
	{
		var fs *crashfs.FS
		run := func() error {
			fs, allocs = crashfs.New(), nil
			var mu sync.Mutex
			last := int64(0)
			_, err := f6Run(fs, f6Env{watch: func(ev crashfs.Event) {
				u := fs.Used()
				mu.Lock()
				defer mu.Unlock()
				if ev.Op == crashfs.OpCreate {
					allocs = append(allocs, last)
				}
				last = u
			}}, ops)
			return err
		}
		if err := run(); err != nil {
			// Report it, and run the matrix without the purge that
			// deletes segments so that the other sites are still covered.
			fam.violation(0, "the workload fails without faults: %v", err)
			ops = f6Ops(false)
			if err := run(); err != nil {
				t.Fatalf("the workload without purge fails without faults: %v", err)
			}
		}
		for _, op := range crashfs.AllOps {
			counts[op] = fs.Count(op)
		}
	}
	var cases []f6Env
	for _, op := range crashfs.AllOps {
		n := counts[op]
		if n == 0 {
			continue
		}
		for _, nth := range dedup(1, (n+1)/2, n) {
			for _, e := range []error{crashfs.EIO, crashfs.ENOSPC} {
				for _, times := range []int{0, 1} {
					cases = append(cases, f6Env{fault: crashfs.Fault{Op: op, Nth: nth, Err: e, Times: times}})
				}
			}
		}
	}
	// Failed write-backs at every sync call (EIO), and at the first,
	// middle and last one (ENOSPC: a thin-provisioned or sparse file's
	// write-back finding the disk full).
	for _, op := range []crashfs.Op{crashfs.OpMsync, crashfs.OpDatasync, crashfs.OpWriteBehind} {
		n := counts[op]
		for nth := 1; nth <= n; nth++ {
			for _, times := range []int{0, 1} {
				cases = append(cases, f6Env{fault: crashfs.Fault{Op: op, Nth: nth, Err: crashfs.EIO, Times: times, Writeback: true}})
			}
		}
		if n == 0 {
			continue
		}
		for _, nth := range dedup(1, (n+1)/2, n) {
			for _, times := range []int{0, 1} {
				cases = append(cases, f6Env{fault: crashfs.Fault{Op: op, Nth: nth, Err: crashfs.ENOSPC, Times: times, Writeback: true}})
			}
		}
	}
	// ZeroFill: the zero-fill's msyncs (of ".seg.tmp" files), failing at
	// the first, middle and last of them, with EIO or ENOSPC, for good or
	// once, as a plain error or a failed write-back, under the checks
	// every case has (no panic, nothing acknowledged lost). This workload
	// rotates faster than the preparer prepares, so its only zero-fill is
	// the first segment's, in Open; the preparer's meet their faults in
	// F6-random. That a failed zero-fill fails Open and leaves no file,
	// and costs a prepared segment only, TestZeroFillFailure checks (a
	// zero-fill error ignored loses nothing, so these cases cannot see it).
	zeroFills := 0
	{
		var mu sync.Mutex
		if _, err := f6Run(crashfs.New(), f6Env{zeroFill: true, watch: func(ev crashfs.Event) {
			if ev.Op == crashfs.OpMsync && strings.HasSuffix(ev.Path, ".seg.tmp") {
				mu.Lock()
				zeroFills++
				mu.Unlock()
			}
		}}, ops); err != nil {
			fam.violation(0, "the workload with ZeroFill fails without faults: %v", err)
		}
	}
	for _, nth := range dedup(1, (zeroFills+1)/2, zeroFills) {
		if zeroFills == 0 {
			break
		}
		for _, e := range []error{crashfs.EIO, crashfs.ENOSPC} {
			for _, times := range []int{0, 1} {
				for _, wb := range []bool{false, true} {
					cases = append(cases, f6Env{zeroFill: true, fault: crashfs.Fault{Op: crashfs.OpMsync, PathContains: ".seg.tmp", Nth: nth, Err: e, Times: times, Writeback: wb}})
				}
			}
		}
	}
	// A disk that is full before each file creation of the workload (the
	// space in use then, sorted: the creations race with the background
	// preparer, the levels hardly change).
	slices.Sort(allocs)
	allocs = slices.Compact(allocs)
	for j, used := range allocs {
		for _, transient := range []bool{false, true} {
			cases = append(cases, f6Env{capacity: max(used, 1), transient: transient, create: j + 1, creates: len(allocs)})
		}
	}
	first := 0
	if *flagSeed != 0 { // -crash.seed=k replays case k (as printed)
		first = int(*flagSeed) - 1
	}
	last := len(cases)
	if *flagN > 0 {
		last = min(len(cases), first+*flagN)
	}
	var wg sync.WaitGroup
	next := atomic.Int64{}
	next.Store(int64(first))
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= last {
					return
				}
				c := cases[k]
				var (
					fired bool
					err   error
				)
				// The call count varies by one or two between runs (the
				// preparer works in the background): when "the last call"
				// does not come, take the one before it.
				for try := 0; try < 3 && !fired && (c.capacity > 0 && try == 0 || c.fault.Nth-try >= 1); try++ {
					c := c
					c.fault.Nth -= try
					fired, err = f6Run(crashfs.New(), c, ops)
				}
				kind := c.kind()
				fam.add(kind, 1)
				if fired {
					fam.add(strings.TrimSuffix(kind, "cases")+"fired", 1)
				} else if trace {
					fmt.Fprintf(os.Stderr, "f6: case %d (%s) never fired\n", k+1, c.describe(counts))
				}
				if err != nil {
					fam.violation(uint64(k+1), "%s: %v", c.describe(counts), err)
				}
			}
		}()
	}
	wg.Wait()
	fam.summary()
}

// F6 random: random workloads (F2's generator) with one random fault:
// any operation, its 1st to 60th call, EIO or ENOSPC, sticky or once.
// Half the seeds (drawn from a stream of their own; the other half replay
// as before these were added) get an issue-10 class instead: a failed
// write-back of the 1st to 20th msync (writeback-eio), or a disk of 72 KiB
// to 1 MiB that fills up, for good or until its first ENOSPC (disk-full).
func TestF6RandomFaults(t *testing.T) {
	fam := newFamily(t, "F6-random")
	fam.add("sequences", 0)
	fam.add("fired", 0)
	fam.add("writebehind-fired", 0)
	fam.add("killed", 0)
	fam.add("zerofill", 0)
	fam.add("zerofill-failed", 0)
	fam.run("sequences", 500, func(seed uint64) error {
		rng := rand.New(rand.NewPCG(seed, 6))
		env := f6Env{fault: crashfs.Fault{
			Op:    crashfs.AllOps[rng.IntN(len(crashfs.AllOps))],
			Nth:   1 + rng.IntN(60),
			Err:   []error{crashfs.EIO, crashfs.ENOSPC}[rng.IntN(2)],
			Times: rng.IntN(2),
		}}
		if xr := rand.New(rand.NewPCG(seed, 61)); xr.IntN(2) == 0 {
			if xr.IntN(2) == 0 {
				op := []crashfs.Op{crashfs.OpMsync, crashfs.OpWriteBehind}[xr.IntN(2)]
				nth := 1 + xr.IntN(20)
				if op == crashfs.OpWriteBehind {
					nth = 1 + xr.IntN(3) // a sequence rotates a few times at most
				}
				env.fault = crashfs.Fault{Op: op, Nth: nth, Err: env.fault.Err, Times: xr.IntN(2), Writeback: true}
				fam.add("writeback-eio", 1)
			} else {
				env = f6Env{capacity: (18 + xr.Int64N(239)) * crashfs.PageSize, transient: xr.IntN(2) == 0}
				fam.add("disk-full", 1)
			}
		}
		var zeroFault atomic.Bool
		if rand.New(rand.NewPCG(seed, 62)).IntN(2) == 0 {
			env.zeroFill = true
			fam.add("zerofill", 1)
			if zr := rand.New(rand.NewPCG(seed, 63)); zr.IntN(4) == 0 {
				// Aimed at the zero-fill: the msyncs of prepared segments.
				env = f6Env{zeroFill: true, fault: crashfs.Fault{Op: crashfs.OpMsync, PathContains: ".seg.tmp", Nth: 1 + zr.IntN(4), Err: env.fault.Err, Times: zr.IntN(2)}}
				if env.fault.Err == nil {
					env.fault.Err = crashfs.EIO
				}
			}
			env.watch = func(ev crashfs.Event) {
				// A failed msync of a prepared segment: its zero-fill.
				if ev.Op == crashfs.OpMsync && ev.Err != nil && strings.HasSuffix(ev.Path, ".seg.tmp") {
					zeroFault.Store(true)
				}
			}
		}
		if rand.New(rand.NewPCG(seed, 64)).IntN(2) == 0 {
			env.kill = true
		}
		var g *Gen
		n := 10 + rng.IntN(60)
		fired, err := f6RunWith(crashfs.New(), env, func(o *Oracle, rebase bool) (Op, bool) {
			if g == nil {
				g = NewGen(rng, o)
			}
			if rebase || n == 0 {
				return Op{}, false
			}
			n--
			return g.Next(), true
		})
		fam.add("sequences", 1)
		if zeroFault.Load() {
			fam.add("zerofill-failed", 1)
		}
		if fired {
			fam.add("fired", 1)
			if env.kill {
				fam.add("killed", 1)
			}
			if env.fault.Op == crashfs.OpWriteBehind {
				fam.add("writebehind-fired", 1)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", env.describe(nil), err)
		}
		return nil
	})
}

// f6Env is one F6 case: an injected fault, or a full disk.
type f6Env struct {
	fault     crashfs.Fault // Op 0: none
	capacity  int64         // bytes the disk holds (0: unlimited)
	transient bool          // the disk has room again after its first ENOSPC
	// create and creates describe a disk-full case of the matrix: the
	// create-th of creates levels of disk use before a file creation.
	create, creates int
	watch           func(crashfs.Event) // sees every operation (nil: none)
	zeroFill        bool                // Options.ZeroFill: the preparer's msyncs meet the fault too
	// kill: once the fault fired, the process is killed (kill -9) instead
	// of closing its Log, and recovery runs in the restarted process
	// (Snapshot.Restart: the page cache, lost pages and unreported
	// write-back errors survive).
	kill bool
}

// kind is the counter of the case's class.
func (e f6Env) kind() string {
	switch {
	case e.capacity > 0:
		return "disk-full-cases"
	case e.zeroFill && e.fault.PathContains != "":
		return "zerofill-cases"
	case e.fault.Writeback:
		return "writeback-cases"
	}
	return "cases"
}

func (e f6Env) describe(counts map[crashfs.Op]int) string {
	zf := ""
	if e.zeroFill {
		zf = ", ZeroFill"
	}
	if e.kill {
		zf += ", then kill -9"
	}
	if e.capacity > 0 {
		how := "for good"
		if e.transient {
			how = "until the first ENOSPC"
		}
		if e.creates > 0 {
			return fmt.Sprintf("disk full at %d bytes (level %d of %d), %s%s", e.capacity, e.create, e.creates, how, zf)
		}
		return fmt.Sprintf("disk full at %d bytes, %s%s", e.capacity, how, zf)
	}
	c := e.fault
	of := ""
	switch {
	case c.PathContains != "":
		of = " on " + c.PathContains // counted among those only
	case counts != nil:
		of = fmt.Sprintf(" of %d", counts[c.Op])
	}
	wb := ""
	if c.Writeback {
		wb = " (failed write-back: pages marked clean, not on disk)"
	}
	return fmt.Sprintf("%s call %d%s, %v%s, times=%d%s", c.Op, c.Nth, of, c.Err, wb, c.Times, zf)
}

func dedup(xs ...int) []int {
	var out []int
	for _, x := range xs {
		if len(out) == 0 || out[len(out)-1] != x {
			out = append(out, x)
		}
	}
	return out
}

// f6Ops is the scripted workload; purge adds a purge that deletes segments.
func f6Ops(purge bool) []Op {
	fixed := func(n int) func(uint64) int { return func(uint64) int { return n } }
	upto := mmaplog.LogID{Term: 1, Index: 15}
	if !purge {
		upto = mmaplog.LogID{Term: 1, Index: 1}
	}
	return []Op{
		appendOp(entries(1, 1, 8, fixed(5000))...), {Kind: Flush},
		appendOp(entries(1, 9, 20, fixed(9000))...), {Kind: Sync},
		{Kind: Vote, Vote: mmaplog.Vote{Term: 2, NodeID: 1}}, {Kind: Commit, ID: mmaplog.LogID{Term: 1, Index: 10}},
		{Kind: Truncate, Index: 18}, appendOp(entries(2, 18, 30, fixed(7000))...), {Kind: Flush},
		{Kind: Purge, ID: upto}, {Kind: Sync},
		{Kind: UserData, Data: []byte("user")}, appendOp(entry(2, 31, 70000)), {Kind: Sync},
		{Kind: Reopen},
		appendOp(entries(2, 32, 40, fixed(3000))...), {Kind: Flush}, {Kind: Sync},
	}
}

// f6Run runs the workload on fs in env and checks the log's behaviour. It
// reports whether the fault fired (or the disk filled up).
func f6Run(fs *crashfs.FS, env f6Env, ops []Op) (bool, error) {
	k := 0
	return f6RunWith(fs, env, func(o *Oracle, rebase bool) (Op, bool) {
		if rebase {
			ops = append(ops[:k:k], f6Rebase(ops[k:], o)...)
			return Op{}, false
		}
		if k >= len(ops) {
			return Op{}, false
		}
		k++
		return ops[k-1], true
	})
}

// f6RunWith runs the ops next supplies (next(o, true) tells it that the
// log was reopened and recovered to o's state).
func f6RunWith(fs *crashfs.FS, env f6Env, next func(o *Oracle, rebase bool) (Op, bool)) (bool, error) {
	var (
		firedAt  atomic.Int64 // event number when the fault fired (0: not yet)
		events   atomic.Int64
		inOpen   atomic.Bool
		syncErr  atomic.Bool // a sync failed while a Log was open
		badAck   atomic.Value
		firstErr error
	)
	var ft *crashfs.Fault
	if env.fault.Op != 0 {
		ft = fs.Inject(env.fault)
	}
	fs.SetCapacity(env.capacity)
	isSync := func(op crashfs.Op) bool { return op == crashfs.OpMsync || op == crashfs.OpSyncDir }
	fs.SetHook(func(ev crashfs.Event) {
		if env.watch != nil {
			env.watch(ev)
		}
		n := events.Add(1)
		hit := ft != nil && ev.Err != nil && errors.Is(ev.Err, ft.Err) && (ev.Op == ft.Op || asyncWriteback(ft) && isFileSync(ev.Op))
		if env.capacity > 0 && errors.Is(ev.Err, syscall.ENOSPC) {
			hit = true
			if env.transient {
				fs.SetCapacity(0)
			}
		}
		if hit {
			firedAt.CompareAndSwap(0, n)
			// A failed msync of a prepared segment (its zero-fill,
			// Options.ZeroFill) syncs no data of the log: it costs that
			// segment only, and the Log goes on.
			if isSync(ev.Op) && !inOpen.Load() && !strings.HasSuffix(ev.Path, ".seg.tmp") {
				syncErr.Store(true)
			}
		}
	})
	defer fs.SetHook(nil)
	// A write-behind's failed write-back fires silently (the call
	// succeeds, the pages are lost) and is reported by the next sync of
	// the file: from the moment it fired, errors are allowed.
	fired := func() bool { return firedAt.Load() != 0 || asyncWriteback(ft) && fs.Fired(ft) > 0 }
	o := NewOracle()
	d := &driver{fs: fs, o: o, zeroFill: env.zeroFill}
	open := func() error {
		inOpen.Store(true)
		defer inOpen.Store(false)
		l, err := mmaplog.Open(logDir, d.options())
		d.l = l
		return err
	}
	if err := open(); err != nil {
		return fired(), f6AfterOpenError(fired(), err, d)
	}
	// Every acknowledgement after a sync error is a violation.
	ack := func(step int) func(error) {
		return func(err error) {
			if err == nil {
				if syncErr.Load() {
					badAck.Store(fmt.Sprintf("flush at step %d acknowledged after a sync error", step))
				}
				storeMax(&d.acked, int64(step))
			} else if !syncErr.Load() && !fired() {
				badAck.Store(fmt.Sprintf("flush at step %d failed with no fault: %v", step, err))
			}
		}
	}
	for {
		op, ok := next(o, false)
		if !ok {
			break
		}
		if trace {
			fmt.Fprintf(os.Stderr, "f6 op %v (step %d, acked %d)\n", op, o.Steps(), d.acked.Load())
		}
		var err error
		switch op.Kind {
		case Flush:
			err = d.l.Flush(ack(o.Steps()))
		case Sync:
			ch := make(chan error, 1)
			cb := ack(o.Steps())
			if err = d.l.Flush(func(e error) { cb(e); ch <- e }); err == nil {
				err = <-ch
			}
		case Reopen:
			cerr := d.l.Close()
			if cerr == nil && !syncErr.Load() && !fired() {
				storeMax(&d.acked, int64(o.Steps()))
			}
			d.l = nil
			if err = open(); err != nil {
				return fired(), f6AfterOpenError(fired(), err, d)
			}
			// The reopened log goes on from what it recovered; that is
			// durable only once a flush of the new Log succeeds (a nil
			// flush acknowledges every step before it).
			step, cerr := o.Check(d.l, int(d.acked.Load()))
			if cerr != nil {
				firstErr = fmt.Errorf("after reopen: %w", cerr)
				break
			}
			o.Rewind(step)
			syncErr.Store(false)
			next(o, true)
		default:
			// An op that returned an error wrote nothing: none of its steps
			// enter the oracle, so a reopen that shows part of it fails.
			if err = op.Do(d.l); err == nil {
				o.Apply(op)
			}
		}
		if syncErr.Load() && err == nil && op.Kind != Reopen {
			// Give the flusher's failure time to land: the error reaches
			// the writer only through the sticky failure, so allow the op
			// that raced it, then demand ErrFailed.
			if err2 := d.l.Sync(); !errors.Is(err2, mmaplog.ErrFailed) {
				firstErr = fmt.Errorf("after a sync error, Sync returned %w, want ErrFailed", err2)
				break
			}
		}
		if err != nil && !fired() {
			firstErr = fmt.Errorf("%v failed with no fault fired: %w", op, err)
			break
		}
		if err != nil && syncErr.Load() && !errors.Is(err, mmaplog.ErrFailed) && !errors.Is(err, mmaplog.ErrClosed) {
			firstErr = fmt.Errorf("%v after a sync error: %w, want ErrFailed", op, err)
			break
		}
		if firstErr != nil {
			break
		}
	}
	if syncErr.Load() && d.l != nil {
		if err := d.l.Append(mmaplog.Entry{ID: mmaplog.LogID{Term: 9, Index: o.State().Last.Index + 1}}); !errors.Is(err, mmaplog.ErrFailed) {
			firstErr = errors.Join(firstErr, fmt.Errorf("append after a sync error: %w, want ErrFailed", err))
		}
		if err := d.l.Flush(nil); !errors.Is(err, mmaplog.ErrFailed) {
			firstErr = errors.Join(firstErr, fmt.Errorf("flush after a sync error: %w, want ErrFailed", err))
		}
	}
	if d.l != nil && env.kill && fired() {
		killed := fs.Snapshot().Restart()
		_ = d.l.Close() // the old process's Log, on the old file system: cleanup only
		d.l, d.fs, fs = nil, killed, killed
	}
	if d.l != nil {
		cerr := d.l.Close()
		if cerr == nil && !syncErr.Load() {
			storeMax(&d.acked, int64(o.Steps()))
		}
		if cerr == nil && syncErr.Load() {
			firstErr = errors.Join(firstErr, errors.New("Close returned nil after a sync error"))
		}
		d.l = nil
	}
	if v := badAck.Load(); v != nil {
		firstErr = errors.Join(firstErr, errors.New(v.(string)))
	}
	if fired() && firstErr == nil {
		firstErr = f6Recovered(fs, d)
	}
	return fired(), errors.Join(firstErr, f6CheckDisk(d))
}

// f6Recovered is the application's next move once the disk works again
// (faults cleared, room on the disk): it reopens the directory in the same
// boot, so the page cache, including pages whose write-back failed, is
// what recovery reads. The log must come back at an acknowledged-or-later
// step; then one more entry is appended and synced, which acknowledges
// everything the reopened log holds: a later power loss (f6CheckDisk) may
// lose none of it.
func f6Recovered(fs *crashfs.FS, d *driver) error {
	if trace {
		fmt.Fprintf(os.Stderr, "f6: the disk works again; %d pages lost in the page cache\n", fs.LostPages())
	}
	fs.ClearFaults()
	fs.SetCapacity(0)
	l, err := mmaplog.Open(logDir, d.options())
	if errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENOSPC) {
		// A write-back that failed after a write-behind returned, in a
		// file the failed Log never synced again, is reported once to
		// the next sync of the file, as Linux reports an error no one has
		// seen to a new opener: this Open's read of it from the disk. The
		// faults are gone and the disk has room, so it is the only I/O
		// error there can be; the next Open must succeed.
		l, err = mmaplog.Open(logDir, d.options())
	}
	if err != nil {
		return fmt.Errorf("reopen in the same boot once the disk works again: %w", err)
	}
	defer l.Close()
	step, err := d.o.Check(l, int(d.acked.Load()))
	if err != nil {
		return fmt.Errorf("reopen in the same boot once the disk works again: %w", err)
	}
	d.o.Rewind(step)
	st := d.o.State()
	op := appendOp(entry(max(1, st.Last.Term), st.Last.Index+1, 100))
	if err := op.Do(l); err != nil {
		return fmt.Errorf("append after the reopen: %w", err)
	}
	d.o.Apply(op)
	if err := l.Sync(); err != nil {
		return fmt.Errorf("sync after the reopen: %w", err)
	}
	storeMax(&d.acked, int64(d.o.Steps()))
	return nil
}

// f6Rebase renumbers the Append ops still to come so that they follow
// the oracle's Last (a reopen after a failure may have lost a batch).
func f6Rebase(ops []Op, o *Oracle) []Op {
	out := make([]Op, len(ops))
	next := o.State().Last.Index + 1
	term := o.State().Last.Term
	for i, op := range ops {
		out[i] = op
		if op.Kind != Append {
			continue
		}
		es := make([]mmaplog.Entry, len(op.Entries))
		for j, e := range op.Entries {
			term = max(term, e.ID.Term)
			es[j] = mmaplog.Entry{ID: mmaplog.LogID{Term: term, Index: next}, Payload: e.Payload}
			next++
		}
		out[i].Entries = es
	}
	return out
}

// f6AfterOpenError handles Open failing: only an injected fault (or a
// full disk) may make it fail; then the disk must still hold what was
// acknowledged.
func f6AfterOpenError(fired bool, err error, d *driver) error {
	if !fired {
		return fmt.Errorf("open failed with no fault fired: %w", err)
	}
	if errors.Is(err, mmaplog.ErrCorrupt) {
		return fmt.Errorf("open reported corruption for an I/O error: %w", err)
	}
	d.fs.SetHook(nil)
	return errors.Join(f6Recovered(d.fs, d), f6CheckDisk(d))
}

// f6CheckDisk loses everything unsynced and opens the disk with no faults.
func f6CheckDisk(d *driver) error {
	s := d.fs.Snapshot()
	return checkImage(d.o, s.Image(s.DropAll()), int(d.acked.Load()))
}

// asyncWriteback reports whether ft is a write-back failure that happens
// after its call returned (a write-behind's): it is reported by the next
// Msync or Datasync of the file instead.
func asyncWriteback(ft *crashfs.Fault) bool {
	return ft != nil && ft.Writeback && ft.Op == crashfs.OpWriteBehind
}

// isFileSync reports whether op syncs a file's data.
func isFileSync(op crashfs.Op) bool { return op == crashfs.OpMsync || op == crashfs.OpDatasync }
