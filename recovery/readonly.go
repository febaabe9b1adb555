package recovery

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/vfs"
)

// readOnly is the vfs.FS that Verify, Walk and Repair's analysis read
// through: O_RDONLY files, PROT_READ mappings, a shared lock.
var readOnly = vfs.ReadOnly

// lockDir locks dir for a tool: shared (read-only tools) or exclusive
// (Repair, like a Log). A lock held elsewhere is an error matching
// vfs.ErrLocked (mmaplog.ErrLocked).
func lockDir(fs vfs.FS, dir string, exclusive bool) (io.Closer, error) {
	path := filepath.Join(dir, format.LockName)
	if !exclusive {
		return fs.Lock(path)
	}
	if _, err := fs.ReadDir(dir); err != nil {
		return nil, err
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
