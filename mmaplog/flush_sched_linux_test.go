package mmaplog_test

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/internal/sched"
	"github.com/raftlog/raftlog/mmaplog"
)

// TestSyncShortSlice checks that a group sync's msyncs run on a thread
// with the short time slice (mmaplog.SyncSlice), on the flusher (Flush)
// and inline (Sync) alike, and that the thread that called Sync has its
// own slice back when Sync returns.
func TestSyncShortSlice(t *testing.T) {
	if !sched.Supported() {
		t.Skip("the kernel takes a fair thread's slice from Linux 6.12 on")
	}
	runtime.LockOSThread() // "the calling thread" below is this one
	defer runtime.UnlockOSThread()
	mine, shown, err := sched.Slice(sched.ThreadID())
	if err != nil {
		t.Fatal(err)
	}
	if !shown {
		t.Skip("this kernel's /proc/<pid>/task/<tid>/sched shows no se.slice")
	}
	if mine == mmaplog.SyncSlice {
		t.Fatalf("this thread's slice is already %v: the test cannot tell", mine)
	}
	fs := crashfs.New()
	var mu sync.Mutex
	var seen []time.Duration // the slice of the thread of each segment msync
	fs.SetSyncHook(func(ev crashfs.Event) {
		if ev.Op != crashfs.OpMsync || !strings.HasSuffix(ev.Path, format.SegmentSuffix) {
			return
		}
		d, _, err := sched.Slice(sched.ThreadID())
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		seen = append(seen, d)
		mu.Unlock()
	})
	o := smallOpts()
	o.FS = fs
	l, err := mmaplog.Open("/log", o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	mu.Lock()
	seen = nil // Open's own syncs of the new segment are no group syncs
	mu.Unlock()
	logtest.MustAppend(t, l, ent(1, 1, 100))
	done := make(chan error, 1)
	if err := l.Flush(func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	logtest.MustAppend(t, l, ent(1, 2, 100))
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 2 {
		t.Fatalf("%d segment msyncs seen, want one for the Flush and one for the Sync", len(seen))
	}
	for i, d := range seen {
		if d != mmaplog.SyncSlice {
			t.Errorf("segment msync %d ran on a thread with a slice of %v, want %v", i, d, mmaplog.SyncSlice)
		}
	}
	if after, _, err := sched.Slice(sched.ThreadID()); err != nil || after != mine {
		t.Errorf("the thread that called Sync has a slice of %v after it (%v), %v before", after, err, mine)
	}
}
