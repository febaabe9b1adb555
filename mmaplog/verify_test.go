package mmaplog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// unlimited verifies as fast as the disk goes.
var unlimited = mmaplog.VerifyOptions{Rate: -1}

// sealedLog opens a log in dir with 64 KiB segments and writes entries
// 1..n of size bytes, synced: every segment but the last is sealed.
func sealedLog(t testing.TB, dir string, opts mmaplog.Options, n uint64, size int) *mmaplog.Log {
	t.Helper()
	l := logtest.MustOpen(t, dir, opts)
	for i := uint64(1); i <= n; i += 50 {
		logtest.MustAppend(t, l, run(1, i, min(i+49, n), size)...)
	}
	logtest.MustSync(t, l)
	return l
}

func segPath(dir string, id uint64) string { return filepath.Join(dir, fmt.Sprintf("%020d.seg", id)) }
func idxPath(dir string, id uint64) string { return filepath.Join(dir, fmt.Sprintf("%020d.idx", id)) }

// mustVerify runs Verify and fails on an error.
func mustVerify(t testing.TB, l *mmaplog.Log, opts mmaplog.VerifyOptions) mmaplog.VerifyReport {
	t.Helper()
	rep, err := l.Verify(context.Background(), opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

// errorLog records the messages logged at Error level.
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (h *errorLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *errorLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.mu.Lock()
		h.msgs = append(h.msgs, r.Message)
		h.mu.Unlock()
	}
	return nil
}
func (h *errorLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorLog) WithGroup(string) slog.Handler      { return h }

func (h *errorLog) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.msgs)
}

// A clean log: every sealed segment is checked, nothing is found, and
// the counters say so.
func TestVerifyClean(t *testing.T) {
	dir := t.TempDir()
	l := sealedLog(t, dir, smallOpts(), 400, 1000)
	segs := len(segFiles(t, dir))
	if segs < 4 {
		t.Fatalf("only %d segments", segs)
	}
	rep := mustVerify(t, l, unlimited)
	if rep.Segments != segs-1 || rep.Skipped != 0 {
		t.Fatalf("checked %d segments (skipped %d); want the %d sealed ones", rep.Segments, rep.Skipped, segs-1)
	}
	if len(rep.Problems) != 0 {
		t.Fatalf("problems in a clean log: %v", rep.Problems)
	}
	if rep.Entries < 300 || rep.Records <= rep.Entries || rep.Bytes < int64(rep.Entries)*1000 {
		t.Fatalf("report %+v: too little checked", rep)
	}
	if len(rep.Digests) != rep.Segments {
		t.Fatalf("%d digests for %d segments", len(rep.Digests), rep.Segments)
	}
	st := l.Stats().Verify
	if st.Runs != 1 || st.Segments != uint64(rep.Segments) || st.BytesChecked != rep.Bytes ||
		st.Problems != 0 || st.LastRunProblems != 0 || st.LastProblem != nil || st.LastRun.IsZero() {
		t.Fatalf("Stats.Verify = %+v after one clean pass of %+v", st, rep)
	}
	// Reopened, the segments recovery found sealed are checked too.
	l = logtest.Reopen(t, l, dir, smallOpts())
	if rep := mustVerify(t, l, unlimited); rep.Segments != segs-1 || len(rep.Problems) != 0 {
		t.Fatalf("after reopen: %d segments checked (want %d), problems %v", rep.Segments, segs-1, rep.Problems)
	}
}

