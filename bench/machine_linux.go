//go:build linux

package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// File system magic numbers from statfs(2).
var fsMagic = map[int64]string{
	0xEF53:     "ext2/3/4",
	0x58465342: "xfs",
	0x9123683E: "btrfs",
	0x01021994: "tmpfs",
	0x858458F6: "ramfs",
	0x794C7630: "overlayfs",
	0x2FC12FC1: "zfs",
	0x6969:     "nfs",
	0xF2F52010: "f2fs",
	0x65735546: "fuse",
	0x73717368: "squashfs",
}

// FileSystem names the file system holding dir and reports whether syncs
// there are free (tmpfs, ramfs), which makes durability results meaningless.
func FileSystem(dir string) (name string, memoryBacked bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown", false
	}
	magic := int64(st.Type)
	name, ok := fsMagic[magic]
	if !ok {
		name = fmt.Sprintf("0x%x", magic)
	}
	memoryBacked = name == "tmpfs" || name == "ramfs"
	if t := mountType(dir); t != "" && !memoryBacked {
		name = t // names ext4 precisely
	}
	return name, memoryBacked
}

// mountType returns the type in /proc/self/mountinfo of the mount that
// holds dir, or "".
func mountType(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if p, err := filepath.EvalSymlinks(abs); err == nil {
		abs = p
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	best, typ := -1, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, after := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(after) < 1 {
			continue
		}
		mp := fields[4]
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, typ = len(mp), after[0]
		}
	}
	return typ
}

func kernelAndMemory() (string, int64) {
	var u unix.Utsname
	kernel := "unknown"
	if err := unix.Uname(&u); err == nil {
		kernel = unix.ByteSliceToString(u.Release[:])
	}
	var si unix.Sysinfo_t
	var mem int64
	if err := unix.Sysinfo(&si); err == nil {
		mem = int64(si.Totalram) * int64(si.Unit)
	}
	return kernel, mem
}

// syncFS commits the file system holding dir (syncfs(2)); errors are
// ignored, it only keeps one run's writeback out of the next one's clock.
func syncFS(dir string) {
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	defer f.Close()
	_ = unix.Syncfs(int(f.Fd()))
}

// hugeMapped returns how many bytes of this process's file mappings under
// dir are resident (Rss) and how many of those are mapped with 2 MiB page
// table entries (FilePmdMapped), from /proc/self/smaps. A random read
// through 4 KiB entries takes a TLB miss and a page-table walk that a
// 2 MiB entry mostly spares: W4 prints the share beside its probe.
func hugeMapped(dir string) (rss, huge int64) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") {
			// A mapping's first line: range, perms, offset, dev, inode, path.
			in = len(fields) >= 6 && strings.HasPrefix(fields[5], prefix)
			continue
		}
		if !in || len(fields) < 2 {
			continue
		}
		var kb int64
		if _, err := fmt.Sscan(fields[1], &kb); err != nil {
			continue
		}
		switch fields[0] {
		case "Rss:":
			rss += kb << 10
		case "FilePmdMapped:":
			huge += kb << 10
		}
	}
	return rss, huge
}
