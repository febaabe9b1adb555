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

// FailWrites makes every write to the blocks the given files have now fail
// (EIO/ENOSPC for msync and fsync) until Heal, and returns how many bytes
// that covers. A write that fails on a real disk leaves the old bytes in
// place: FailWrites keeps the blocks' current contents aside and Heal puts
// them back. Blocks allocated later (new files, growth) are not affected.
// Files must not have delayed allocations (written but never synced
// data outside preallocated space). It needs Options.Tmpfs. See the
// package documentation.
//
// Whole files fail, not parts: the loop driver completes a write that runs
// from a block with memory behind it into a hole as a success, silently
// dropping the rest (a short write), so a failing range must begin where
// any write into it can begin.
func (d *Disk) FailWrites(paths ...string) int64 {
	d.tb.Helper()
	if d.tmpfs == "" {
		d.tb.Fatal("loopdisk: FailWrites needs Options.Tmpfs")
	}
	img, err := os.OpenFile(d.image, os.O_RDWR, 0)
	if err != nil {
		d.tb.Fatalf("loopdisk: %v", err)
	}
	defer img.Close()
	var total int64
	for _, p := range paths {
		exts, err := extents(p)
		if err != nil {
			d.tb.Fatalf("loopdisk: %v", err)
		}
		for _, e := range exts {
			if err := d.save(img, int64(e.physical), int64(e.length)); err != nil {
				d.tb.Fatalf("loopdisk: %s: %v", p, err)
			}
			if err := unix.Fallocate(int(img.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(e.physical), int64(e.length)); err != nil {
				d.tb.Fatalf("loopdisk: punch %s under %s: %v", d.image, p, err)
			}
			total += int64(e.length)
		}
	}
	d.fillTmpfs()
	return total
}

// savedBlock is a block's contents kept by FailWrites for Heal.
type savedBlock struct {
	off  int64
	data []byte
}

// save keeps the nonzero blocks of the image's [off, off+n) in d.saved
// (a hole reads as zeros, so zero blocks need no restoring).
func (d *Disk) save(img *os.File, off, n int64) error {
	for end := off + n; off < end; off += blockSize {
		b := make([]byte, min(blockSize, end-off))
		if _, err := img.ReadAt(b, off); err != nil {
			return err
		}
		for _, c := range b {
			if c != 0 {
				d.saved = append(d.saved, savedBlock{off, b})
				break
			}
		}
	}
	return nil
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

// Heal lets writes that FailWrites made fail succeed again, after putting
// back the old contents of the blocks it failed. Pages whose write-back
// failed are not written again by this: the file system considers them
// clean, and the disk keeps the old bytes under them.
func (d *Disk) Heal() {
	d.tb.Helper()
	if d.tmpFiller == "" {
		return
	}
	// Free just the room the old contents need, so that nothing else can
	// write into the holes before they are restored.
	fi, err := os.Stat(d.tmpFiller)
	if err != nil {
		d.tb.Fatalf("loopdisk: %v", err)
	}
	if err := os.Truncate(d.tmpFiller, max(fi.Size()-int64(len(d.saved))*blockSize, 0)); err != nil {
		d.tb.Fatalf("loopdisk: %v", err)
	}
	img, err := os.OpenFile(d.image, os.O_RDWR, 0)
	if err != nil {
		d.tb.Fatalf("loopdisk: %v", err)
	}
	defer img.Close()
	for _, b := range d.saved {
		if _, err := img.WriteAt(b.data, b.off); err != nil {
			d.tb.Fatalf("loopdisk: Heal: restore the old contents at %d: %v (did a write race Heal?)", b.off, err)
		}
	}
	d.saved = nil
	if err := os.Remove(d.tmpFiller); err != nil {
		d.tb.Fatalf("loopdisk: %v", err)
	}
	d.tmpFiller = ""
}

// FS_IOC_FIEMAP and its flags (linux/fiemap.h).
const (
	fsIocFiemap = 0xC020660B
	// extent flags
	fiemapExtentLast    = 0x1
	fiemapExtentUnknown = 0x2   // no physical address yet (delayed allocation)
	fiemapExtentInline  = 0x200 // data inside the inode
	fiemapExtentBatch   = 32
)

const blockSize = 4096

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

// extents returns every extent of path. It does not write back dirty
// pages first (no FIEMAP_FLAG_SYNC): their writes are to fail too.
func extents(path string) ([]fiemapExtent, error) {
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
			if e.flags&(fiemapExtentUnknown|fiemapExtentInline) != 0 {
				return nil, fmt.Errorf("%s: extent at %d has no block of its own (flags %#x): sync the file first", path, e.logical, e.flags)
			}
			out = append(out, e)
			if e.flags&fiemapExtentLast != 0 {
				return out, nil
			}
			start = e.logical + e.length
		}
	}
}
