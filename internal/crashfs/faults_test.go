package crashfs_test

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/vfs"
)

// A power loss in the middle of a sync: the sync's sectors reach the disk
// or not one by one; pages outside it keep their own fate.
func TestCrashDuringSync(t *testing.T) {
	f, h, b := oneFile(t, 3*crashfs.PageSize)
	_ = h.Msync(0, int64(len(b)))
	// Dirty: sectors 0 and 2 of page 0, sector 0 of page 1 (in the sync),
	// and page 2 (outside it).
	b[10], b[2*crashfs.SectorSize+1], b[crashfs.PageSize+3], b[2*crashfs.PageSize] = 1, 2, 3, 4
	var snap *crashfs.Snapshot
	f.SetSyncHook(func(ev crashfs.Event) {
		if ev.Op != crashfs.OpMsync || ev.Off != 0 || ev.Len != crashfs.PageSize+100 {
			t.Errorf("sync hook event %+v", ev)
		}
		snap = f.SnapshotDuring(ev)
	})
	if err := h.Msync(50, crashfs.PageSize+50); err != nil { // [0, 4196) after rounding down
		t.Fatal(err)
	}
	f.SetSyncHook(nil)
	if snap == nil {
		t.Fatal("sync hook not called")
	}
	op, path, off, n, ok := snap.InSync()
	if !ok || op != crashfs.OpMsync || path != "/d/a" || off != 0 || n != crashfs.PageSize+100 {
		t.Fatalf("InSync = %v %q %d %d %v", op, path, off, n, ok)
	}
	if got := snap.SyncSectors(); got != 3 {
		t.Fatalf("SyncSectors = %d, want 3", got)
	}
	// Every subset of the three sectors, the page outside the sync dropped.
	for m := range 8 {
		img := read(t, snap.Image(snap.TearSync(snap.DropAll(), func(i int) bool { return m&(1<<i) != 0 })), "/d/a")
		got := []bool{img[10] == 1, img[2*crashfs.SectorSize+1] == 2, img[crashfs.PageSize+3] == 3}
		for i, kept := range got {
			if kept != (m&(1<<i) != 0) {
				t.Fatalf("subset %03b: sector %d kept=%v", m, i, kept)
			}
		}
		if img[2*crashfs.PageSize] != 0 {
			t.Fatalf("subset %03b: the page outside the sync reached the disk", m)
		}
	}
	// Random plans tear the sync's pages and nothing else.
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[[3]bool]bool{}
	for range 200 {
		p := snap.RandomPlan(rng)
		for k, ref := range snap.DirtyPages() {
			if ref.Page < 2 && p.Pages[k].Mode != crashfs.Torn {
				t.Fatalf("page %d of the sync not torn: %v", ref.Page, p.Pages[k].Mode)
			}
		}
		img := read(t, snap.Image(p), "/d/a")
		seen[[3]bool{img[10] == 1, img[2*crashfs.SectorSize+1] == 2, img[crashfs.PageSize+3] == 3}] = true
	}
	if len(seen) != 8 {
		t.Fatalf("random plans produced %d of the 8 sector subsets", len(seen))
	}
	// After the sync everything in it is durable; the hook never saw a
	// faulted sync.
	if img := read(t, f.Snapshot().Image(f.Snapshot().DropAll()), "/d/a"); img[crashfs.PageSize+3] != 3 || img[2*crashfs.PageSize] != 0 {
		t.Fatal("the completed sync is not durable")
	}
	f.Inject(crashfs.Fault{Op: crashfs.OpDatasync, Times: 1})
	f.SetSyncHook(func(ev crashfs.Event) { t.Errorf("hook saw a failing sync: %+v", ev) })
	if err := h.Datasync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("datasync: %v", err)
	}
	called := false
	f.SetSyncHook(func(ev crashfs.Event) {
		called = ev.Op == crashfs.OpDatasync && ev.Off == 0 && ev.Len == 3*crashfs.PageSize
	})
	if err := h.Datasync(); err != nil || !called {
		t.Fatalf("datasync: %v, hook called %v", err, called)
	}
}

