package mmaplog_test

import (
	"errors"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

func zeroFillOpts(fs *crashfs.FS) mmaplog.Options {
	o := smallOpts()
	o.FS, o.ZeroFill = fs, true
	return o
}

// A zero-fill that fails (its msync of a prepared segment) costs the
// prepared segment, never the Log: the rotation makes a segment of its
// own, every entry is acknowledged, and a power loss keeps them all. A
// new log whose first segment cannot be zero-filled fails to open and
// leaves no file behind.
func TestZeroFillFailure(t *testing.T) {
	fs := crashfs.New()
	ft := fs.Inject(crashfs.Fault{Op: crashfs.OpMsync, PathContains: "prep-0", Err: crashfs.EIO})
	if _, err := mmaplog.Open("/log", zeroFillOpts(fs)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Open with the first segment's zero-fill failing: %v, want EIO", err)
	}
	if fs.Fired(ft) == 0 {
		t.Fatal("the first segment was not zero-filled")
	}
	names, _ := fs.ReadDir("/log")
	for _, n := range names {
		if strings.HasSuffix(n, ".seg") || strings.HasSuffix(n, ".tmp") {
			t.Fatalf("a failed Open left %s behind (files %v)", n, names)
		}
	}

	fs = crashfs.New()
	var warns warnCounter
	opts := zeroFillOpts(fs)
	opts.Logger = slog.New(&warns)
	l, err := mmaplog.Open("/log", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	// Every later zero-fill fails: the segments are prepared by the
	// preparer under prep-N names with N > 0.
	ft = fs.Inject(crashfs.Fault{Op: crashfs.OpMsync, PathContains: ".seg.tmp", Err: crashfs.EIO})
	// Slowly enough that the preparer has time to try (a rotation that
	// finds nothing ready makes its own segment, not zero-filled).
	all := run(1, 1, 3000, 1000)
	var es []mmaplog.Entry
	for _, e := range all {
		logtest.MustAppend(t, l, e)
		logtest.MustSync(t, l)
		es = append(es, e)
		if l.Stats().Segments >= 4 && fs.Fired(ft) >= 2 {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	if st := l.Stats(); st.Segments < 4 || st.Failed != nil || fs.Fired(ft) < 2 {
		t.Fatalf("%d segments, %d zero-fills failed, log failed: %v", st.Segments, fs.Fired(ft), st.Failed)
	}
	if warns.n.Load() == 0 {
		t.Error("the failed zero-fills were not logged")
	}
	snap := fs.Snapshot()
	r, err := mmaplog.Open("/log", zeroFillOpts(snap.Image(snap.DropAll())))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got, err := collect(r, 0, uint64(len(es))+1)
	if err != nil || len(got) != len(es) {
		t.Fatalf("after power loss: %d entries of %d acknowledged, err %v", len(got), len(es), err)
	}
	for i := range got {
		if !sameEntry(got[i], es[i]) {
			t.Fatalf("after power loss: entry %d is %v", i, got[i].ID)
		}
	}
}
