//go:build linux

package hashiraft_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// diskCounters are a block device's cumulative request counters from
// /sys/dev/block/MAJ:MIN/stat (Documentation/block/stat.rst). The write
// count includes the empty write that carries each fsync's cache flush,
// so bytes (sectors) say more about what a store wrote than requests do.
type diskCounters struct {
	writes, sectors, flushes, busyMs int64
}

// readDiskCounters reads the counters of the device that holds dir; ok is
// false where the kernel has no such file (a tmpfs, an old kernel).
func readDiskCounters(dir string) (c diskCounters, ok bool) {
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil {
		return c, false
	}
	path := fmt.Sprintf("/sys/dev/block/%d:%d/stat", unix.Major(st.Dev), unix.Minor(st.Dev))
	b, err := os.ReadFile(path)
	if err != nil {
		return c, false
	}
	f := strings.Fields(string(b))
	if len(f) < 17 { // flush counters since Linux 5.5
		return c, false
	}
	num := func(k int) int64 { n, _ := strconv.ParseInt(f[k], 10, 64); return n }
	return diskCounters{writes: num(4), sectors: num(6), flushes: num(15), busyMs: num(9)}, true
}

func TestReadDiskCounters(t *testing.T) {
	dir := t.TempDir()
	c0, ok := readDiskCounters(dir)
	if !ok {
		t.Skipf("no block device statistics for %s (tmpfs or an old kernel)", dir)
	}
	f, err := os.Create(filepath.Join(dir, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 4 {
		if _, err := f.WriteAt(make([]byte, 4096), int64(i)*4096); err != nil {
			t.Fatal(err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			t.Fatal(err)
		}
	}
	c1, ok := readDiskCounters(dir)
	if !ok {
		t.Fatal("statistics vanished")
	}
	if c1.writes < c0.writes+4 {
		t.Errorf("writes %d -> %d after 4 synced writes, want at least 4 more", c0.writes, c1.writes)
	}
	if c1.sectors < c0.sectors+4*4096/512 {
		t.Errorf("sectors written %d -> %d after 4 synced 4 KiB writes, want at least 32 more", c0.sectors, c1.sectors)
	}
	if c1.flushes < c0.flushes || c1.busyMs < c0.busyMs {
		t.Errorf("counters went back: %+v -> %+v", c0, c1)
	}
}
