package crashfs_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/internal/vfs"
	"github.com/raftlog/raftlog/mmaplog"
)

func mustCreate(t *testing.T, f *crashfs.FS, path string, size int64) (vfs.File, []byte) {
	t.Helper()
	h, err := f.Create(path, size)
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Map()
	if err != nil {
		t.Fatal(err)
	}
	return h, b
}

// oneFile returns a simulator holding the file /d/a of size bytes,
// created and mapped (its name durable, its bytes not).
func oneFile(t *testing.T, size int64) (*crashfs.FS, vfs.File, []byte) {
	t.Helper()
	f := crashfs.New()
	if err := f.MkdirAll("/d"); err != nil {
		t.Fatal(err)
	}
	h, b := mustCreate(t, f, "/d/a", size)
	if err := f.SyncDir("/d"); err != nil {
		t.Fatal(err)
	}
	return f, h, b
}

func read(t *testing.T, f *crashfs.FS, path string) []byte {
	t.Helper()
	b, ok := f.ReadFile(path)
	if !ok {
		t.Fatalf("%s missing; files %v", path, f.Files())
	}
	return b
}

func TestMsyncMakesRangeDurable(t *testing.T) {
	f := crashfs.New()
	if err := f.MkdirAll("/d"); err != nil {
		t.Fatal(err)
	}
	h, b := mustCreate(t, f, "/d/a", 3*crashfs.PageSize)
	if err := f.SyncDir("/d"); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0xAA
	}
	// Sync bytes [100, 5000): the first page from 0 (rounded down) to 5000.
	if err := h.Msync(100, 4900); err != nil {
		t.Fatal(err)
	}
	s := f.Snapshot()
	if got := len(s.DirtyPages()); got != 2 {
		t.Fatalf("dirty pages %d, want 2 (page 1 partly, page 2)", got)
	}
	img := read(t, s.Image(s.DropAll()), "/d/a")
	want := make([]byte, len(b))
	for i := range 5000 {
		want[i] = 0xAA
	}
	if !bytes.Equal(img, want) {
		t.Fatal("drop-all image is not exactly the synced bytes")
	}
	if !bytes.Equal(read(t, s.Image(s.KeepAll()), "/d/a"), b) {
		t.Fatal("keep-all image differs from the process view")
	}
}

func TestTornAndZeroKeepSyncedBytes(t *testing.T) {
	f, h, b := oneFile(t, crashfs.PageSize)
	copy(b, bytes.Repeat([]byte{1}, 1000))
	_ = h.Msync(0, 1000)
	copy(b[1000:], bytes.Repeat([]byte{2}, 3000))
	s := f.Snapshot()
	for _, c := range []crashfs.PageChoice{{Mode: crashfs.Torn, Sectors: 0b10101010}, {Mode: crashfs.Zero}, {Mode: crashfs.Garble, Seed: 7}} {
		img := read(t, s.Image(crashfs.Plan{Pages: []crashfs.PageChoice{c}}), "/d/a")
		if !bytes.Equal(img[:1000], b[:1000]) {
			t.Fatalf("%v damaged synced bytes", c.Mode)
		}
		if c.Mode == crashfs.Torn {
			// Sector 1 (512..1023) and 3 are new, 2 is old.
			if img[1020] != 2 || img[1100] != 0 || img[1600] != 2 {
				t.Fatalf("torn page wrong: %d %d %d", img[1020], img[1100], img[1600])
			}
		}
	}
}

func TestNamespaceCrash(t *testing.T) {
	f := crashfs.New()
	_ = f.MkdirAll("/d")
	mustCreate(t, f, "/d/old", 10)
	mustCreate(t, f, "/d/gone", 10)
	_ = f.SyncDir("/d")
	mustCreate(t, f, "/d/tmp", 10)
	if err := f.Rename("/d/tmp", "/d/new"); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove("/d/gone"); err != nil {
		t.Fatal(err)
	}
	s := f.Snapshot()
	if s.PendingMeta() != 3 || s.UnsyncedSizes() != 3 {
		t.Fatalf("pending %d sizes %d", s.PendingMeta(), s.UnsyncedSizes())
	}
	names := func(img *crashfs.FS) []string { n, _ := img.ReadDir("/d"); return n }
	if got := names(s.Image(s.DropAll())); !slices.Equal(got, []string{"gone", "old"}) {
		t.Fatalf("drop-all names %v", got)
	}
	if got := names(s.Image(s.KeepAll())); !slices.Equal(got, []string{"new", "old"}) {
		t.Fatalf("keep-all names %v", got)
	}
	// Create reverted, rename kept: the file vanishes.
	if got := names(s.Image(crashfs.Plan{Meta: []bool{false, true, true}})); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("names %v", got)
	}
	// Size reverted: the file is empty.
	img := s.Image(crashfs.Plan{Sizes: []bool{true, true, false}})
	if b := read(t, img, "/d/new"); len(b) != 0 {
		t.Fatalf("size reverted but %d bytes", len(b))
	}
	if err := f.SyncDir("/d"); err != nil {
		t.Fatal(err)
	}
	s = f.Snapshot()
	if got := names(s.Image(s.DropAll())); !slices.Equal(got, []string{"new", "old"}) {
		t.Fatalf("after SyncDir names %v", got)
	}
	if _, err := f.Open("/d/gone"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open removed: %v", err)
	}
}

