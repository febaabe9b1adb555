package mmaplog_test

// Batches written through the file (Options.WriteThrough) instead of
// copied into the mapping: readers see them through the mapping, they
// survive a reopen and a power loss like copied ones, the option picks the
// path, and a failed write fails the Log closed.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// throughBatches are batches of mixed sizes: below and above 4 KiB of
// records, with entries small and large, enough to rotate 64 KiB
// segments several times.
func throughBatches() [][]mmaplog.Entry {
	var out [][]mmaplog.Entry
	i := uint64(1)
	for k, shape := range [][2]int{{1, 100}, {8, 1000}, {2, 3000}, {1, 40}, {16, 2000}, {3, 9000}, {1, 5000}, {30, 500}, {2, 20000}, {5, 10}} {
		for range 3 {
			es := run(uint64(1+k/4), i, i+uint64(shape[0])-1, shape[1])
			out = append(out, es)
			i += uint64(shape[0])
		}
	}
	return out
}

// segmentWrites counts the WriteAt calls on segment files in fs.
func segmentWrites(fs *crashfs.FS) *int {
	var mu sync.Mutex
	n := new(int)
	fs.SetHook(func(ev crashfs.Event) {
		if ev.Op == crashfs.OpWriteAt && strings.HasSuffix(ev.Path, ".seg") {
			mu.Lock()
			*n++
			mu.Unlock()
		}
	})
	return n
}

