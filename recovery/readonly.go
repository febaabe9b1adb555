package recovery

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logdir"
	"github.com/raftlog/raftlog/internal/vfs"
)

// readOnly is the vfs.FS that Verify, Walk and Repair's analysis read
// through: O_RDONLY files, PROT_READ mappings, a shared lock.
var readOnly = vfs.ReadOnly

// lockDir locks dir for a tool: shared (read-only tools) or exclusive
// (Repair, like a Log). A lock held elsewhere is an error matching
// vfs.ErrLocked (mmaplog.ErrLocked).
//
// A path that is not a directory holding at least one segment or index
// file is ErrNoLog, checked before the lock is taken (so that no LOCK is
// created where there is no log).
func lockDir(fs vfs.FS, dir string, exclusive bool) (io.Closer, error) {
	if err := holdsLog(fs, dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, format.LockName)
	if !exclusive {
		return fs.Lock(path)
	}
	if _, err := fs.ReadDir(dir); err != nil {
		return nil, fmt.Errorf("recovery: read directory %s: %w", dir, err)
	}
	l, err := fs.Lock(path)
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, err
		}
		return nil, fmt.Errorf("recovery: lock %s: %w", dir, err)
	}
	return l, nil
}

// holdsLog returns nil when dir lists a segment or index file.
func holdsLog(fs vfs.FS, dir string) error {
	list, err := logdir.List(fs, dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrNoLog, dir, err)
	}
	if len(list.SegmentIDs) > 0 || len(list.Orphans) > 0 {
		return nil
	}
	// Files an earlier Repair set aside (a cut that took every segment,
	// before it wrote the vote it saved back): a log in the middle of a
	// repair, whose next Repair restores that vote.
	names, err := fs.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrNoLog, dir, err)
	}
	for _, n := range names {
		if strings.HasSuffix(n, BrokenSuffix) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrNoLog, dir)
}

// readDir runs fn on dir mapped read-only, under the directory's shared
// lock, with memory faults turned into errors: the frame of the read-only
// tools.
func readDir(dir string, fn func(d *dirView) error) error {
	lk, err := lockDir(readOnly, dir, false)
	if err != nil {
		return err
	}
	defer lk.Close()
	d, err := loadDir(readOnly, dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return guardFault(func() error { return fn(d) })
}