// Damage written into a sealed segment or its index on disk while the log
// is open is found, and reported by the report, Stats, the logger and the
// callback; the entry and offset are named.
func TestVerifyFindsDamage(t *testing.T) {
	entry := lid(1, 100) // in segment 2
	cases := []struct {
		name string
		file func(dir string) string
		off  func(t *testing.T, dir string) int64
		want func(t *testing.T, ce *mmaplog.CorruptError, dir string, at int64)
	}{
		{"payload", segFile, func(t *testing.T, dir string) int64 {
			t.Helper()
			return int64(findMarker(t, segFile(dir), entry)) + 30
		}, func(t *testing.T, ce *mmaplog.CorruptError, dir string, at int64) {
			t.Helper()
			// The record starts at the frame: 24 + 16 bytes before the payload.
			if ce.Index != entry.Index || ce.Offset > at || at-ce.Offset > 80 {
				t.Errorf("problem %v: want entry %d, the record holding offset %d", ce, entry.Index, at)
			}
		}},
		{"frame length", segFile, func(t *testing.T, dir string) int64 {
			t.Helper()
			return int64(findMarker(t, segFile(dir), entry)) - 16 - 24 + 5
		}, func(t *testing.T, ce *mmaplog.CorruptError, dir string, at int64) {
			t.Helper()
			if ce.Offset != at-5 || ce.Index != entry.Index {
				t.Errorf("problem %v: want entry %d at offset %d", ce, entry.Index, at-5)
			}
		}},
		{"segment header", segFile, func(*testing.T, string) int64 { return 20 }, nil},
		{"index header", idxFile, func(*testing.T, string) int64 { return 30 }, nil},
		{"index slot", idxFile, func(*testing.T, string) int64 { return 128 + 4*3 }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			logged := &errorLog{}
			opts := smallOpts()
			opts.Logger = slog.New(logged)
			l := sealedLog(t, dir, opts, 400, 1000)
			if clean := mustVerify(t, l, unlimited); len(clean.Problems) != 0 {
				t.Fatalf("before the damage: %v", clean.Problems)
			}
			at := tc.off(t, dir)
			logtest.Flip(t, tc.file(dir), at, 1)
			var called []*mmaplog.CorruptError
			vo := unlimited
			vo.OnProblem = func(ce *mmaplog.CorruptError) { called = append(called, ce) }
			rep := mustVerify(t, l, vo)
			if len(rep.Problems) != 1 {
				t.Fatalf("want 1 problem, got %v", rep.Problems)
			}
			ce := rep.Problems[0]
			t.Logf("found: %v", ce)
			if !errors.Is(ce, mmaplog.ErrCorrupt) || ce.Path != tc.file(dir) {
				t.Fatalf("problem %v: want one in %s", ce, tc.file(dir))
			}
			if tc.want != nil {
				tc.want(t, ce, dir, at)
			}
			if len(called) != 1 || called[0] != ce {
				t.Errorf("OnProblem got %v, want %v", called, ce)
			}
			if logged.count() != 1 {
				t.Errorf("logged %d errors, want 1", logged.count())
			}
			st := l.Stats().Verify
			if st.Runs != 2 || st.Problems != 1 || st.LastRunProblems != 1 || !errors.Is(st.LastProblem, mmaplog.ErrCorrupt) {
				t.Errorf("Stats.Verify = %+v", st)
			}
			if len(rep.Digests) != rep.Segments-1 {
				t.Errorf("%d digests for %d segments, one damaged", len(rep.Digests), rep.Segments)
			}
			// Damage that stays is found again by the next pass.
			if rep := mustVerify(t, l, unlimited); len(rep.Problems) != 1 || l.Stats().Verify.Problems != 2 {
				t.Errorf("second pass: %v, Stats %+v", rep.Problems, l.Stats().Verify)
			}
		})
	}
}

// segFile and idxFile are the files of segment 2, sealed in sealedLog.
func segFile(dir string) string { return segPath(dir, 2) }
func idxFile(dir string) string { return idxPath(dir, 2) }

// The open segment is never read: damage there is not the verifier's.
func TestVerifySkipsOpenSegment(t *testing.T) {
	dir := t.TempDir()
	l := sealedLog(t, dir, smallOpts(), 400, 1000)
	segs := segFiles(t, dir)
	last := filepath.Join(dir, segs[len(segs)-1])
	id := lid(1, 400)
	logtest.Flip(t, last, int64(findMarker(t, last, id))+30, 1)
	rep := mustVerify(t, l, unlimited)
	if rep.Segments != len(segs)-1 || len(rep.Problems) != 0 {
		t.Fatalf("checked %d of %d segments, problems %v", rep.Segments, len(segs), rep.Problems)
	}
	if _, err := l.Get(400); !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("Get of the damaged entry in the open segment: %v", err)
	}
}

