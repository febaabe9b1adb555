//go:build linux

package loopdisk

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Options configures Mount. The zero value means defaults.
type Options struct {
	// Size is the file system image's size in bytes, a multiple of 4 KiB.
	// Default 32 MiB; at least 8 MiB (ext4 with a journal).
	Size int64
	// Tmpfs puts the image on a private tmpfs, fully allocated, as
	// FailWrites needs. It costs Size bytes of memory. Default false: the
	// image is a file in the test's temporary directory.
	Tmpfs bool
	// MountOptions are passed to mount -o. Default "noatime".
	MountOptions string
	// NoJournal formats ext4 without a journal (mkfs.ext4 -O ^has_journal),
	// as the root file system of this project's development VM is: fsync
	// then writes metadata in place, and there is no journal to replay
	// after a power loss.
	//
	// Without a journal, a power loss leaves metadata half written (block
	// counts, inode checksums), and the kernel warns that the file system
	// is unchecked: PowerLoss runs e2fsck -fy on the image before it
	// mounts it, as the boot after a power cut does (systemd-fsck), and
	// keeps its report in Disk.Fsck.
	NoJournal bool
}

// Disk is a mounted ext4 file system on a loop device.
type Disk struct {
	// Dir is the mount point: the root of the file system.
	Dir string
	// Fsck is what e2fsck reported about the image of the last PowerLoss
	// (NoJournal only): its exit status and output.
	Fsck string

	tb     testing.TB
	opts   Options
	image  string // the backing image file
	loop   string // /dev/loopN
	tmpfs  string // mount point of the tmpfs holding image ("" without Tmpfs)
	filler string // filler file of FillTo ("" when none)
	// tmpFiller is the tmpfs filler of FailWrites ("" when none).
	tmpFiller string
	saved     []savedBlock // old contents of the blocks FailWrites failed
	mounted   bool
}

// RequireEnv names the environment variable that turns a skip (no root, no
// loop device, no mkfs.ext4, mount refused) into a test failure.
const RequireEnv = "RAFTLOG_REQUIRE_LOOPDISK"

// Mount creates, formats and mounts a file system for tb, undone by tb's
// cleanup. It skips tb when the machine cannot do it (see RequireEnv).
func Mount(tb testing.TB, opts Options) *Disk {
	tb.Helper()
	if opts.Size == 0 {
		opts.Size = 32 << 20
	}
	if opts.MountOptions == "" {
		opts.MountOptions = "noatime"
	}
	if opts.Size < 8<<20 || opts.Size%4096 != 0 {
		tb.Fatalf("loopdisk: Size %d: want a multiple of 4096, at least 8 MiB", opts.Size)
	}
	if os.Geteuid() != 0 {
		skip(tb, "not root")
	}
	tools := []string{"losetup", "mkfs.ext4", "mount", "umount"}
	if opts.NoJournal {
		tools = append(tools, "e2fsck") // PowerLoss checks the disk as a boot would
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			skip(tb, tool+" not found")
		}
	}
	d := &Disk{tb: tb, opts: opts}
	work := tb.TempDir()
	d.Dir = filepath.Join(work, "mnt")
	if err := os.Mkdir(d.Dir, 0o755); err != nil {
		tb.Fatalf("loopdisk: %v", err)
	}
	tb.Cleanup(d.teardown)
	d.image = filepath.Join(work, "disk.img")
	if opts.Tmpfs {
		d.tmpfs = filepath.Join(work, "tmpfs")
		if err := os.Mkdir(d.tmpfs, 0o755); err != nil {
			tb.Fatalf("loopdisk: %v", err)
		}
		// Room for the image and a little more (the tmpfs filler's
		// inode); FailWrites takes the rest.
		size := fmt.Sprintf("size=%dk", opts.Size/1024+64)
		if out, err := run("mount", "-t", "tmpfs", "-o", size, "tmpfs", d.tmpfs); err != nil {
			d.tmpfs = ""
			skip(tb, fmt.Sprintf("mount tmpfs: %v: %s", err, out))
		}
		d.image = filepath.Join(d.tmpfs, "disk.img")
	}
	if err := os.WriteFile(d.image, nil, 0o600); err != nil {
		tb.Fatalf("loopdisk: %v", err)
	}
	if err := os.Truncate(d.image, opts.Size); err != nil {
		tb.Fatalf("loopdisk: %v", err)
	}
	// 4 KiB blocks (mkfs picks 1 KiB for small images), no blocks reserved
	// for root (tests run as root and must see the disk full), nothing
	// discarded, inode tables and journal written now.
	args := []string{"-q", "-F", "-b", "4096", "-m", "0",
		"-E", "nodiscard,lazy_itable_init=0,lazy_journal_init=0"}
	if opts.NoJournal {
		args = append(args, "-O", "^has_journal")
	}
	if out, err := run("mkfs.ext4", append(args, d.image)...); err != nil {
		tb.Fatalf("loopdisk: mkfs.ext4: %v: %s", err, out)
	}
	if opts.Tmpfs {
		// Give every block memory behind it: mkfs leaves holes (it zeroes
		// by punching), which would fail writes before FailWrites.
		if err := fallocate(d.image, 0, opts.Size); err != nil {
			tb.Fatalf("loopdisk: allocate image: %v", err)
		}
	}
	d.attachAndMount()
	return d
}