// A full disk fails every allocation with a real ENOSPC and changes
// nothing; space comes back when a removed file's last handle closes.
func TestDiskFull(t *testing.T) {
	f := crashfs.New()
	_ = f.MkdirAll("/d")
	f.SetCapacity(4 * crashfs.PageSize)
	isNoSpace := func(what string, err error) {
		t.Helper()
		var pe *fs.PathError
		if !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &pe) {
			t.Fatalf("%s: %v, want a *fs.PathError wrapping ENOSPC", what, err)
		}
	}
	a, _ := mustCreate(t, f, "/d/a", 2*crashfs.PageSize)
	_, err := f.Create("/d/b", 2*crashfs.PageSize+1)
	isNoSpace("create (fallocate) too big", err)
	if slices.Contains(f.Files(), "/d/b") || f.Snapshot().PendingMeta() != 1 {
		t.Fatalf("a failed create left a trace: %v, %d pending", f.Files(), f.Snapshot().PendingMeta())
	}
	c, err := f.Create("/d/c", 100) // one page
	if err != nil {
		t.Fatal(err)
	}
	if f.Used() != 3*crashfs.PageSize {
		t.Fatalf("used %d", f.Used())
	}
	// Growth through WriteAt and Resize (unmapped files only).
	_, err = c.WriteAt([]byte("x"), 2*crashfs.PageSize)
	isNoSpace("write past the end", err)
	isNoSpace("resize up", c.Resize(3*crashfs.PageSize))
	if n, _ := c.Size(); n != 100 {
		t.Fatalf("a failed growth changed the size to %d", n)
	}
	if _, err := c.WriteAt([]byte("y"), crashfs.PageSize+5); err != nil { // 2 pages: fits
		t.Fatal(err)
	}
	if n, _ := c.Size(); n != crashfs.PageSize+6 || f.Used() != 4*crashfs.PageSize {
		t.Fatalf("size %d used %d after growth", n, f.Used())
	}
	// Full: even an empty file or a new lock file cannot be created.
	_, err = f.Create("/d/empty", 0)
	isNoSpace("create empty on a full disk", err)
	_, err = f.Lock("/d/LOCK")
	isNoSpace("lock file on a full disk", err)
	if err := c.Resize(10); err != nil {
		t.Fatal(err)
	}
	if f.Used() != 3*crashfs.PageSize {
		t.Fatalf("used %d after shrinking", f.Used())
	}
	// A removed file holds its space until its handle closes.
	if err := f.Remove("/d/a"); err != nil {
		t.Fatal(err)
	}
	if f.Used() != 3*crashfs.PageSize {
		t.Fatalf("used %d with the removed file still open", f.Used())
	}
	_ = a.Close()
	if f.Used() != crashfs.PageSize {
		t.Fatalf("used %d after the last close", f.Used())
	}
	if _, err := f.Create("/d/b", 3*crashfs.PageSize); err != nil {
		t.Fatal(err)
	}
	// A mapped file does not grow (its mapping is the Go slice).
	m, _ := mustCreate(t, crashfs.New(), "/m", 10)
	if _, err := m.WriteAt([]byte("z"), 20); !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("growing a mapped file: %v", err)
	}
	// Renaming over a file frees the replaced one.
	g := crashfs.New()
	_ = g.MkdirAll("/d")
	x, _ := g.Create("/d/x", crashfs.PageSize)
	y, _ := g.Create("/d/y", crashfs.PageSize)
	_, _ = x.Close(), y.Close()
	_ = g.Rename("/d/x", "/d/y")
	if g.Used() != crashfs.PageSize {
		t.Fatalf("used %d after rename over a file", g.Used())
	}
}

