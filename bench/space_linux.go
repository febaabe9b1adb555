//go:build linux

package bench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// freeBytes is the space an unprivileged writer may still use in dir's
// file system.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("bench: statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// diskUsage is the space the files under dir take (allocated blocks, so
// preallocated space counts), or 0 when it cannot be read.
func diskUsage(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(path, &st) == nil {
			n += st.Blocks * 512
		}
		return nil
	})
	return n
}

// coldCache takes the log in dir out of the page cache as mode says and
// describes what it did.
func coldCache(mode CacheMode, dir string) (string, error) {
	if mode == CacheDrop {
		err := dropPageCache()
		if err == nil {
			return "page cache dropped (drop_caches 3)", nil
		}
		if !errors.Is(err, fs.ErrPermission) && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if err := evictFiles(dir); err != nil {
			return "", err
		}
		return "cannot drop the page cache (not root): the log's files evicted instead (FADV_DONTNEED; inodes stay cached)", nil
	}
	if err := evictFiles(dir); err != nil {
		return "", err
	}
	return "the log's files evicted (FADV_DONTNEED; inodes stay cached)", nil
}

// dropPageCache writes every dirty page back and drops the clean ones,
// dentries and inodes with them. It needs root.
func dropPageCache() error {
	unix.Sync()
	f, err := os.OpenFile("/proc/sys/vm/drop_caches", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("3\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bench: drop_caches: %w", err)
	}
	return nil
}

// evictFiles writes back and evicts every file under dir from the page
// cache.
func evictFiles(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("bench: evict: %w", err)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("bench: evict: %w", err)
		}
		defer f.Close()
		fd := int(f.Fd())
		if err := unix.Fdatasync(fd); err != nil {
			return fmt.Errorf("bench: evict %s: fdatasync: %w", path, err)
		}
		if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
			return fmt.Errorf("bench: evict %s: fadvise: %w", path, err)
		}
		return nil
	})
}

// diskReads is the number of bytes the process has caused to be read
// from storage (read_bytes of /proc/self/io: page faults and readahead
// included, page cache hits not), or -1 when the kernel does not say.
func diskReads() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "read_bytes: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// majorFaults is the process's count of page faults that read from disk.
func majorFaults() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Majflt
}