func TestWriteThroughReadsReopensAndVerifies(t *testing.T) {
	for _, wt := range []int{-1, 4 << 10} {
		t.Run(fmt.Sprintf("WriteThrough=%d", wt), func(t *testing.T) {
			fs := crashfs.New()
			writes := segmentWrites(fs)
			opts := smallOpts()
			opts.FS, opts.WriteThrough = fs, wt
			l, err := mmaplog.Open("/log", opts)
			if err != nil {
				t.Fatal(err)
			}
			var all []mmaplog.Entry
			for _, b := range throughBatches() {
				logtest.MustAppend(t, l, b...)
				all = append(all, b...)
				checkEntries(t, l, all) // before any sync: through the mapping
			}
			logtest.MustSync(t, l)
			fs.SetHook(nil)
			switch {
			case wt < 0 && *writes != 0:
				t.Fatalf("WriteThrough %d: %d writes through segment files", wt, *writes)
			case wt > 0 && *writes < 10:
				t.Fatalf("WriteThrough %d: only %d writes through segment files", wt, *writes)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			// Reopened with the other setting: the format is the same.
			opts.WriteThrough = -wt
			l, err = mmaplog.Open("/log", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = l.Close() }()
			checkEntries(t, l, all)
			rep, err := l.Verify(t.Context(), mmaplog.VerifyOptions{})
			if err != nil || len(rep.Problems) > 0 || rep.Segments < 3 {
				t.Fatalf("Verify: %d segments, problems %v, err %v", rep.Segments, rep.Problems, err)
			}
		})
	}
}

// TestWriteThroughFailureFailsClosed: a write through the file that fails
// (EIO) publishes nothing of its batch and fails the Log; what was synced
// before it is all there after a reopen.
func TestWriteThroughFailureFailsClosed(t *testing.T) {
	fs := crashfs.New()
	opts := smallOpts()
	opts.FS, opts.WriteThrough = fs, 4<<10
	l, err := mmaplog.Open("/log", opts)
	if err != nil {
		t.Fatal(err)
	}
	synced := run(1, 1, 10, 1000)
	logtest.MustAppend(t, l, synced...)
	logtest.MustSync(t, l)
	ft := fs.Inject(crashfs.Fault{Op: crashfs.OpWriteAt, Nth: 1, Times: 1, Err: crashfs.EIO, PathContains: ".seg"})
	err = l.Append(run(1, 11, 20, 1000)...)
	if ft.Fired != 1 {
		t.Fatalf("fault fired %d times", ft.Fired)
	}
	if !errors.Is(err, mmaplog.ErrFailed) || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), ".seg at ") {
		t.Fatalf("Append over a failed write: %v, want ErrFailed wrapping EIO, naming the file and offset", err)
	}
	if got := l.State().Last; got != lid(1, 10) {
		t.Fatalf("Last after the failed batch = %v, want 1-10", got)
	}
	if _, err := l.Get(11); !errors.Is(err, mmaplog.ErrNotFound) {
		t.Fatalf("Get(11) after the failed batch: %v", err)
	}
	// Sticky: the next write fails too, even one that would be copied in.
	if err := l.Append(ent(1, 11, 10)); !errors.Is(err, mmaplog.ErrFailed) {
		t.Fatalf("Append after the failure: %v, want ErrFailed", err)
	}
	if err := l.Close(); !errors.Is(err, mmaplog.ErrFailed) {
		t.Fatalf("Close: %v, want the sticky failure", err)
	}
	for name, img := range map[string]*crashfs.FS{"reopen": fs, "power loss": fs.Snapshot().Image(fs.Snapshot().DropAll())} {
		o := opts
		o.FS = img
		r, err := mmaplog.Open("/log", o)
		if err != nil {
			t.Fatalf("%s: Open: %v", name, err)
		}
		checkEntries(t, r, synced)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWriteThroughPowerLoss: a power loss after any file operation of a
// run of written-through batches, each flushed, leaves a log that opens
// and holds a prefix of the batches' entries, never a changed one; every
// entry whose flush completed before the operation is in every image.
func TestWriteThroughPowerLoss(t *testing.T) {
	fs := crashfs.New()
	opts := smallOpts()
	opts.FS, opts.WriteThrough = fs, 4<<10
	l, err := mmaplog.Open("/log", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	type point struct {
		snap   *crashfs.Snapshot
		synced int // entries durable when the snapshot was taken
	}
	var (
		mu     sync.Mutex
		points []point
		synced int
	)
	fs.SetHook(func(crashfs.Event) {
		// synced is read before the snapshot is taken: a sync completing
		// in between (the hook may run on a background goroutine) must
		// not count for a snapshot that predates it.
		mu.Lock()
		n := synced
		mu.Unlock()
		s := fs.Snapshot()
		mu.Lock()
		points = append(points, point{s, n})
		mu.Unlock()
	})
	var all []mmaplog.Entry
	for _, b := range throughBatches() {
		logtest.MustAppend(t, l, b...)
		all = append(all, b...)
		logtest.MustSync(t, l)
		mu.Lock()
		synced = len(all)
		mu.Unlock()
	}
	fs.SetHook(nil)
	mu.Lock()
	defer mu.Unlock()
	rng := rand.New(rand.NewPCG(7, uint64(len(points))))
	for i, p := range points {
		for k := range 3 {
			img := p.snap.Crash(rng)
			if k == 0 {
				img = p.snap.Image(p.snap.DropAll())
			}
			o := opts
			o.FS = img
			r, err := mmaplog.Open("/log", o)
			if err != nil {
				t.Fatalf("op %d image %d: Open: %v", i, k, err)
			}
			got, err := collect(r, 0, uint64(len(all))+1)
			_ = r.Close()
			if err != nil {
				t.Fatalf("op %d image %d: read: %v", i, k, err)
			}
			if len(got) < p.synced || len(got) > len(all) {
				t.Fatalf("op %d image %d: %d entries, %d were durable", i, k, len(got), p.synced)
			}
			for j := range got {
				if !sameEntry(got[j], all[j]) {
					t.Fatalf("op %d image %d: entry %d is %v, want %v", i, k, j, got[j].ID, all[j].ID)
				}
			}
		}
	}
	if len(points) < 50 {
		t.Fatalf("only %d file operations traced", len(points))
	}
}

// TestBatchAfterSyncWrittenThrough: the first few small writes after a
// sync made every earlier write durable (a batch and a commit record, as
// a Raft Ready writes them) go through the file (their pages were
// write-protected by that sync's write-back); after MaxAfterSync of them,
// writes are copied into the mapping until the next sync, and
// WriteThrough -1 copies every write. Either way the entries and the
// commit read back and survive a reopen.
func TestBatchAfterSyncWrittenThrough(t *testing.T) {
	for _, wt := range []int{0, -1} {
		t.Run(fmt.Sprintf("WriteThrough=%d", wt), func(t *testing.T) {
			fs := crashfs.New()
			writes := segmentWrites(fs)
			opts := smallOpts()
			opts.FS, opts.WriteThrough = fs, wt
			l, err := mmaplog.Open("/log", opts)
			if err != nil {
				t.Fatal(err)
			}
			logtest.MustAppend(t, l, ent(1, 1, 100))
			logtest.MustSync(t, l)
			all := []mmaplog.Entry{ent(1, 1, 100)}
			base := *writes
			const synced = 40 // a batch and a commit, then a sync: Raft's pattern
			for i := uint64(2); i < 2+synced; i++ {
				logtest.MustAppend(t, l, ent(1, i, 100+int(i)))
				all = append(all, ent(1, i, 100+int(i)))
				if err := l.Commit(lid(1, i)); err != nil {
					t.Fatal(err)
				}
				logtest.MustSync(t, l)
			}
			afterSyncs := *writes - base
			for i := uint64(2 + synced); i < 2+2*synced; i++ { // one sync for all of them
				logtest.MustAppend(t, l, ent(1, i, 100+int(i)))
				all = append(all, ent(1, i, 100+int(i)))
			}
			logtest.MustSync(t, l)
			pipelined := *writes - base - afterSyncs
			fs.SetHook(nil)
			want, wantPipelined := 2*synced, mmaplog.MaxAfterSync
			if wt < 0 {
				want, wantPipelined = 0, 0
			}
			if afterSyncs != want || pipelined != wantPipelined {
				t.Fatalf("WriteThrough %d: %d writes through the file for %d batches and commits after a sync (want %d), %d for %d unsynced batches (want %d)",
					wt, afterSyncs, 2*synced, want, pipelined, synced, wantPipelined)
			}
			checkEntries(t, l, all)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := mmaplog.Open("/log", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = r.Close() }()
			checkEntries(t, r, all)
			if got := r.State().Committed; got != lid(1, 1+synced) {
				t.Fatalf("Committed after reopen = %v, want %v", got, lid(1, 1+synced))
			}
		})
	}
}

// TestRecordWriteThroughFailureFailsClosed: a commit record written
// through the file after a sync (afterSync) whose write fails (EIO) fails
// the Log, publishes nothing, and leaves what was synced intact.
func TestRecordWriteThroughFailureFailsClosed(t *testing.T) {
	fs := crashfs.New()
	opts := smallOpts()
	opts.FS = fs
	l, err := mmaplog.Open("/log", opts)
	if err != nil {
		t.Fatal(err)
	}
	synced := run(1, 1, 10, 100)
	logtest.MustAppend(t, l, synced...)
	if err := l.Commit(lid(1, 5)); err != nil {
		t.Fatal(err)
	}
	logtest.MustSync(t, l)
	ft := fs.Inject(crashfs.Fault{Op: crashfs.OpWriteAt, Nth: 1, Times: 1, Err: crashfs.EIO, PathContains: ".seg"})
	err = l.Commit(lid(1, 8))
	if ft.Fired != 1 {
		t.Fatalf("fault fired %d times", ft.Fired)
	}
	if !errors.Is(err, mmaplog.ErrFailed) || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "Commit record to ") || !strings.Contains(err.Error(), ".seg at ") {
		t.Fatalf("Commit over a failed write: %v, want ErrFailed wrapping EIO, naming the record, file and offset", err)
	}
	if got := l.State().Committed; got != lid(1, 5) {
		t.Fatalf("Committed after the failed write = %v, want 1-5", got)
	}
	if err := l.Append(ent(1, 11, 10)); !errors.Is(err, mmaplog.ErrFailed) {
		t.Fatalf("Append after the failure: %v, want ErrFailed", err)
	}
	_ = l.Close()
	o := opts
	o.FS = fs.Snapshot().Image(fs.Snapshot().DropAll())
	r, err := mmaplog.Open("/log", o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	checkEntries(t, r, synced)
	if got := r.State().Committed; got != lid(1, 5) {
		t.Fatalf("Committed after a power loss = %v, want 1-5", got)
	}
}
