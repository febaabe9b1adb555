//go:build linux

package mmaplog_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/raftlog/raftlog/mmaplog"
)

// A bit flipped on the medium, under a page cache that still holds the
// good bytes, is invisible to Get but seen by Verify, which drops the
// cached pages and reads from the disk. The "disk" is an ext4 image on a
// loop device, and the flip is written into the image file below the
// file system (the loop device reads the image through the image's own
// cache, which the write updates).
func TestVerifySeesTheDiskUnderTheCache(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts an ext4 image on a loop device")
	}
	for _, tool := range []string{"losetup", "mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	sh(t, "mkfs.ext4", "-q", "-F", img)
	loop := strings.TrimSpace(sh(t, "losetup", "-f", "--show", img))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", loop).Run() })
	mnt := t.TempDir()
	if out, err := exec.Command("mount", loop, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a loop device here: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })

	dir := filepath.Join(mnt, "log")
	l := sealedLog(t, dir, smallOpts(), 400, 1000)
	t.Cleanup(func() { _ = l.Close() }) // before the unmount
	id := lid(1, 100)
	seg := segFile(dir)
	off := int64(findMarker(t, seg, id)) + 30
	phys := physicalOffset(t, seg, off)
	flipAt(t, img, phys)

	if e, err := l.Get(id.Index); err != nil || !bytes.Equal(e.Payload, payloadFor(id, 1000)) {
		t.Fatalf("before Verify, Get(%d) = %v: want the cached, good entry (is the flip below the cache?)", id.Index, err)
	}
	rep, err := l.Verify(context.Background(), unlimited)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Path != seg || rep.Problems[0].Index != id.Index {
		t.Fatalf("Verify found %v; want entry %d in %s", rep.Problems, id.Index, seg)
	}
	// The cache now holds what the disk holds.
	if _, err := l.Get(id.Index); !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("after Verify, Get(%d) = %v; want the damage the disk holds", id.Index, err)
	}
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return string(out)
}

// physicalOffset returns the byte offset on the device of byte off of
// path (FS_IOC_FIEMAP, after syncing the file).
func physicalOffset(t *testing.T, path string, off int64) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const (
		fsIocFiemap    = 0xC020660B
		fiemapFlagSync = 1
		headerSize     = 32
		extentSize     = 56
		extentUnknown  = 0x2 | 0x8 | 0x200 | 0x800 // unknown, encoded, inline, unwritten
	)
	buf := make([]uint64, (headerSize+extentSize)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), headerSize+extentSize)
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(off)) // fm_start
	le.PutUint64(b[8:], 1)           // fm_length
	le.PutUint32(b[16:], fiemapFlagSync)
	le.PutUint32(b[24:], 1) // fm_extent_count
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&buf[0]))); e != 0 {
		t.Skipf("FIEMAP on %s: %v", path, e)
	}
	ext := b[headerSize:]
	logical, physical, length := le.Uint64(ext[0:]), le.Uint64(ext[8:]), le.Uint64(ext[16:])
	if le.Uint32(b[20:]) != 1 || le.Uint32(ext[40:])&extentUnknown != 0 || uint64(off) < logical || uint64(off) >= logical+length {
		t.Skipf("FIEMAP on %s at %d: no plain extent (%d mapped, flags %#x)", path, off, le.Uint32(b[20:]), le.Uint32(ext[40:]))
	}
	return int64(physical + uint64(off) - logical)
}