// stepClock is a fake clock: Sleep advances it at once, adds up what was
// slept and calls hook (if set) each time.
type stepClock struct {
	mu     sync.Mutex
	now    time.Time
	slept  time.Duration
	sleeps int
	hook   func(n int) // called outside mu with the sleep count
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept += d
	c.sleeps++
	n, hook := c.sleeps, c.hook
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return ctx.Err()
}

// Verify paces its reads: with a clock that only moves when slept, the
// time slept is the bytes read (but the last read) over the rate.
func TestVerifyRate(t *testing.T) {
	dir := t.TempDir()
	l := sealedLog(t, dir, smallOpts(), 600, 1000)
	for _, rate := range []int64{1 << 20, mmaplog.DefaultVerifyRate} {
		clk := &stepClock{now: time.Unix(1000, 0)}
		opts := mmaplog.VerifyOptions{Rate: rate}
		if rate == mmaplog.DefaultVerifyRate {
			opts.Rate = 0 // the default
		}
		rep := mustVerify(t, l, mmaplog.WithVerifyClock(opts, clk))
		lo := time.Duration(float64(rep.Bytes-mmaplog.VerifyChunk) / float64(rate) * float64(time.Second))
		hi := time.Duration(float64(rep.Bytes) / float64(rate) * float64(time.Second))
		t.Logf("rate %d: %d bytes, slept %v in %d sleeps (bounds %v..%v)", rate, rep.Bytes, clk.slept, clk.sleeps, lo, hi)
		if clk.slept < lo || clk.slept > hi {
			t.Errorf("rate %d B/s: slept %v for %d bytes; want %v..%v", rate, clk.slept, rep.Bytes, lo, hi)
		}
		if min := int(rep.Bytes/mmaplog.VerifyChunk) - 1; clk.sleeps < min {
			t.Errorf("rate %d B/s: %d sleeps for %d bytes; want at least %d", rate, clk.sleeps, rep.Bytes, min)
		}
	}
	clk := &stepClock{now: time.Unix(1000, 0)}
	if mustVerify(t, l, mmaplog.WithVerifyClock(unlimited, clk)); clk.sleeps != 0 {
		t.Errorf("unlimited rate: %d sleeps", clk.sleeps)
	}
}

// A segment purged and deleted while it is being verified is skipped
// without a problem, and without a fault.
func TestVerifyPurgedWhileVerified(t *testing.T) {
	dir := t.TempDir()
	l := sealedLog(t, dir, smallOpts(), 400, 1000)
	segs := len(segFiles(t, dir))
	clk := &stepClock{now: time.Unix(1000, 0)}
	clk.hook = func(n int) {
		if n != 1 {
			return
		}
		if err := l.Purge(lid(1, 390)); err != nil {
			t.Error(err)
		}
		logtest.MustSync(t, l)
		deadline := time.Now().Add(10 * time.Second)
		for l.Stats().PendingRemovals > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	rep := mustVerify(t, l, mmaplog.WithVerifyClock(mmaplog.VerifyOptions{Rate: 1 << 20}, clk))
	if len(rep.Problems) != 0 || rep.Skipped == 0 || rep.Segments+rep.Skipped != segs-1 {
		t.Fatalf("report %+v: want the purged segments skipped without problems (%d sealed)", rep, segs-1)
	}
	if st := l.Stats(); st.PendingRemovals != 0 || st.Segments >= segs || st.Verify.Problems != 0 {
		t.Fatalf("Stats %+v: want the purged segments gone and no problem", st)
	}
}

// Close during a pass ends it with ErrClosed, a partial report and no
// problem.
func TestVerifyClosedWhileVerified(t *testing.T) {
	dir := t.TempDir()
	l := sealedLog(t, dir, smallOpts(), 400, 1000)
	clk := &stepClock{now: time.Unix(1000, 0)}
	clk.hook = func(n int) {
		if n == 2 {
			logtest.MustClose(t, l)
		}
	}
	rep, err := l.Verify(context.Background(), mmaplog.WithVerifyClock(mmaplog.VerifyOptions{Rate: 1 << 20}, clk))
	if !errors.Is(err, mmaplog.ErrClosed) || len(rep.Problems) != 0 || rep.Bytes == 0 {
		t.Fatalf("Verify across Close: %+v, %v; want ErrClosed, no problem", rep, err)
	}
	if _, err := l.Verify(context.Background(), unlimited); !errors.Is(err, mmaplog.ErrClosed) {
		t.Fatalf("Verify after Close: %v", err)
	}
	// A cancelled context ends a pass too.
	l = logtest.MustOpen(t, dir, smallOpts())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Verify(ctx, unlimited); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with a cancelled context: %v", err)
	}
}

