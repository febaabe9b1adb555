//go:build linux

package vfs_test

import (
	"path/filepath"
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

// Prefault faults in the range it is given and nothing far beyond it, on
// a fresh preallocated file as segments are.
func TestPrefaultRange(t *testing.T) {
	const size, mib = 64 << 20, 1 << 20
	f, err := vfs.OS.Create(filepath.Join(t.TempDir(), "seg"), size)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	m, err := f.Map()
	if err != nil {
		t.Fatal(err)
	}
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
