package mmaplog_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// checkVerifies runs recovery.Verify on a closed log's directory and fails
// on any problem: a rewind must read as a well-formed log to the tools.
func checkVerifies(t testing.TB, dir string) {
	t.Helper()
	rep, err := recovery.Verify(dir)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(rep.Problems) > 0 || rep.OpenErr != nil {
		t.Fatalf("Verify found problems: %v (open error %v)", rep.Problems, rep.OpenErr)
	}
}

func TestRewindRejects(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	logtest.MustAppend(t, l, run(1, 1, 5, 10)...)
	used := l.Stats().BytesUsed
	if err := l.Rewind(lid(1, 0)); !errors.Is(err, mmaplog.ErrNonConsecutive) {
		t.Fatalf("Rewind of a log holding entries = %v, want ErrNonConsecutive", err)
	}
	if got := l.Stats().BytesUsed; got != used {
		t.Fatalf("rejected Rewind wrote %d bytes", got-used)
	}
	checkEntries(t, l, run(1, 1, 5, 10))
	if err := l.Truncate(1); err != nil {
		t.Fatal(err)
	}
	used = l.Stats().BytesUsed
	if err := l.Rewind(mmaplog.LogID{}); !errors.Is(err, mmaplog.ErrLogIDReversal) {
		t.Fatalf("Rewind to the zero LogID = %v, want ErrLogIDReversal", err)
	}
	if got := l.Stats().BytesUsed; got != used {
		t.Fatalf("rejected Rewind wrote %d bytes", got-used)
	}
	logtest.MustClose(t, l)
	if err := l.Rewind(lid(1, 0)); !errors.Is(err, mmaplog.ErrClosed) {
		t.Fatalf("Rewind after Close = %v, want ErrClosed", err)
	}
}

// TestRewind empties a log in the ways a raft store does (a purge through
// the last entry, a truncate of everything after a purge) and restarts it
// below its old purge point, checking the state, the entries, a reopen
// after Close, a reopen after a kill, and Verify.
func TestRewind(t *testing.T) {
	cases := []struct {
		name  string
		empty func(l *mmaplog.Log) error // from entries 1..300 of term 3
		to    mmaplog.LogID
		// committed before and the Committed expected after the rewind
		commit, wantCommit mmaplog.LogID
	}{
		{"purge-all-to-start", func(l *mmaplog.Log) error { return l.Purge(lid(3, 300)) }, lid(1, 0), lid(3, 250), mmaplog.LogID{}},
		{"purge-then-truncate", func(l *mmaplog.Log) error {
			return errors.Join(l.Purge(lid(3, 200)), l.Truncate(201))
		}, lid(2, 9), lid(3, 150), mmaplog.LogID{}},
		{"lower-term-same-index", func(l *mmaplog.Log) error { return l.Purge(lid(3, 300)) }, lid(1, 300), lid(3, 300), mmaplog.LogID{}},
		{"commit-below-kept", func(l *mmaplog.Log) error { return l.Purge(lid(3, 300)) }, lid(4, 100), lid(3, 50), lid(3, 50)},
		{"forward", func(l *mmaplog.Log) error { return l.Purge(lid(3, 300)) }, lid(5, 1000), lid(3, 300), lid(3, 300)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l := logtest.MustOpen(t, dir, smallOpts())
			logtest.MustAppend(t, l, run(3, 1, 300, 1000)...) // several 64 KiB segments
			if err := l.Commit(c.commit); err != nil {
				t.Fatal(err)
			}
			if err := l.SaveVote(vt(7, 2, true)); err != nil {
				t.Fatal(err)
			}
			if err := l.SaveUserData([]byte("kept")); err != nil {
				t.Fatal(err)
			}
			logtest.MustSync(t, l)
			if err := c.empty(l); err != nil {
				t.Fatal(err)
			}
			if err := l.Rewind(c.to); err != nil {
				t.Fatalf("Rewind(%v): %v", c.to, err)
			}
			want := mmaplog.State{Vote: vt(7, 2, true), Last: c.to, Purged: c.to, Committed: c.wantCommit, UserData: []byte("kept")}
			checkState(t, l, want)
			checkEntries(t, l, nil)

			// The next append must follow to.
			if err := l.Append(ent(c.to.Term, c.to.Index+2, 1)); !errors.Is(err, mmaplog.ErrNonConsecutive) {
				t.Fatalf("Append after a gap = %v, want ErrNonConsecutive", err)
			}
			es := run(c.to.Term, c.to.Index+1, c.to.Index+20, 100)
			logtest.MustAppend(t, l, es...)
			if err := l.Commit(lid(c.to.Term, c.to.Index+10)); err != nil {
				t.Fatalf("Commit after the rewind: %v", err)
			}
			want.Last, want.Committed = es[len(es)-1].ID, lid(c.to.Term, c.to.Index+10)
			checkState(t, l, want)
			checkEntries(t, l, es)
			for _, i := range []uint64{1, 150, 300, c.to.Index} {
				if _, err := l.Get(i); i <= c.to.Index && !errors.Is(err, mmaplog.ErrNotFound) {
					t.Fatalf("Get(%d) of the abandoned history = %v, want ErrNotFound", i, err)
				}
			}
			logtest.MustSync(t, l)
			waitRemovals(t, l)
			// Left: the segment open at the rewind and the one the first
			// append rotated to; every older one held only dead entries.
			if n := l.Stats().Segments; n > 2 {
				t.Fatalf("%d segment files after the rewind: the dead ones were not deleted", n)
			}

			killed := logtest.CopyDir(t, dir)
			l = logtest.Reopen(t, l, dir, smallOpts())
			checkState(t, l, want)
			checkEntries(t, l, es)
			logtest.MustClose(t, l)
			checkVerifies(t, dir)

			k := logtest.MustOpen(t, killed, smallOpts())
			checkState(t, k, want)
			checkEntries(t, k, es)
			more := ent(c.to.Term, c.to.Index+21, 5)
			logtest.MustAppend(t, k, more)
			checkEntries(t, k, append(es, more))
			logtest.MustClose(t, k)
			checkVerifies(t, killed)
		})
	}
}

