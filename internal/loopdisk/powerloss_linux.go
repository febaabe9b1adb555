//go:build linux

package loopdisk

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PowerLoss replaces the file system at d.Dir by what a power cut at this
// instant would leave on the disk: every write the loop device completed,
// and nothing the kernel still held in memory. Files a process still has
// open stay usable but belong to the old, detached file system; reopen
// them under d.Dir. See the package documentation.
func (d *Disk) PowerLoss() {
	d.tb.Helper()
	if !d.mounted {
		d.tb.Fatal("loopdisk: PowerLoss: not mounted")
	}
	snap := filepath.Join(d.tb.TempDir(), "disk.img")
	var err error
	for range 100 {
		var ok bool
		if ok, err = d.snapshot(snap); err != nil {
			d.tb.Fatalf("loopdisk: PowerLoss: %v", err)
		}
		if ok {
			break
		}
		err = fmt.Errorf("writes kept reaching %s while copying its image", d.loop)
	}
	if err != nil {
		d.tb.Fatalf("loopdisk: PowerLoss: %v", err)
	}
	if err := d.unmount(); err != nil {
		d.tb.Fatalf("loopdisk: PowerLoss: %v", err)
	}
	// The old image (on the tmpfs, perhaps) is left to the old device;
	// the copy becomes the disk, without fault injection.
	d.image, d.tmpFiller = snap, ""
	d.attachAndMount()
}

// snapshot copies the image to dst and reports whether no write was in
// flight or completed by the loop device while it copied.
func (d *Disk) snapshot(dst string) (bool, error) {
	before, err := d.writeStat()
	if err != nil {
		return false, err
	}
	if err := copyFile(dst, d.image); err != nil {
		return false, err
	}
	after, err := d.writeStat()
	if err != nil {
		return false, err
	}
	return before.quiet() && after.quiet() && before == after, nil
}

// writeStat is the part of a block device's statistics that changes when
// the device writes anything.
type writeStat struct {
	writes, discards, inFlight uint64
}

func (s writeStat) quiet() bool { return s.inFlight == 0 }

// writeStat reads /sys/block/loopN/stat (Documentation/block/stat.rst):
// field 5 counts completed writes, 9 the requests in flight, 12 completed
// discards.
func (d *Disk) writeStat() (writeStat, error) {
	name := filepath.Base(d.loop)
	b, err := os.ReadFile(filepath.Join("/sys/block", name, "stat"))
	if err != nil {
		return writeStat{}, err
	}
	f := strings.Fields(string(b))
	if len(f) < 11 {
		return writeStat{}, fmt.Errorf("/sys/block/%s/stat: %d fields", name, len(f))
	}
	num := func(i int) uint64 {
		if i >= len(f) {
			return 0
		}
		n, _ := strconv.ParseUint(f[i], 10, 64)
		return n
	}
	return writeStat{writes: num(4), inFlight: num(8), discards: num(11)}, nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
