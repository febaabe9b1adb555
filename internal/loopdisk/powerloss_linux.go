//go:build linux

package loopdisk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
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
	if d.opts.NoJournal {
		d.fsck(snap)
	}
	// The old image (on the tmpfs, perhaps) is left to the old device;
	// the copy becomes the disk, without fault injection.
	d.image, d.tmpFiller = snap, ""
	d.attachAndMount()
}

// fsck repairs image as the boot after a power cut would (e2fsck -fy):
// exit status 1 and 2 say it corrected errors, 4 and up that it could
// not, which fails the test.
func (d *Disk) fsck(image string) {
	d.tb.Helper()
	out, err := exec.Command("e2fsck", "-fy", image).CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		d.tb.Fatalf("loopdisk: PowerLoss: e2fsck: %v", err)
	}
	d.Fsck = fmt.Sprintf("e2fsck exit %d\n%s", code, out)
	if code >= 4 {
		d.tb.Fatalf("loopdisk: PowerLoss: the file system is damaged beyond repair: %s", d.Fsck)
	}
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
