//go:build linux

package vfs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/raftlog/raftlog/internal/vfs"
)

// resident counts the pages of m[lo:hi] in the page cache (mincore).
func resident(t *testing.T, m []byte, lo, hi int) int {
	t.Helper()
	page := unix.Getpagesize()
	vec := make([]byte, (hi-lo+page-1)/page)
	b := m[lo:hi]
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// mappedFile creates a preallocated OS file of size bytes, as segments
// are, and maps it; the test closes it.
func mappedFile(t *testing.T, size int64) (vfs.File, []byte) {
	t.Helper()
	f, err := vfs.OS.Create(filepath.Join(t.TempDir(), "seg"), size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	m, err := f.Map()
	if err != nil {
		t.Fatal(err)
	}
	return f, m
}

// Prefault faults in the range it is given and nothing far beyond it, on
// a fresh preallocated file as segments are.
func TestPrefaultRange(t *testing.T) {
	const size, mib = 64 << 20, 1 << 20
	f, m := mappedFile(t, size)
	pf, ok := f.(vfs.Prefaulter)
	if !ok {
		t.Fatal("the OS file does not implement vfs.Prefaulter")
	}
	if err := pf.Advise(true); err != nil { // no read-around past the range
		t.Fatal(err)
	}
	page := unix.Getpagesize()
	if n := resident(t, m, 0, size); n != 0 {
		t.Fatalf("%d pages resident before any prefault", n)
	}
	if err := pf.Prefault(0, 8*mib, false); err != nil {
		t.Fatal(err)
	}
	if err := pf.Prefault(8*mib, 8*mib, true); err != nil {
		t.Fatal(err)
	}
	if n, want := resident(t, m, 0, 16*mib), 16*mib/page; n != want {
		t.Fatalf("%d of the %d pages prefaulted are resident", n, want)
	}
	if n := resident(t, m, 32*mib, size); n != 0 {
		t.Fatalf("%d pages resident in [32 MiB, 64 MiB), never prefaulted", n)
	}
	// Clipped to the mapping, not an error.
	if err := pf.Prefault(size-mib, 4*mib, false); err != nil {
		t.Fatal(err)
	}
	if n, want := resident(t, m, size-mib, size), mib/page; n != want {
		t.Fatalf("%d of the %d pages of the clipped range are resident", n, want)
	}
}

// mappedBytes returns the resident bytes mapped by the mapping that
// starts at m (Rss in /proc/self/smaps): pages with a page-table entry.
func mappedBytes(t *testing.T, m []byte) int64 {
	t.Helper()
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	head := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&m[0])))
	in := false
	for _, line := range strings.Split(string(smaps), "\n") {
		if strings.HasPrefix(line, head) {
			in = true
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "Rss:")), "%d kB", &kb); err != nil {
				t.Fatalf("smaps line %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("mapping at %s not in /proc/self/smaps", head)
	return 0
}

// Msync of a range of many pages unmaps all of them but the last before
// writing them back (one TLB flush instead of one per page), and the bytes
// stay: read back through the mapping and through the file. A range of a
// few pages stays mapped, as does everything outside the range.
func TestMsyncUnmapsLargeRanges(t *testing.T) {
	const size, mib = 4 << 20, 1 << 20
	page := int64(unix.Getpagesize())
	f, m := mappedFile(t, size)
	for i := range m[:2*mib] {
		m[i] = byte(i * 7)
	}
	if got := mappedBytes(t, m); got < 2*mib {
		t.Fatalf("%d bytes mapped after writing 2 MiB", got)
	}
	// A small range: 3 pages, left mapped.
	if err := f.Msync(0, 3*page); err != nil {
		t.Fatal(err)
	}
	if got := mappedBytes(t, m); got < 2*mib {
		t.Fatalf("%d bytes mapped after an msync of 3 pages", got)
	}
	// A large one, ending inside a page: all but that page are unmapped.
	if err := f.Msync(10, mib+100); err != nil {
		t.Fatal(err)
	}
	if got, want := mappedBytes(t, m), 2*mib-mib+page; got > want {
		t.Fatalf("%d bytes mapped after an msync of [10, 1 MiB+110), want at most %d", got, want)
	}
	buf := make([]byte, 2*mib)
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		if m[i] != byte(i*7) || buf[i] != byte(i*7) {
			t.Fatalf("byte %d: %d through the mapping, %d through the file, want %d", i, m[i], buf[i], byte(i*7))
		}
	}
}