// Journaled reports whether the mounted file system runs a journal: ext4
// registers one under /proc/fs/jbd2 as <device>-8.
func (d *Disk) Journaled() bool {
	_, err := os.Stat(filepath.Join("/proc/fs/jbd2", filepath.Base(d.loop)+"-8"))
	return err == nil
}

// attachAndMount attaches d.image to a free loop device and mounts it at
// d.Dir.
func (d *Disk) attachAndMount() {
	d.tb.Helper()
	out, err := run("losetup", "--find", "--show", d.image)
	if err != nil {
		skip(d.tb, fmt.Sprintf("losetup: %v: %s", err, out))
	}
	d.loop = strings.TrimSpace(out)
	if out, err := run("mount", "-t", "ext4", "-o", d.opts.MountOptions, d.loop, d.Dir); err != nil {
		skip(d.tb, fmt.Sprintf("mount %s: %v: %s", d.loop, err, out))
	}
	d.mounted = true
}

// unmount detaches the file system from d.Dir (lazily: files still open on
// it stay usable, and their write-back goes to the old image) and releases
// the loop device once nothing uses it.
func (d *Disk) unmount() error {
	var errs []string
	if d.mounted {
		if out, err := run("umount", "-l", d.Dir); err != nil {
			errs = append(errs, fmt.Sprintf("umount %s: %v: %s", d.Dir, err, out))
		}
		d.mounted = false
	}
	if d.loop != "" {
		// With the file system still busy, -d only marks the device to
		// be released when it is last closed (autoclear).
		if out, err := run("losetup", "-d", d.loop); err != nil {
			errs = append(errs, fmt.Sprintf("losetup -d %s: %v: %s", d.loop, err, out))
		}
		d.loop = ""
	}
	if len(errs) > 0 {
		return fmt.Errorf("loopdisk: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (d *Disk) teardown() {
	if err := d.unmount(); err != nil {
		d.tb.Error(err)
	}
	if d.tmpfs != "" {
		if out, err := run("umount", "-l", d.tmpfs); err != nil {
			d.tb.Errorf("loopdisk: umount tmpfs %s: %v: %s", d.tmpfs, err, out)
		}
		d.tmpfs = ""
	}
}

// Loop returns the loop device's path (/dev/loopN).
func (d *Disk) Loop() string { return d.loop }

// Free returns the bytes a new file can still get on the file system
// (statfs f_bavail: no blocks are reserved for root, but ext4 keeps a few
// for its own metadata).
func (d *Disk) Free() int64 {
	d.tb.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(d.Dir, &st); err != nil {
		d.tb.Fatalf("loopdisk: statfs %s: %v", d.Dir, err)
	}
	return int64(st.Bavail) * st.Bsize
}

func skip(tb testing.TB, why string) {
	tb.Helper()
	msg := "loopdisk: cannot mount a loop device here (" + why + "); needs root, a free /dev/loop*, mkfs.ext4"
	if os.Getenv(RequireEnv) != "" {
		tb.Fatal(msg + "; " + RequireEnv + " is set")
	}
	tb.Skip(msg)
}

func run(name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func fallocate(path string, off, n int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, off, n); err != nil {
		return fmt.Errorf("fallocate %s [%d, %d): %w", path, off, off+n, err)
	}
	return nil
}
