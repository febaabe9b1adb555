//go:build linux

package loopdisk_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/internal/loopdisk"
)

func TestFillTo(t *testing.T) {
	d := loopdisk.Mount(t, loopdisk.Options{Size: 16 << 20})
	got := d.FillTo(256 << 10)
	if got < 240<<10 || got > 256<<10+8<<10 {
		t.Fatalf("FillTo(256 KiB) left %d bytes free", got)
	}
	f, err := os.Create(filepath.Join(d.Dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, 1<<20); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("fallocate of 1 MiB with %d bytes free: %v, want ENOSPC", got, err)
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, 128<<10); err != nil {
		t.Fatalf("fallocate of 128 KiB with %d bytes free: %v", got, err)
	}
	d.Unfill()
	if free := d.Free(); free < 8<<20 {
		t.Fatalf("after Unfill %d bytes free", free)
	}
}

// TestFailWritesPowerLoss checks the whole fsyncgate sequence the package
// exists for: fsync fails, the cache keeps the bytes, a later fsync
// succeeds, and a power loss shows they never reached the disk while
// everything synced before and after did.
func TestFailWritesPowerLoss(t *testing.T) {
	d := loopdisk.Mount(t, loopdisk.Options{Size: 16 << 20, Tmpfs: true})
	before := bytes.Repeat([]byte("synced-before-"), 1000)
	writeSync(t, filepath.Join(d.Dir, "before"), before)

	// The victim holds synced bytes, then preallocated space.
	path := filepath.Join(d.Dir, "victim")
	old := bytes.Repeat([]byte("old-and-synced-"), 1000)
	writeSync(t, path, old)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if n := d.FailWrites(path); n != 1<<20 {
		t.Fatalf("FailWrites covered %d bytes, want the whole file (%d)", n, 1<<20)
	}
	lost := bytes.Repeat([]byte("never-on-disk-"), 4000)
	if _, err := f.WriteAt(lost, 4096); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err == nil {
		t.Fatal("fsync after FailWrites succeeded")
	} else {
		t.Logf("fsync after FailWrites: %v", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("second fsync: %v (want nil: the error was reported once)", err)
	}
	got := make([]byte, len(lost))
	if _, err := f.ReadAt(got, 4096); err != nil || !bytes.Equal(got, lost) {
		t.Fatalf("read after failed write-back: %v, cached bytes kept: %v", err, bytes.Equal(got, lost))
	}
	d.Heal()
	after := bytes.Repeat([]byte("synced-after-"), 1000)
	writeSync(t, filepath.Join(d.Dir, "after"), after)

	d.PowerLoss()
	for name, want := range map[string][]byte{"before": before, "after": after} {
		b, err := os.ReadFile(filepath.Join(d.Dir, name))
		if err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s after power loss: %v, intact %v", name, err, bytes.Equal(b, want))
		}
	}
	b := logtest.ReadFile(t, path)
	if bytes.Contains(b, []byte("never-on-disk-")) {
		t.Error("bytes whose write-back failed are on the disk after the power loss")
	}
	if !bytes.Equal(b[:4096], old[:4096]) {
		t.Errorf("the victim's synced bytes before the failed write changed: %q", b[:32])
	}
}

func TestPowerLossDropsUnsynced(t *testing.T) {
	for _, noJournal := range []bool{false, true} {
		t.Run(fmt.Sprintf("nojournal=%v", noJournal), func(t *testing.T) { powerLossDropsUnsynced(t, noJournal) })
	}
}

func powerLossDropsUnsynced(t *testing.T, noJournal bool) {
	t.Helper()
	d := loopdisk.Mount(t, loopdisk.Options{Size: 16 << 20, NoJournal: noJournal})
	if d.Journaled() == noJournal {
		t.Fatalf("NoJournal %v, but the mounted file system's journal is %v", noJournal, d.Journaled())
	}
	synced := []byte("synced")
	writeSync(t, filepath.Join(d.Dir, "synced"), synced)
	f, err := os.Create(filepath.Join(d.Dir, "unsynced"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(bytes.Repeat([]byte("x"), 1<<16)); err != nil {
		t.Fatal(err)
	}
	d.PowerLoss()
	if b, err := os.ReadFile(filepath.Join(d.Dir, "synced")); err != nil || !bytes.Equal(b, synced) {
		t.Fatalf("synced file after power loss: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(d.Dir, "unsynced")); err == nil && bytes.Contains(b, []byte("x")) {
		t.Fatalf("unsynced data (%d bytes) survived the power loss", len(b))
	}
}

func writeSync(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		t.Fatal(err)
	}
}