func TestFaults(t *testing.T) {
	f := crashfs.New()
	_ = f.MkdirAll("/d")
	ft := f.Inject(crashfs.Fault{Op: crashfs.OpSyncDir, Nth: 2, Times: 2, Err: crashfs.ENOSPC})
	var errs []error
	for range 5 {
		errs = append(errs, f.SyncDir("/d"))
	}
	for i, err := range errs {
		if want := i == 1 || i == 2; (err != nil) != want || (err != nil && !errors.Is(err, syscall.ENOSPC)) {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if f.Fired(ft) != 2 || f.Count(crashfs.OpSyncDir) != 5 {
		t.Fatalf("fired %d count %d", f.Fired(ft), f.Count(crashfs.OpSyncDir))
	}
	f.Inject(crashfs.Fault{Op: crashfs.OpCreate, PathContains: ".seg"})
	if _, err := f.Create("/d/x.idx", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Create("/d/x.seg", 1); !errors.Is(err, syscall.EIO) {
		t.Fatalf("create .seg: %v", err)
	}
}

func TestLock(t *testing.T) {
	f := crashfs.New()
	_ = f.MkdirAll("/d")
	c, err := f.Lock("/d/LOCK")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Lock("/d/LOCK"); !errors.Is(err, vfs.ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	_ = c.Close()
	c, err = f.Lock("/d/LOCK")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Locks do not survive a crash.
	if c2, err := f.Crash(rand.New(rand.NewPCG(1, 2))).Lock("/d/LOCK"); err != nil {
		t.Fatal(err)
	} else {
		_ = c2.Close()
	}
}

// A snapshot taken while another goroutine writes a mapping must not be
// reported by the race detector (a power loss catches writes half done).
func TestSnapshotDuringWrites(t *testing.T) {
	f := crashfs.New()
	_ = f.MkdirAll("/d")
	_, b := mustCreate(t, f, "/d/a", 64<<10)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			b[i%len(b)] = byte(i)
		}
	}()
	for range 50 {
		f.Snapshot()
	}
	close(stop)
	wg.Wait()
}

// The seam end to end: what a Sync acknowledged survives any crash image.
func TestMmaplogSurvivesCrash(t *testing.T) {
	f := crashfs.New()
	opts := mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), FS: f}
	l, err := mmaplog.Open("/log", opts)
	if err != nil {
		t.Fatal(err)
	}
	payload := func(i uint64) []byte { return bytes.Repeat([]byte{byte(i)}, int(i*37%5000)) }
	const n = 300
	for i := uint64(1); i <= n; i++ {
		if err := l.Append(mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i}, Payload: payload(i)}); err != nil {
			t.Fatal(err)
		}
	}
	logtest.MustSync(t, l)
	for i := uint64(n + 1); i <= n+50; i++ {
		_ = l.Append(mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i}, Payload: payload(i)})
	}
	s := f.Snapshot()
	_ = l.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	for k := range 20 {
		img := s.Crash(rng)
		if k == 0 {
			img = s.Image(s.DropAll())
		}
		o := opts
		o.FS = img
		l, err := mmaplog.Open("/log", o)
		if err != nil {
			t.Fatalf("image %d: %v", k, err)
		}
		if last := l.State().Last.Index; last < n {
			t.Fatalf("image %d: last %d < %d", k, last, n)
		}
		for i := uint64(1); i <= l.State().Last.Index; i++ {
			e, err := l.Get(i)
			if err != nil || !bytes.Equal(e.Payload, payload(i)) {
				t.Fatalf("image %d: entry %d: %v", k, i, err)
			}
		}
		_ = l.Close()
	}
}

func TestRestartKeepsWritesNotDurability(t *testing.T) {
	f := crashfs.New()
	_ = f.MkdirAll("/d")
	h, b := mustCreate(t, f, "/d/tmp", crashfs.PageSize)
	copy(b, "written")
	_ = h.Msync(0, 3)
	_ = f.Rename("/d/tmp", "/d/a")
	r := f.Snapshot().Restart()
	if got := read(t, r, "/d/a"); string(got[:7]) != "written" {
		t.Fatalf("restart lost the page cache: %q", got[:7])
	}
	s := r.Snapshot()
	if s.PendingMeta() != 2 || len(s.DirtyPages()) != 1 {
		t.Fatalf("restart made things durable: pending %d dirty %d", s.PendingMeta(), len(s.DirtyPages()))
	}
	lost := s.Image(s.DropAll())
	if names, _ := lost.ReadDir("/d"); len(names) != 0 {
		t.Fatalf("power loss after restart kept %v", names)
	}
}
