package mmaplog_test

// Every sentinel error path, and "a rejected call writes nothing".

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// baseLog builds a log with entries 2..5 live (1-1 purged), a vote, a
// commit and user data, and returns it with its entries.
func baseLog(t testing.TB, dir string) (*mmaplog.Log, []mmaplog.Entry) {
	t.Helper()
	l := logtest.MustOpen(t, dir, smallOpts())
	es := []mmaplog.Entry{ent(1, 1, 10), ent(1, 2, 10), ent(1, 3, 0), ent(2, 4, 30), ent(2, 5, 7)}
	logtest.MustAppend(t, l, es...)
	for i, f := range []func() error{
		func() error { return l.SaveVote(mmaplog.Vote{Term: 2, NodeID: 3}) },
		func() error { return l.Commit(lid(1, 3)) },
		func() error { return l.Purge(lid(1, 1)) },
		func() error { return l.SaveUserData([]byte("u")) },
	} {
		if err := f(); err != nil {
			t.Fatalf("base step %d: %v", i, err)
		}
	}
	return l, es[1:]
}

// checkRejected runs call, which must fail with one of targets, and checks
// that it wrote nothing: same State, same entries, same BytesUsed, and the
// same State and entries after Close and reopen. It returns the reopened log.
func checkRejected(t testing.TB, l *mmaplog.Log, dir string, call func(*mmaplog.Log) error, targets ...error) *mmaplog.Log {
	t.Helper()
	st := l.State()
	used := l.Stats().BytesUsed
	es, err := collect(l, 0, st.Last.Index+2)
	if err != nil {
		t.Fatalf("Entries before the call: %v", err)
	}
	err = call(l)
	if !slices.ContainsFunc(targets, func(target error) bool { return errors.Is(err, target) }) {
		t.Fatalf("err = %v, want one of %v", err, targets)
	}
	checkState(t, l, st)
	if got := l.Stats().BytesUsed; got != used {
		t.Fatalf("rejected call changed BytesUsed %d -> %d", used, got)
	}
	checkEntries(t, l, es)
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkState(t, l, st)
	checkEntries(t, l, es)
	return l
}

func TestRejectedCallsWriteNothing(t *testing.T) {
	type V = mmaplog.Vote
	cases := []struct {
		name    string
		call    func(*mmaplog.Log) error
		targets []error
	}{
		// ErrNotFound: Truncate outside [Purged.Index+1, Last.Index+1] = [2, 6].
		{"truncate 0", func(l *mmaplog.Log) error { return l.Truncate(0) }, []error{mmaplog.ErrNotFound}},
		{"truncate at purged", func(l *mmaplog.Log) error { return l.Truncate(1) }, []error{mmaplog.ErrNotFound}},
		{"truncate beyond last+1", func(l *mmaplog.Log) error { return l.Truncate(7) }, []error{mmaplog.ErrNotFound}},
		{"truncate max", func(l *mmaplog.Log) error { return l.Truncate(math.MaxUint64) }, []error{mmaplog.ErrNotFound}},

		// ErrVoteReversal (current vote 2:3).
		{"vote lower term", func(l *mmaplog.Log) error { return l.SaveVote(V{Term: 1, NodeID: 3}) }, []error{mmaplog.ErrVoteReversal}},
		{"vote other candidate", func(l *mmaplog.Log) error { return l.SaveVote(V{Term: 2, NodeID: 4}) }, []error{mmaplog.ErrVoteReversal}},
		{"vote back to nobody", func(l *mmaplog.Log) error { return l.SaveVote(V{Term: 2}) }, []error{mmaplog.ErrVoteReversal}},

		// ErrLogIDReversal (Last 2-5, Committed 1-3).
		{"append lower term", func(l *mmaplog.Log) error { return l.Append(ent(1, 6, 1)) }, []error{mmaplog.ErrLogIDReversal}},
		{"append batch, reversal third", func(l *mmaplog.Log) error {
			return l.Append(ent(3, 6, 1), ent(3, 7, 1), ent(2, 8, 1))
		}, []error{mmaplog.ErrLogIDReversal}},
		{"commit lower", func(l *mmaplog.Log) error { return l.Commit(lid(1, 2)) }, []error{mmaplog.ErrLogIDReversal}},
		{"commit lower term", func(l *mmaplog.Log) error { return l.Commit(lid(0, 9)) }, []error{mmaplog.ErrLogIDReversal}},
		{"commit zero", func(l *mmaplog.Log) error { return l.Commit(mmaplog.LogID{}) }, []error{mmaplog.ErrLogIDReversal}},

		// ErrNonConsecutive.
		{"append gap", func(l *mmaplog.Log) error { return l.Append(ent(2, 7, 1)) }, []error{mmaplog.ErrNonConsecutive}},
		{"append same index, higher term", func(l *mmaplog.Log) error { return l.Append(ent(3, 5, 1)) }, []error{mmaplog.ErrNonConsecutive}},
		{"append batch, gap second", func(l *mmaplog.Log) error {
			return l.Append(ent(3, 6, 1), ent(3, 8, 1))
		}, []error{mmaplog.ErrNonConsecutive}},
		{"append large batch, gap last", func(l *mmaplog.Log) error {
			// Big enough to need a rotation before the bad entry is reached.
			return l.Append(append(run(3, 6, 200, 1000), ent(3, 202, 1))...)
		}, []error{mmaplog.ErrNonConsecutive}},
		{"append oversized then gap", func(l *mmaplog.Log) error {
			return l.Append(ent(3, 6, 2*mmaplog.MinSegmentSize), ent(3, 6, 1))
		}, []error{mmaplog.ErrNonConsecutive, mmaplog.ErrLogIDReversal}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l, _ := baseLog(t, dir)
			checkRejected(t, l, dir, c.call, c.targets...)
		})
	}
}