// fsyncgate: a failed write-back marks the pages clean. The sync fails,
// a later sync succeeds without writing them, reads and a reopen in the
// same boot see them, a power loss loses them.
func TestWritebackErrorKeepsPagesCleanNotDurable(t *testing.T) {
	f, h, b := oneFile(t, 3*crashfs.PageSize)
	copy(b, bytes.Repeat([]byte{'A'}, len(b)))
	if err := h.Msync(0, int64(len(b))); err != nil {
		t.Fatal(err)
	}
	copy(b, bytes.Repeat([]byte{'B'}, 2*crashfs.PageSize)) // pages 0, 1
	b[2*crashfs.PageSize] = 'B'                            // page 2, outside the failing sync
	ft := f.Inject(crashfs.Fault{Op: crashfs.OpMsync, Times: 1, Writeback: true})
	if err := h.Msync(0, 2*crashfs.PageSize); !errors.Is(err, syscall.EIO) {
		t.Fatalf("msync: %v, want EIO", err)
	}
	if f.Fired(ft) != 1 || f.LostPages() != 2 {
		t.Fatalf("fired %d, lost pages %d", f.Fired(ft), f.LostPages())
	}
	disk := func(what string) []byte {
		t.Helper()
		s := f.Snapshot()
		for _, p := range []crashfs.Plan{s.KeepAll(), s.DropAll()} {
			img := read(t, s.Image(p), "/d/a")
			if img[0] != 'A' || img[crashfs.PageSize] != 'A' {
				t.Fatalf("%s: a power loss kept a page whose write-back failed", what)
			}
		}
		return read(t, s.Image(s.KeepAll()), "/d/a")
	}
	if s := f.Snapshot(); len(s.DirtyPages()) != 1 || s.DirtyPages()[0].Page != 2 {
		t.Fatalf("dirty pages %v, want only page 2", s.DirtyPages())
	}
	disk("after the failure")
	// The next sync succeeds and writes nothing of the lost pages.
	if err := h.Msync(0, int64(len(b))); err != nil {
		t.Fatalf("second msync: %v", err)
	}
	if img := disk("after a successful sync"); img[2*crashfs.PageSize] != 'B' {
		t.Fatal("the sync after the failure did not write page 2")
	}
	// The cache still serves the bytes: to another handle, and after a
	// kill -9 in the same boot (Restart), where a power loss still loses
	// them.
	o, err := f.Open("/d/a")
	if err != nil {
		t.Fatal(err)
	}
	if ob, _ := o.Map(); ob[0] != 'B' || ob[crashfs.PageSize] != 'B' {
		t.Fatal("a reopen in the same boot does not see the cached bytes")
	}
	_ = o.Close()
	r := f.Snapshot().Restart()
	if got := read(t, r, "/d/a"); got[0] != 'B' {
		t.Fatal("restart lost the cached bytes")
	}
	if rs := r.Snapshot(); read(t, rs.Image(rs.KeepAll()), "/d/a")[0] != 'A' {
		t.Fatal("a power loss after a restart kept a lost page")
	}
	// Written again, a page is dirty again and goes to disk whole: page 1
	// through the mapping, page 0 through WriteAt with the same bytes.
	b[crashfs.PageSize+7] = 'C'
	if _, err := h.WriteAt([]byte{'B'}, 0); err != nil {
		t.Fatal(err)
	}
	if f.LostPages() != 0 {
		t.Fatalf("lost pages %d after rewriting both", f.LostPages())
	}
	if err := h.Msync(0, int64(len(b))); err != nil {
		t.Fatal(err)
	}
	if s := f.Snapshot(); !bytes.Equal(read(t, s.Image(s.DropAll()), "/d/a"), b) {
		t.Fatal("rewritten pages did not reach the disk whole")
	}
}

// Datasync fails the same way; Evict makes reads see the disk again, but
// not while the file is mapped.
func TestWritebackErrorDatasyncAndEvict(t *testing.T) {
	f, h, b := oneFile(t, crashfs.PageSize)
	copy(b, "new")
	f.Inject(crashfs.Fault{Op: crashfs.OpDatasync, Times: 1, Writeback: true, Err: crashfs.ENOSPC})
	if err := h.Datasync(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("datasync: %v", err)
	}
	if err := h.Datasync(); err != nil {
		t.Fatal(err)
	}
	if s := f.Snapshot(); read(t, s.Image(s.KeepAll()), "/d/a")[0] != 0 {
		t.Fatal("a lost page reached the disk")
	}
	o, _ := f.Open("/d/a")
	if err := o.Evict(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, f, "/d/a"); string(got[:3]) != "new" {
		t.Fatalf("Evict dropped pages of a mapped file: %q", got[:3])
	}
	_ = h.Close()
	if err := o.Evict(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, f, "/d/a"); got[0] != 0 || f.LostPages() != 0 {
		t.Fatalf("after Evict the file reads %q, lost pages %d; want the disk's zeros", got[:3], f.LostPages())
	}
	// A page cut by Resize keeps what is left of its loss.
	copy(b, "again")
	f.Inject(crashfs.Fault{Op: crashfs.OpDatasync, Times: 1, Writeback: true})
	_ = o.Datasync()
	if err := o.Resize(3); err != nil || f.LostPages() != 1 {
		t.Fatalf("resize: %v, lost pages %d", err, f.LostPages())
	}
	if err := o.Evict(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, f, "/d/a"); len(got) != 3 || got[0] != 0 {
		t.Fatalf("after a cut and Evict the file reads %q", got)
	}
	_ = o.Close()
}

