//go:build linux

package loopdisk

import (
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FillTo sizes a filler file at the root of the file system so that about
// free bytes stay free, and returns the bytes actually free (a block or
// two of the filler's own metadata can make it slightly less). A free
// above what is free now removes the filler.
func (d *Disk) FillTo(free int64) int64 {
	d.tb.Helper()
	d.Unfill()
	have := d.Free()
	if have <= free {
		return have
	}
	d.filler = filepath.Join(d.Dir, "loopdisk.filler")
	if err := os.WriteFile(d.filler, nil, 0o600); err != nil {
		d.tb.Fatalf("loopdisk: %v", err)
	}
	size := (have - free) &^ 4095
	for range 8 {
		if err := fallocate(d.filler, 0, size); err != nil {
			d.tb.Fatalf("loopdisk: fill: %v", err)
		}
		got := d.Free()
		if got >= free || size == 0 {
			return got
		}
		// The filler's extent blocks took some of the room: give back
		// the difference and try again.
		size -= (free - got + 4095) &^ 4095
		if err := os.Truncate(d.filler, max(size, 0)); err != nil {
			d.tb.Fatalf("loopdisk: %v", err)
		}
	}
	return d.Free()
}

// Unfill removes the filler file of FillTo, if any.
func (d *Disk) Unfill() {
	d.tb.Helper()
	if d.filler == "" {
		return
	}
	if err := os.Remove(d.filler); err != nil {
		d.tb.Fatalf("loopdisk: %v", err)
	}
	d.filler = ""
}

// FailWrites makes the write-back of every unwritten block of the given
// files (preallocated with fallocate and never written back, whether or
// not the page cache holds dirty pages for it) fail from now on, until
// Heal, and returns how many bytes that covers. Blocks written back
// before (everything an fsync or msync returned nil for) keep working. It
// needs Options.Tmpfs. See the package documentation.
func (d *Disk) FailWrites(paths ...string) int64 {
	d.tb.Helper()
	if d.tmpfs == "" {
		d.tb.Fatal("loopdisk: FailWrites needs Options.Tmpfs")
	}
	var total int64
	for _, p := range paths {
		exts, err := unwrittenExtents(p)
		if err != nil {
			d.tb.Fatalf("loopdisk: %v", err)
		}
		for _, e := range exts {
			if err := punch(d.image, int64(e.physical), int64(e.length)); err != nil {
				d.tb.Fatalf("loopdisk: %s: %v", p, err)
			}
			total += int64(e.length)
		}
	}
	d.fillTmpfs()
	return total
}

// fillTmpfs takes every free byte of the tmpfs under the image, so that a
// write into a hole of the image fails.
func (d *Disk) fillTmpfs() {
	d.tb.Helper()
	if d.tmpFiller == "" {
		d.tmpFiller = filepath.Join(d.tmpfs, "filler")
		if err := os.WriteFile(d.tmpFiller, nil, 0o600); err != nil {
			d.tb.Fatalf("loopdisk: %v", err)
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(d.tmpfs, &st); err != nil {
		d.tb.Fatalf("loopdisk: statfs %s: %v", d.tmpfs, err)
	}
	fi, err := os.Stat(d.tmpFiller)
	if err != nil {
		d.tb.Fatalf("loopdisk: %v", err)
	}
	if free := int64(st.Bavail) * st.Bsize; free > 0 {
		if err := fallocate(d.tmpFiller, fi.Size(), free); err != nil {
			d.tb.Fatalf("loopdisk: fill tmpfs: %v", err)
		}
	}
	if err := unix.Statfs(d.tmpfs, &st); err != nil {
		d.tb.Fatalf("loopdisk: statfs %s: %v", d.tmpfs, err)
	}
	if st.Bavail != 0 {
		d.tb.Fatalf("loopdisk: tmpfs %s still has %d free blocks", d.tmpfs, st.Bavail)
	}
}

// Heal lets writes that FailWrites made fail succeed again (the backing
// store has room again). Pages whose write-back already failed are not
// written again by this: the file system considers them clean.
func (d *Disk) Heal() {
	d.tb.Helper()
	if d.tmpFiller == "" {
		return
	}
	if err := os.Remove(d.tmpFiller); err != nil {
		d.tb.Fatalf("loopdisk: %v", err)
	}
	d.tmpFiller = ""
}

// FS_IOC_FIEMAP and its flags (linux/fiemap.h).
const (
	fsIocFiemap       = 0xC020660B
	fiemapExtentLast  = 0x1
	fiemapExtentUnwr  = 0x800
	fiemapExtentBatch = 32
)

type fiemapExtent struct {
	logical, physical, length uint64
	_                         [2]uint64
	flags                     uint32
	_                         [3]uint32
}

type fiemap struct {
	start, length                  uint64
	flags, mapped, count, reserved uint32
	extents                        [fiemapExtentBatch]fiemapExtent
}

// unwrittenExtents returns path's extents that are allocated but unwritten.
// It does not write back dirty pages first (no FIEMAP_FLAG_SYNC): those
// are to fail too. A completed fsync has converted the extents it wrote
// (ext4 ends page write-back only after the conversion), so no extent
// reported here holds acknowledged data.
func unwrittenExtents(path string) ([]fiemapExtent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []fiemapExtent
	var start uint64
	for {
		fm := fiemap{start: start, length: ^uint64(0) - start, count: fiemapExtentBatch}
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&fm))); e != 0 {
			return nil, fmt.Errorf("FIEMAP %s: %w", path, e)
		}
		if fm.mapped == 0 {
			return out, nil
		}
		for _, e := range fm.extents[:fm.mapped] {
			if e.flags&fiemapExtentUnwr != 0 {
				out = append(out, e)
			}
			if e.flags&fiemapExtentLast != 0 {
				return out, nil
			}
			start = e.logical + e.length
		}
	}
}

func punch(path string, off, n int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n); err != nil {
		return fmt.Errorf("punch %s [%d, %d): %w", path, off, off+n, err)
	}
	return nil
}
