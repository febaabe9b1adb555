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

// TestSyncShortSlice checks that the flusher's group syncs (Flush) run on
// a thread with the short time slice (mmaplog.SyncSlice), and that an
// inline Sync runs on its caller's thread with the caller's own slice.
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
	type msync struct {
		tid   int
		slice time.Duration
	}
	var seen []msync // the thread of each segment msync, and its slice
	fs.SetSyncHook(func(ev crashfs.Event) {
		if ev.Op != crashfs.OpMsync || !strings.HasSuffix(ev.Path, format.SegmentSuffix) {
			return
		}
		tid := sched.ThreadID()
		d, _, err := sched.Slice(tid)
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		seen = append(seen, msync{tid, d})
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
	mu.Lock()
	flushed := seen
	seen = nil
	mu.Unlock()
	if len(flushed) == 0 {
		t.Fatal("no segment msync for the Flush")
	}
	for i, m := range flushed {
		if m.slice != mmaplog.SyncSlice {
			t.Errorf("the Flush's segment msync %d ran on thread %d with a slice of %v, want %v", i, m.tid, m.slice, mmaplog.SyncSlice)
		}
	}
	logtest.MustAppend(t, l, ent(1, 2, 100))
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("no segment msync for the Sync")
	}
	for i, m := range seen {
		if m.tid != sched.ThreadID() || m.slice != mine {
			t.Errorf("the Sync's segment msync %d ran on thread %d with a slice of %v, want this thread (%d) and its own slice %v", i, m.tid, m.slice, sched.ThreadID(), mine)
		}
	}
}