// Early write-back leaves an intermediate version on disk: a crash image
// can hold a page older than the process view and newer than the last
// sync.
func TestEarlyWriteback(t *testing.T) {
	f, h, b := oneFile(t, 2*crashfs.PageSize)
	_ = h.Datasync() // the size
	copy(b, "v1")
	b[crashfs.PageSize] = 1
	if n := f.Writeback(rand.New(rand.NewPCG(1, 1)), 1); n != 2 {
		t.Fatalf("wrote back %d pages, want 2", n)
	}
	copy(b, "v2")
	s := f.Snapshot()
	if len(s.DirtyPages()) != 1 {
		t.Fatalf("dirty pages %v", s.DirtyPages())
	}
	if got := read(t, s.Image(s.DropAll()), "/d/a"); string(got[:2]) != "v1" || got[crashfs.PageSize] != 1 {
		t.Fatalf("drop-all image holds %q, want the written-back v1", got[:2])
	}
	if n := f.Writeback(rand.New(rand.NewPCG(1, 1)), 0); n != 0 {
		t.Fatalf("probability 0 wrote %d pages", n)
	}
}

// Test inputs: a file from elsewhere, removed or replaced, durable at once.
func TestRemoveFile(t *testing.T) {
	f := crashfs.New()
	f.WriteFile("/d/a", []byte("a"))
	f.WriteFile("/d/b", []byte("b"))
	if !f.RemoveFile("/d/a") || f.RemoveFile("/d/a") {
		t.Fatal("RemoveFile result")
	}
	s := f.Snapshot()
	if names, _ := s.Image(s.DropAll()).ReadDir("/d"); !slices.Equal(names, []string{"b"}) {
		t.Fatalf("names after a crash %v", names)
	}
	if f.Used() != crashfs.PageSize {
		t.Fatalf("used %d", f.Used())
	}
}

// StartWriteback writes the range's dirty pages back, whole, and nothing
// else; a Writeback fault on it succeeds, loses the pages, and fails the
// next sync of the file (once), as an asynchronous write-back failure.
func TestStartWriteback(t *testing.T) {
	f, h, b := oneFile(t, 3*crashfs.PageSize)
	wb, ok := h.(interface{ StartWriteback(off, n int64) error })
	if !ok {
		t.Fatal("crashfs files do not implement StartWriteback")
	}
	if err := h.Datasync(); err != nil { // the size: StartWriteback does not sync it
		t.Fatal(err)
	}
	copy(b, bytes.Repeat([]byte{'A'}, len(b)))
	if err := wb.StartWriteback(10, crashfs.PageSize); err != nil { // pages 0 and 1
		t.Fatal(err)
	}
	s := f.Snapshot()
	img := read(t, s.Image(s.DropAll()), "/d/a")
	if img[0] != 'A' || img[2*crashfs.PageSize-1] != 'A' || img[2*crashfs.PageSize] != 0 {
		t.Fatalf("after StartWriteback of pages 0-1 a power loss kept %q %q %q", img[0], img[2*crashfs.PageSize-1], img[2*crashfs.PageSize])
	}
	copy(b, bytes.Repeat([]byte{'B'}, len(b)))
	ft := f.Inject(crashfs.Fault{Op: crashfs.OpWriteBehind, Times: 1, Writeback: true})
	if err := wb.StartWriteback(0, crashfs.PageSize); err != nil {
		t.Fatalf("StartWriteback under a write-back fault: %v, want nil (it fails later)", err)
	}
	if f.Fired(ft) != 1 || f.LostPages() != 1 {
		t.Fatalf("fired %d, lost pages %d", f.Fired(ft), f.LostPages())
	}
	if err := h.Msync(0, int64(len(b))); !errors.Is(err, syscall.EIO) {
		t.Fatalf("the sync after a failed write-back: %v, want EIO", err)
	}
	if err := h.Datasync(); err != nil {
		t.Fatalf("the failure was reported twice: %v", err)
	}
	s = f.Snapshot()
	if img := read(t, s.Image(s.KeepAll()), "/d/a"); img[0] != 'A' || img[crashfs.PageSize] != 'B' {
		t.Fatalf("on disk %q %q, want the lost page old and the synced one new", img[0], img[crashfs.PageSize])
	}
}

