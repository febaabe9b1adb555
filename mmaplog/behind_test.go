package mmaplog_test

// Write-behind (Options.WriteBehind): a segment left at a rotation with
// bytes no sync was asked for has their write-back started by the
// flusher; a log synced often never asks; the bytes read back and survive
// like any others; a write-back that fails after the call fails the next
// sync, never an acknowledged entry.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// behindCalls counts the successful StartWriteback calls on segment files.
func behindCalls(fs *crashfs.FS) func() int {
	var mu sync.Mutex
	n := 0
	fs.SetHook(func(ev crashfs.Event) {
		if ev.Op == crashfs.OpWriteBehind && ev.Err == nil && strings.HasSuffix(ev.Path, ".seg") {
			mu.Lock()
			n++
			mu.Unlock()
		}
	})
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// waitFor polls cond for up to 10 s and reports whether it became true.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

func behindOpts(fs *crashfs.FS, behind int) mmaplog.Options {
	o := smallOpts()
	o.FS, o.WriteBehind = fs, behind
	return o
}

func TestWriteBehindAtRotation(t *testing.T) {
	fs := crashfs.New()
	calls := behindCalls(fs)
	l, err := mmaplog.Open("/log", behindOpts(fs, 16<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	es := run(1, 1, 300, 1000) // about 5 segments of 64 KiB, no sync
	for i := range es {
		logtest.MustAppend(t, l, es[i])
	}
	rotated := l.Stats().Segments - 1
	if rotated < 3 {
		t.Fatalf("only %d rotations", rotated)
	}
	// One write-behind per segment left, of (nearly) all of it.
	if !waitFor(func() bool { return calls() >= rotated }) {
		t.Fatalf("%d write-behinds for %d rotations", calls(), rotated)
	}
	if got, min := l.Stats().WrittenBehind, int64(rotated)*mmaplog.MinSegmentSize*3/4; got < min {
		t.Fatalf("WrittenBehind = %d bytes after %d rotations, want >= %d", got, rotated, min)
	}
	if calls() != rotated {
		t.Fatalf("%d write-behinds for %d rotations", calls(), rotated)
	}
	got, err := collect(l, 0, 301)
	if err != nil || len(got) != len(es) {
		t.Fatalf("read back %d entries, err %v", len(got), err)
	}
	logtest.MustSync(t, l)
	snap := fs.Snapshot()
	r, err := mmaplog.Open("/log", behindOpts(snap.Image(snap.DropAll()), 16<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got, err = collect(r, 0, 301)
	if err != nil || len(got) != len(es) {
		t.Fatalf("after power loss: %d entries, err %v", len(got), err)
	}
	for i := range got {
		if !sameEntry(got[i], es[i]) {
			t.Fatalf("after power loss: entry %d is %v", i, got[i].ID)
		}
	}
}

// A log whose syncs keep up, or with write-behind off, never asks.
func TestWriteBehindNotAsked(t *testing.T) {
	for _, c := range []struct {
		name   string
		behind int
		sync   bool
	}{{"synced", 16 << 10, true}, {"off", -1, false}} {
		t.Run(c.name, func(t *testing.T) {
			fs := crashfs.New()
			calls := behindCalls(fs)
			l, err := mmaplog.Open("/log", behindOpts(fs, c.behind))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = l.Close() }()
			for _, e := range run(1, 1, 300, 1000) {
				logtest.MustAppend(t, l, e)
				if c.sync {
					logtest.MustSync(t, l)
				}
			}
			logtest.MustSync(t, l)
			if n := l.Stats().Segments; n < 4 {
				t.Fatalf("only %d segments", n)
			}
			if n, b := calls(), l.Stats().WrittenBehind; n != 0 || b != 0 {
				t.Fatalf("%d write-behinds of %d bytes", n, b)
			}
		})
	}
}

// failedWriteBehind opens a log on a crashfs with write-behind, makes
// entries 1..40 of es (1..300) durable, then appends the rest while the
// first write-behind's write-back fails after it returned: some pages are
// lost (clean, not on disk) and no sync has reported it yet.
func failedWriteBehind(t *testing.T) (*crashfs.FS, *mmaplog.Log, []mmaplog.Entry) {
	t.Helper()
	fs := crashfs.New()
	l, err := mmaplog.Open("/log", behindOpts(fs, 16<<10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	es := run(1, 1, 300, 1000)
	logtest.MustAppend(t, l, es[:40]...)
	logtest.MustSync(t, l) // 1..40 acknowledged
	ft := fs.Inject(crashfs.Fault{Op: crashfs.OpWriteBehind, Err: crashfs.EIO, Writeback: true, Times: 1})
	for i := 40; i < len(es); i++ {
		logtest.MustAppend(t, l, es[i])
	}
	if !waitFor(func() bool { return fs.LostPages() > 0 }) {
		t.Fatalf("the write-behind fault fired %d times, no page lost", ft.Fired)
	}
	return fs, l, es
}

// A write-back that fails after StartWriteback returned (as a real one
// does: the pages become clean without reaching the disk) fails the next
// sync: entries in those pages are never acknowledged, and the ones that
// were are still there after a power loss.
func TestWriteBehindFailureFailsTheNextSync(t *testing.T) {
	fs, l, es := failedWriteBehind(t)
	if err := l.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync after a failed write-back: %v, want EIO", err)
	}
	if err := l.Append(ent(1, 301, 10)); !errors.Is(err, mmaplog.ErrFailed) {
		t.Fatalf("Append after the failed sync: %v, want ErrFailed", err)
	}
	snap := fs.Snapshot()
	r, err := mmaplog.Open("/log", behindOpts(snap.Image(snap.DropAll()), 16<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got, err := collect(r, 0, 301)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 40 {
		t.Fatalf("after power loss: %d entries, 40 were acknowledged", len(got))
	}
	for i := range got {
		if !sameEntry(got[i], es[i]) {
			t.Fatalf("after power loss: entry %d is %v", i, got[i].ID)
		}
	}
}

// A write-back that failed after StartWriteback returned, with the
// process killed before any sync reported it: the restarted process finds
// the failed pages cached, clean and not on disk, and the error waiting
// for the next sync of the file (Linux reports an error no one saw to the
// first fsync through a new open file). The reopened log fails its first
// Open with that error, opens the second time, and whatever it then
// presents, and an entry synced after it, survive a power loss.
func TestWriteBehindFailureThenKill(t *testing.T) {
	fs, _, es := failedWriteBehind(t)
	killed := fs.Snapshot().Restart() // kill -9: no sync saw the failure
	opts := behindOpts(killed, 16<<10)
	// Open reads the segments from the disk, past the page cache, and
	// meets the error on the way: it reports it once.
	if r, err := mmaplog.Open("/log", opts); !errors.Is(err, syscall.EIO) {
		if err == nil {
			_ = r.Close()
		}
		t.Fatalf("first Open after the kill: %v, want the unseen write-back's EIO", err)
	}
	r, err := mmaplog.Open("/log", opts)
	if err != nil {
		t.Fatalf("second Open after the kill: %v", err)
	}
	defer func() { _ = r.Close() }()
	presented := r.State().Last.Index
	if presented < 40 {
		t.Fatalf("reopened: Last = %d, 1..40 were acknowledged", presented)
	}
	got, err := collect(r, 0, presented+1)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(got)) != presented {
		t.Fatalf("reopened: %d entries readable, Last = %d", len(got), presented)
	}
	next := ent(1, presented+1, 10)
	logtest.MustAppend(t, r, next)
	logtest.MustSync(t, r)
	snap := killed.Snapshot()
	p, err := mmaplog.Open("/log", behindOpts(snap.Image(snap.DropAll()), 16<<10))
	if err != nil {
		t.Fatalf("Open after power loss: %v (the reopened log presented 1..%d and acknowledged %d)", err, presented, presented+1)
	}
	defer func() { _ = p.Close() }()
	if last := p.State().Last.Index; last < presented+1 {
		t.Fatalf("after power loss: Last = %d; the reopened log presented 1..%d and acknowledged %d", last, presented, presented+1)
	}
	after, err := collect(p, 0, presented+2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range after[:presented] {
		if !sameEntry(after[i], es[i]) {
			t.Fatalf("after power loss: entry %d is %v", i+1, after[i].ID)
		}
	}
}

// On real files: the write-back starts (sync_file_range works here), the
// segments it unmapped read back through the mapping byte for byte, and
// the log reopens whole.
func TestWriteBehindRealFiles(t *testing.T) {
	dir := t.TempDir()
	opts := smallOpts()
	opts.WriteBehind = 16 << 10
	l := logtest.MustOpen(t, dir, opts)
	es := run(1, 1, 2000, 1000)
	for i := range es {
		es[i].Payload = fmt.Appendf(es[i].Payload[:0], "%0*d", 1000, i)
		logtest.MustAppend(t, l, es[i])
	}
	if !waitFor(func() bool { return l.Stats().WrittenBehind > 16*mmaplog.MinSegmentSize }) {
		t.Fatalf("WrittenBehind = %d after %d segments", l.Stats().WrittenBehind, l.Stats().Segments)
	}
	check := func(l *mmaplog.Log, what string) {
		t.Helper()
		got, err := collect(l, 0, uint64(len(es))+1)
		if err != nil || len(got) != len(es) {
			t.Fatalf("%s: %d entries, err %v", what, len(got), err)
		}
		for i := range got {
			if !sameEntry(got[i], es[i]) {
				t.Fatalf("%s: entry %d differs", what, i+1)
			}
		}
	}
	check(l, "read back")
	logtest.MustSync(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	r := logtest.MustOpen(t, dir, opts)
	check(r, "reopened")
	rep, err := r.Verify(context.Background(), mmaplog.VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 || rep.Segments < 16 {
		t.Fatalf("Verify: %d segments, problems %v, err %v", rep.Segments, rep.Problems, err)
	}
}