// Verification runs concurrently with appends (rotations, seals), purges
// (segments deleted while verified) and finally Close, without a problem,
// a fault or an error other than ErrClosed.
func TestVerifyConcurrent(t *testing.T) {
	dir := t.TempDir()
	l := sealedLog(t, dir, smallOpts(), 200, 1000)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	last := uint64(200)
	wg.Add(2)
	go func() { // writer
		defer wg.Done()
		for i := uint64(201); ; i += 10 {
			select {
			case <-stop:
				return
			default:
			}
			if err := l.Append(run(1, i, i+9, 700)...); err != nil {
				t.Error(err)
				return
			}
			if err := l.Sync(); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			last = i + 9
			mu.Unlock()
		}
	}()
	go func() { // purger
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			mu.Lock()
			upto := last - 150
			mu.Unlock()
			if err := l.Purge(lid(1, upto)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var segments, skipped int
	for k := 0; k < 30; k++ {
		rep := mustVerify(t, l, unlimited)
		if len(rep.Problems) != 0 {
			t.Fatalf("pass %d: problems %v", k, rep.Problems)
		}
		segments += rep.Segments
		skipped += rep.Skipped
	}
	close(stop)
	wg.Wait()
	t.Logf("30 passes: %d segments checked, %d skipped (purged meanwhile), up to entry %d", segments, skipped, last)
	if segments == 0 {
		t.Fatal("nothing was checked")
	}
	// Close while passes run.
	done := make(chan error, 2)
	for range 2 {
		go func() {
			for {
				rep, err := l.Verify(context.Background(), unlimited)
				if len(rep.Problems) != 0 {
					done <- fmt.Errorf("problems %v", rep.Problems)
					return
				}
				if err != nil {
					done <- err
					return
				}
			}
		}()
	}
	time.Sleep(5 * time.Millisecond)
	logtest.MustClose(t, l)
	for range 2 {
		if err := <-done; !errors.Is(err, mmaplog.ErrClosed) {
			t.Fatalf("Verify racing Close: %v", err)
		}
	}
}

// The background verifier finds damage by itself and reports it through
// the callback and Stats; Close stops it.
func TestBackgroundVerifier(t *testing.T) {
	dir := t.TempDir()
	found := make(chan *mmaplog.CorruptError, 100)
	opts := smallOpts()
	opts.Verify = mmaplog.VerifierOptions{Interval: 5 * time.Millisecond, Rate: -1,
		OnProblem: func(ce *mmaplog.CorruptError) { found <- ce }}
	l := sealedLog(t, dir, opts, 400, 1000)
	runs := l.Stats().Verify.Runs
	deadline := time.Now().Add(10 * time.Second)
	for l.Stats().Verify.Runs < runs+2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := l.Stats().Verify; st.Runs < runs+2 || st.Problems != 0 || st.Segments == 0 {
		t.Fatalf("Stats.Verify = %+v: want clean passes", st)
	}
	logtest.Flip(t, segFile(dir), int64(findMarker(t, segFile(dir), lid(1, 100)))+30, 1)
	select {
	case ce := <-found:
		if ce.Path != segFile(dir) || ce.Index != 100 {
			t.Fatalf("found %v; want entry 100 in %s", ce, segFile(dir))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the background verifier did not find the damage")
	}
	if st := l.Stats().Verify; st.Problems == 0 || !errors.Is(st.LastProblem, mmaplog.ErrCorrupt) {
		t.Fatalf("Stats.Verify = %+v after damage", st)
	}
	start := time.Now()
	logtest.MustClose(t, l)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v with the background verifier running", d)
	}
	runs = l.Stats().Verify.Runs
	time.Sleep(20 * time.Millisecond)
	if l.Stats().Verify.Runs != runs {
		t.Fatal("the background verifier runs after Close")
	}

	bad := smallOpts()
	bad.Verify.Interval = -time.Second
	if _, err := mmaplog.Open(t.TempDir(), bad); !errors.Is(err, mmaplog.ErrInvalidOptions) {
		t.Fatalf("Open with a negative Verify.Interval: %v", err)
	}
}

// A sealed index whose slots fail their seal when the log opens (a crash
// tore the seal) is not damage: the log rebuilds the slots on first use.
// Verify counts it as unproven until then, and checks it once resealed.
func TestVerifyUnprovenSlots(t *testing.T) {
	dir := t.TempDir()
	l := sealedLog(t, dir, smallOpts(), 400, 1000)
	logtest.MustClose(t, l)
	logtest.Flip(t, idxFile(dir), 128+4*3, 1)
	l = logtest.MustOpen(t, dir, smallOpts())
	rep := mustVerify(t, l, unlimited)
	if len(rep.Problems) != 0 || rep.Unproven != 1 {
		t.Fatalf("torn seal, unused: problems %v, unproven %d; want none and 1", rep.Problems, rep.Unproven)
	}
	if _, err := l.Get(100); err != nil { // segment 2: rebuilds and reseals
		t.Fatal(err)
	}
	rep = mustVerify(t, l, unlimited)
	if len(rep.Problems) != 0 || rep.Unproven != 0 || len(rep.Digests) != rep.Segments {
		t.Fatalf("after the rebuild: problems %v, unproven %d, %d digests of %d", rep.Problems, rep.Unproven, len(rep.Digests), rep.Segments)
	}
	// Damage to the slots the log now uses is damage.
	logtest.Flip(t, idxFile(dir), 128+4*5, 1)
	if rep := mustVerify(t, l, unlimited); len(rep.Problems) != 1 || rep.Problems[0].Path != idxFile(dir) {
		t.Fatalf("slot damaged after the rebuild: %v", rep.Problems)
	}
}

// Segments larger than the verifier's window: records cross window
// boundaries, and one record is larger than the window.
func TestVerifyLargeSegments(t *testing.T) {
	dir := t.TempDir()
	opts := mmaplog.Options{SegmentSize: 4 << 20, Logger: quiet}
	l := logtest.MustOpen(t, dir, opts)
	i := uint64(1)
	for n := 0; n < 1500; n++ {
		size := 32 + (n*7919)%20000
		if n == 700 {
			size = 3 << 20 // larger than the window
		}
		logtest.MustAppend(t, l, ent(1, i, size))
		i++
	}
	logtest.MustSync(t, l)
	segs := len(segFiles(t, dir))
	if segs < 4 {
		t.Fatalf("only %d segments", segs)
	}
	rep := mustVerify(t, l, unlimited)
	if rep.Segments != segs-1 || len(rep.Problems) != 0 || rep.Entries == 0 {
		t.Fatalf("report %+v (%d segments)", rep, segs)
	}
	mapped, err := l.SegmentDigests()
	if err != nil {
		t.Fatal(err)
	}
	for k := range mapped {
		if rep.Digests[k] != mapped[k] {
			t.Fatalf("segment %d: disk digest %v, mapping %v", mapped[k].Segment, rep.Digests[k], mapped[k])
		}
	}
	// Damage entries in the middle of segment 2, one after the other:
	// each is found wherever the window boundaries fall.
	second := mapped[1]
	if second.Segment != 2 || second.Entries < 100 {
		t.Fatalf("segment 2 holds %v", second.Digest)
	}
	for _, idx := range []uint64{second.First + 1, second.First + second.Entries/2, second.Last} {
		path := segFile(dir)
		at := int64(findMarker(t, path, lid(1, idx))) + 20
		logtest.Flip(t, path, at, 1)
		rep := mustVerify(t, l, unlimited)
		if len(rep.Problems) != 1 || rep.Problems[0].Index != idx {
			t.Fatalf("damage in entry %d: found %v", idx, rep.Problems)
		}
		logtest.Flip(t, path, at, 1) // undo
		if rep := mustVerify(t, l, unlimited); len(rep.Problems) != 0 {
			t.Fatalf("after undoing: %v", rep.Problems)
		}
	}
}