// A failed asynchronous write-back that no sync reported survives a kill:
// the restarted process's first sync of the file reports it, once, as
// Linux reports an error no one saw to the first fsync through a file
// opened after it.
func TestRestartCarriesUnseenWritebackError(t *testing.T) {
	f, h, b := oneFile(t, 2*crashfs.PageSize)
	wb := h.(interface{ StartWriteback(off, n int64) error })
	if err := h.Datasync(); err != nil {
		t.Fatal(err)
	}
	copy(b, bytes.Repeat([]byte{'A'}, len(b)))
	f.Inject(crashfs.Fault{Op: crashfs.OpWriteBehind, Times: 1, Writeback: true})
	if err := wb.StartWriteback(0, crashfs.PageSize); err != nil {
		t.Fatal(err)
	}
	r := f.Snapshot().Restart()
	g, err := r.Open("/d/a")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Datasync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("the restarted process's first sync: %v, want the unseen write-back's EIO", err)
	}
	if err := g.Datasync(); err != nil {
		t.Fatalf("the failure was reported twice: %v", err)
	}
}

// Reuse's zeroing is an extent change: Datasync leaves a zeroed page's
// old bytes on disk (ext4 without a journal), a page written since is
// synced as usual, and SyncInode makes the zeros durable.
func TestReuseZeroingNeedsSyncInode(t *testing.T) {
	f := crashfs.New()
	if err := f.MkdirAll("/d"); err != nil {
		t.Fatal(err)
	}
	h, b := mustCreate(t, f, "/d/a", 3*crashfs.PageSize)
	for i := range b {
		b[i] = 0xAA
	}
	if err := h.Datasync(); err != nil {
		t.Fatal(err)
	}
	if err := f.SyncDir("/d"); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := f.Reuse("/d/a", 3*crashfs.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Map()
	if err != nil {
		t.Fatal(err)
	}
	m[crashfs.PageSize] = 0x11 // page 1 written after the zeroing
	if err := r.Datasync(); err != nil {
		t.Fatal(err)
	}
	s := f.Snapshot()
	img := read(t, s.Image(s.DropAll()), "/d/a")
	if img[0] != 0xAA || img[2*crashfs.PageSize] != 0xAA {
		t.Errorf("after Reuse and Datasync the untouched pages read %#x, %#x on disk, want the old 0xAA", img[0], img[2*crashfs.PageSize])
	}
	if img[crashfs.PageSize] != 0x11 || img[crashfs.PageSize+1] != 0 {
		t.Errorf("the page written after Reuse reads %#x %#x on disk, want 0x11 0", img[crashfs.PageSize], img[crashfs.PageSize+1])
	}
	is, ok := r.(vfs.InodeSyncer)
	if !ok {
		t.Fatal("crashfs file is not a vfs.InodeSyncer")
	}
	if err := is.SyncInode(); err != nil {
		t.Fatal(err)
	}
	s = f.Snapshot()
	img = read(t, s.Image(s.DropAll()), "/d/a")
	if img[0] != 0 || img[2*crashfs.PageSize] != 0 || img[crashfs.PageSize] != 0x11 {
		t.Errorf("after SyncInode the disk holds %#x %#x %#x, want 0 0 0x11", img[0], img[2*crashfs.PageSize], img[crashfs.PageSize])
	}
}
