package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/raftlog/raftlog/recovery"
)

// The commands check the directory before recovery reads it, so that a
// wrong path gets an answer in the operator's terms ("not a log
// directory") instead of whatever the first failing system call says, and
// so that nothing (not even a LOCK file) is created where there is no log.

// segPattern is how the usage names a segment file.
const segPattern = "NNNNNNNNNNNNNNNNNNNN.seg"

// logDir is what checkLogDir found in a log directory.
type logDir struct {
	path     string
	segments int
	ours     []string // the log's files: segments, indexes, LOCK, leftovers, *.broken
}

// checkLogDir checks that dir is a readable directory holding a log: at
// least one segment file, and only regular files under the names the log
// uses. The error explains what dir is instead and what to do.
func checkLogDir(dir string) (*logDir, error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		return nil, fmt.Errorf("%s is not a log directory: %s is a file", dir, fileAncestor(dir))
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s does not exist", dir)
	case errors.Is(err, fs.ErrPermission):
		return nil, errors.New(permissionText(dir))
	case err != nil:
		return nil, err
	case !st.IsDir():
		return nil, notADirectory(dir, st)
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrPermission) {
		return nil, errors.New(permissionText(dir))
	}
	if err != nil {
		return nil, err
	}
	d := &logDir{path: dir}
	var others, broken []string
	for _, e := range ents {
		name := e.Name()
		kind := fileKind(name)
		if kind == kindOther {
			others = append(others, name)
			continue
		}
		// A FIFO would block the open, a directory or a device fail the
		// mapping with an obscure error. Temporary files are only deleted.
		if kind == kindTemp {
			d.ours = append(d.ours, name)
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
		} else if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is %s, not a file: a log directory holds regular files only; move it away",
				filepath.Join(dir, name), modeText(st.Mode()))
		}
		d.ours = append(d.ours, name)
		switch kind {
		case kindSegment:
			d.segments++
		case kindBroken:
			broken = append(broken, name)
		}
	}
	if d.segments > 0 {
		return d, nil
	}
	return nil, noLog(dir, d.ours, broken, others)
}

// File kinds, by name.
const (
	kindOther = iota
	kindSegment
	kindIndex
	kindLock
	kindTemp
	kindBroken
)

func fileKind(name string) int {
	switch recovery.ClassifyName(name) {
	case recovery.FileTemp:
		return kindTemp // Open deletes every *.tmp file
	case recovery.FileSegment:
		return kindSegment
	case recovery.FileIndex:
		return kindIndex
	case recovery.FileBroken:
		return kindBroken
	case recovery.FileLock:
		return kindLock
	}
	return kindOther
}

// noLog explains a directory that holds no segment file.
func noLog(dir string, ours, broken, others []string) error {
	if slices.Contains(others, "wal-meta.db") {
		return fmt.Errorf("%s holds a raft-wal store, not a raftlog log: copy it into a new log with raftlog migrate -from raftwal %s NEWDIR", dir, dir)
	}
	for _, name := range others {
		if strings.HasSuffix(name, ".db") && isBolt(filepath.Join(dir, name)) {
			return fmt.Errorf("%s holds no raftlog log but a bolt database, %s: if it is a raft-boltdb store, copy it into a new log with raftlog migrate -from boltdb %s NEWDIR",
				dir, name, filepath.Join(dir, name))
		}
	}
	switch {
	case len(others) > 0:
		return fmt.Errorf("%s is not a log directory: it holds no segment file (%s) but %s; check the path", dir, segPattern, listText(others, "other entry", "other entries"))
	case len(broken) > 0:
		return fmt.Errorf("no log in %s: it holds no segment file, only what raftlog repair set aside (%s); Open would start a new, empty log there", dir, strings.Join(short(broken), ", "))
	case len(ours) > 0:
		return fmt.Errorf("no log in %s: it holds no segment file (%s), only %s; Open would create a new log there", dir, segPattern, strings.Join(short(ours), ", "))
	}
	return fmt.Errorf("no log in %s: the directory is empty", dir)
}

// notADirectory explains a path that is not a directory.
func notADirectory(path string, st fs.FileInfo) error {
	name := filepath.Base(path)
	switch {
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s is not a log directory: it is %s", path, modeText(st.Mode()))
	case fileKind(name) != kindOther:
		return fmt.Errorf("%s is a file of a log, not its directory: pass the directory, %s", path, filepath.Dir(path))
	case isBolt(path):
		return fmt.Errorf("%s is not a log directory but a bolt database file: if it is a raft-boltdb store, copy it into a new log with raftlog migrate -from boltdb %s NEWDIR", path, path)
	}
	return fmt.Errorf("%s is a file, not a log directory: pass the directory that holds the log's segment files (%s)", path, segPattern)
}

// fileAncestor returns the nearest ancestor of path that exists and is not
// a directory (path itself if none is found).
func fileAncestor(path string) string {
	for p := filepath.Dir(path); p != filepath.Dir(p); p = filepath.Dir(p) {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return path
}

func modeText(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

// isBolt reports whether path starts with a bolt (boltdb/bolt, bbolt)
// meta page: the magic 0xED0CDAED after the 16-byte page header.
func isBolt(path string) bool {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [20]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return false
	}
	const magic = 0xED0CDAED
	return binary.LittleEndian.Uint32(b[16:]) == magic || binary.BigEndian.Uint32(b[16:]) == magic
}

// listText names up to three entries.
func listText(names []string, one, many string) string {
	if len(names) == 1 {
		return fmt.Sprintf("1 %s (%s)", one, names[0])
	}
	return fmt.Sprintf("%d %s (%s)", len(names), many, strings.Join(short(names), ", "))
}

func short(names []string) []string {
	if len(names) <= 3 {
		return names
	}
	return append(slices.Clone(names[:3]), "...")
}

// permWarnings lists what in d other users can reach: the directory with
// any permission for others (segment names are predictable, so search
// alone reaches the files), a file they can read or write.
func permWarnings(d *logDir) []string {
	var warn []string
	if st, err := os.Stat(d.path); err == nil && st.Mode().Perm()&0o007 != 0 {
		warn = append(warn, fmt.Sprintf("%s has mode %#o: other users can reach into it (raftlog creates 0700); chmod o-rwx %s",
			d.path, st.Mode().Perm(), d.path))
	}
	var open []string
	for _, name := range d.ours {
		if st, err := os.Stat(filepath.Join(d.path, name)); err == nil && st.Mode().Perm()&0o006 != 0 {
			open = append(open, fmt.Sprintf("%s %#o", name, st.Mode().Perm()))
		}
	}
	if len(open) > 0 {
		warn = append(warn, fmt.Sprintf("%s of the log open to other users (%s): the log holds the application's data (raftlog creates 0600); chmod o-rw %s",
			countText(len(open), "file", "files"), strings.Join(short(open), ", "), filepath.Join(d.path, "*")))
	}
	return warn
}

func countText(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