// TestRewindSameSegment rewinds to where the open segment's entries would
// continue anyway, so the next append lands in the same segment after
// entries of the abandoned history: they must stay unreadable.
func TestRewindSameSegment(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	logtest.MustAppend(t, l, run(3, 1, 5, 10)...)
	if err := l.Purge(lid(3, 10)); err != nil { // beyond Last: empties the log
		t.Fatal(err)
	}
	if err := l.Rewind(lid(2, 5)); err != nil {
		t.Fatal(err)
	}
	segs := l.Stats().Segments
	logtest.MustAppend(t, l, ent(2, 6, 10))
	if n := l.Stats().Segments; n != segs {
		t.Fatalf("append rotated (%d -> %d segments); the test wants the same segment", segs, n)
	}
	for range 2 {
		checkState(t, l, mmaplog.State{Last: lid(2, 6), Purged: lid(2, 5)})
		checkEntries(t, l, []mmaplog.Entry{ent(2, 6, 10)})
		for i := uint64(1); i <= 5; i++ {
			if _, err := l.Get(i); !errors.Is(err, mmaplog.ErrNotFound) {
				t.Fatalf("Get(%d) = %v, want ErrNotFound", i, err)
			}
		}
		l = logtest.Reopen(t, l, dir, smallOpts())
	}
	logtest.MustClose(t, l)
	checkVerifies(t, dir)
}

// TestRewindPowerLoss takes power-loss images at every file operation of
// a purge, a rewind and the appends after it: every image opens, and holds
// either the state before the rewind (an empty log at the old purge point)
// or the rewound log with a prefix of the new entries, and never an entry
// of the abandoned history. Once the sync returned, the new entries are in
// every image.
func TestRewindPowerLoss(t *testing.T) {
	const dir = "/log"
	fs := crashfs.New()
	opts := smallOpts()
	opts.FS = fs
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	old := run(3, 1, 120, 1000)
	logtest.MustAppend(t, l, old...)
	logtest.MustSync(t, l)

	var mu sync.Mutex // hooks run on the writer's and the flusher's goroutines
	var snaps []*crashfs.Snapshot
	fs.SetHook(func(crashfs.Event) {
		s := fs.Snapshot()
		mu.Lock()
		snaps = append(snaps, s)
		mu.Unlock()
	})
	if err := l.Purge(lid(3, 120)); err != nil {
		t.Fatal(err)
	}
	if err := l.Rewind(lid(1, 0)); err != nil {
		t.Fatal(err)
	}
	es := run(1, 1, 40, 3000) // rotates at least once
	logtest.MustAppend(t, l, es[:20]...)
	if err := l.Flush(nil); err != nil {
		t.Fatal(err)
	}
	logtest.MustAppend(t, l, es[20:]...)
	logtest.MustSync(t, l)
	fs.SetHook(nil)
	final := fs.Snapshot()
	mu.Lock()
	defer mu.Unlock()
	if len(snaps) < 5 {
		t.Fatalf("only %d file operations traced", len(snaps))
	}

	rng := rand.New(rand.NewPCG(1, uint64(len(snaps))))
	check := func(what string, img *crashfs.FS, needAll bool) {
		t.Helper()
		o := smallOpts()
		o.FS = img
		r, err := mmaplog.Open(dir, o)
		if err != nil {
			t.Fatalf("%s: Open: %v", what, err)
		}
		defer func() { _ = r.Close() }()
		st := r.State()
		got, err := collect(r, 0, 200)
		if err != nil {
			t.Fatalf("%s: read: %v", what, err)
		}
		switch {
		case st.Purged.IsZero() && st.Last == lid(3, 120):
			if !slices.EqualFunc(got, old, sameEntry) {
				t.Fatalf("%s: before the purge but holds %s", what, fmtEntries(got))
			}
		case st.Purged == lid(3, 120) && st.Last == lid(3, 120):
			if len(got) > 0 {
				t.Fatalf("%s: not rewound but holds %s", what, fmtEntries(got))
			}
		case st.Purged == lid(1, 0):
			if len(got) > len(es) || !slices.EqualFunc(got, es[:len(got)], sameEntry) {
				t.Fatalf("%s: rewound log holds %s", what, fmtEntries(got))
			}
			if st.Last.Index != uint64(len(got)) {
				t.Fatalf("%s: Last %v but %d entries", what, st.Last, len(got))
			}
		default:
			t.Fatalf("%s: state %s is neither before nor after the rewind", what, fmtState(st))
		}
		if needAll && len(got) != len(es) {
			t.Fatalf("%s: %d of %d synced entries", what, len(got), len(es))
		}
	}
	for i, s := range snaps {
		check(fmt.Sprintf("op %d, nothing unsynced", i), s.Image(s.DropAll()), false)
		for k := range 3 {
			check(fmt.Sprintf("op %d, random image %d", i, k), s.Crash(rng), false)
		}
	}
	check("after sync, nothing unsynced", final.Image(final.DropAll()), true)
	check("after sync, random image", final.Crash(rng), true)
}