// Index 0 never exists: the first append cannot start there.
func TestAppendIndexZero(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	l = checkRejected(t, l, dir, func(l *mmaplog.Log) error { return l.Append(ent(1, 0, 1)) },
		mmaplog.ErrNonConsecutive, mmaplog.ErrLogIDReversal)
	checkRejected(t, l, dir, func(l *mmaplog.Log) error { return l.Append(ent(1, 0, 1), ent(1, 1, 1)) },
		mmaplog.ErrNonConsecutive, mmaplog.ErrLogIDReversal)
}

func TestGetNotFound(t *testing.T) {
	dir := t.TempDir()
	l, es := baseLog(t, dir)
	for _, i := range []uint64{0, 1, 6, 7, math.MaxUint64} {
		if e, err := l.Get(i); !errors.Is(err, mmaplog.ErrNotFound) {
			t.Errorf("Get(%d) = %v, %v; want ErrNotFound", i, e.ID, err)
		}
	}
	// Entries over ranges with nothing in them: empty, no error.
	for _, r := range [][2]uint64{{0, 2}, {6, 100}, {4, 4}, {5, 3}, {math.MaxUint64 - 1, math.MaxUint64}} {
		got, err := collect(l, r[0], r[1])
		if err != nil || len(got) != 0 {
			t.Errorf("Entries(%d, %d) = %s, %v; want nothing", r[0], r[1], fmtEntries(got), err)
		}
	}
	checkEntries(t, l, es)
}

