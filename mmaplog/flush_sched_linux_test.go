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

// TestSyncShortSlice checks which group syncs ask for the short time
// slice (mmaplog.SyncSlice): the flusher's sync of a group that coalesced
// several Flush calls does; a group of one Flush does not, and an inline
// Sync runs on its caller's thread with the caller's own slice.
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
	type msync struct {
		tid   int
		slice time.Duration
	}
	var (
		mu      sync.Mutex
		seen    []msync       // the thread of each segment msync, and its slice
		hold    chan struct{} // when set, the next segment msync waits for it to close
		holding = make(chan struct{}, 1)
	)
	fs := crashfs.New()
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
		h := hold
		hold = nil
		mu.Unlock()
		if h != nil {
			holding <- struct{}{}
			<-h
		}
	})
	o := smallOpts()
	o.FS = fs
	l, err := mmaplog.Open("/log", o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	take := func() []msync {
		mu.Lock()
		defer mu.Unlock()
		out := seen
		seen = nil
		return out
	}
	take() // Open's own syncs of the new segment are no group syncs

	// A group of one Flush, held in its msync while two more Flush calls
	// queue up behind it: they make the next group.
	release := make(chan struct{})
	mu.Lock()
	hold = release
	mu.Unlock()
	done := make(chan error, 3)
	cb := func(err error) { done <- err }
	logtest.MustAppend(t, l, ent(1, 1, 100))
	if err := l.Flush(cb); err != nil {
		t.Fatal(err)
	}
	<-holding
	for i := uint64(2); i <= 3; i++ {
		logtest.MustAppend(t, l, ent(1, i, 100))
		if err := l.Flush(cb); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	flushed := take()
	if len(flushed) < 2 {
		t.Fatalf("%d segment msyncs for two groups of flushes", len(flushed))
	}
	if one := flushed[0]; one.slice == mmaplog.SyncSlice {
		t.Errorf("the group of one Flush ran its msync on thread %d with the short slice %v", one.tid, one.slice)
	}
	for i, m := range flushed[1:] {
		if m.slice != mmaplog.SyncSlice {
			t.Errorf("the group of two Flush calls ran msync %d on thread %d with a slice of %v, want %v", i, m.tid, m.slice, mmaplog.SyncSlice)
		}
	}

	logtest.MustAppend(t, l, ent(1, 4, 100))
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	synced := take()
	if len(synced) == 0 {
		t.Fatal("no segment msync for the Sync")
	}
	for i, m := range synced {
		if m.tid != sched.ThreadID() || m.slice != mine {
			t.Errorf("the Sync's segment msync %d ran on thread %d with a slice of %v, want this thread (%d) and its own slice %v", i, m.tid, m.slice, sched.ThreadID(), mine)
		}
	}
}