// Every method after Close: ErrClosed (reads included); a second Close is
// a no-op; State and Stats do not fail.
func TestClosed(t *testing.T) {
	dir := t.TempDir()
	l, _ := baseLog(t, dir)
	logtest.MustClose(t, l)
	called := false
	calls := []struct {
		name string
		call func() error
	}{
		{"Append", func() error { return l.Append(ent(2, 6, 1)) }},
		{"Append()", func() error { return l.Append() }},
		{"SaveVote", func() error { return l.SaveVote(mmaplog.Vote{Term: 9, NodeID: 1}) }},
		{"SaveVote same", func() error { return l.SaveVote(mmaplog.Vote{Term: 2, NodeID: 3}) }},
		{"Commit", func() error { return l.Commit(lid(2, 5)) }},
		{"Truncate", func() error { return l.Truncate(3) }},
		{"Truncate Last+1", func() error { return l.Truncate(6) }},
		{"Purge", func() error { return l.Purge(lid(1, 3)) }},
		{"Purge no-op", func() error { return l.Purge(lid(1, 1)) }},
		{"SaveUserData", func() error { return l.SaveUserData([]byte("x")) }},
		{"SaveUserData nil", func() error { return l.SaveUserData(nil) }},
		{"Flush", func() error { return l.Flush(func(error) { called = true }) }},
		{"Flush nil", func() error { return l.Flush(nil) }},
		{"Sync", l.Sync},
		{"Get", func() error { _, err := l.Get(3); return err }},
		{"Get missing", func() error { _, err := l.Get(100); return err }},
		{"Entries", func() error { _, err := collect(l, 0, 10); return err }},
		{"Dump", func() error { return l.Dump(io.Discard) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, mmaplog.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", c.name, err)
		}
	}
	if called {
		t.Errorf("a Flush callback ran although Flush returned an error")
	}
	_ = l.State()
	_ = l.Stats()
	for range 2 {
		if err := l.Close(); err != nil {
			t.Fatalf("second Close = %v, want nil", err)
		}
	}
	// Nothing was written by the rejected calls.
	l2, es := baseLog(t, t.TempDir())
	want := l2.State()
	l = logtest.MustOpen(t, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, es)
}

func TestInvalidOptions(t *testing.T) {
	for _, size := range []int64{-1, 1, 4096, mmaplog.MinSegmentSize - 1, mmaplog.MaxSegmentSize + 1, math.MinInt64, math.MaxInt64} {
		dir := filepath.Join(t.TempDir(), "log")
		opts := mmaplog.Options{SegmentSize: size}
		if err := opts.Validate(); !errors.Is(err, mmaplog.ErrInvalidOptions) {
			t.Errorf("Validate(SegmentSize %d) = %v, want ErrInvalidOptions", size, err)
		}
		l, err := mmaplog.Open(dir, opts)
		if !errors.Is(err, mmaplog.ErrInvalidOptions) {
			if l != nil {
				_ = l.Close()
			}
			t.Errorf("Open(SegmentSize %d) = %v, want ErrInvalidOptions", size, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open(SegmentSize %d) touched the disk before validating: %v", size, err)
		}
	}
	for _, size := range []int64{0, mmaplog.MinSegmentSize, mmaplog.MaxSegmentSize, mmaplog.DefaultSegmentSize} {
		if err := (mmaplog.Options{SegmentSize: size}).Validate(); err != nil {
			t.Errorf("Validate(SegmentSize %d) = %v", size, err)
		}
	}
}

// ErrLocked: a second Open of the same directory in this process, and a
// lock held by someone else; the holder is not disturbed.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	logtest.MustAppend(t, l, ent(1, 1, 10))
	before := segFiles(t, dir)
	for range 2 {
		l2, err := mmaplog.Open(dir, smallOpts())
		if !errors.Is(err, mmaplog.ErrLocked) {
			if l2 != nil {
				_ = l2.Close()
			}
			t.Fatalf("second Open = %v, want ErrLocked", err)
		}
	}
	if got := segFiles(t, dir); !slices.Equal(got, before) {
		t.Fatalf("a refused Open changed the files: %v -> %v", before, got)
	}
	logtest.MustAppend(t, l, ent(1, 2, 10))
	logtest.MustSync(t, l)
	checkEntries(t, l, run(1, 1, 2, 10))
	logtest.MustClose(t, l)
	l = logtest.MustOpen(t, dir, smallOpts())
	checkEntries(t, l, run(1, 1, 2, 10))
	logtest.MustClose(t, l)

	// Another holder of the lock file (as another process would hold it).
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if l2, err := mmaplog.Open(dir, smallOpts()); !errors.Is(err, mmaplog.ErrLocked) {
		if l2 != nil {
			_ = l2.Close()
		}
		t.Fatalf("Open with LOCK held elsewhere = %v, want ErrLocked", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	l = logtest.MustOpen(t, dir, smallOpts())
	checkEntries(t, l, run(1, 1, 2, 10))
}

func expectOpenFails(t testing.TB, dir string) {
	t.Helper()
	l, err := mmaplog.Open(dir, smallOpts())
	if err == nil {
		_ = l.Close()
		t.Fatalf("Open(%s) succeeded", dir)
	}
	if l != nil {
		t.Fatalf("Open(%s) returned a Log with error %v", dir, err)
	}
}

func TestOpenOnRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectOpenFails(t, path)
	expectOpenFails(t, filepath.Join(path, "sub"))
	if b, err := os.ReadFile(path); err != nil || string(b) != "not a directory" {
		t.Fatalf("the file was changed: %q, %v", b, err)
	}
}

// Even root cannot create files in /proc/self/fd.
func TestOpenOnUnwritableDirectory(t *testing.T) {
	expectOpenFails(t, "/proc/self/fd")
	expectOpenFails(t, "/proc/self/fd/new/log")
}

// Names the log uses, taken by directories: Open fails, without panicking.
func TestOpenWithDirectoriesInTheWay(t *testing.T) {
	for _, name := range []string{"LOCK", "00000000000000000001.seg"} {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		expectOpenFails(t, dir)
	}
}

// A segment left empty by a crash during creation is handled: the log
// opens empty and works.
func TestOpenEmptySegmentFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.seg"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l := logtest.MustOpen(t, dir, smallOpts())
	checkState(t, l, mmaplog.State{})
	logtest.MustAppend(t, l, ent(1, 1, 5))
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkEntries(t, l, run(1, 1, 1, 5))
}
