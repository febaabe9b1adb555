package crashfs

import (
	"strings"
	"syscall"
)

// Op names an operation of the FS or of a File.
type Op uint8

// Operations, for faults, hooks and counts.
const (
	OpMkdirAll Op = iota + 1
	OpReadDir
	OpCreate
	OpOpen
	OpRename
	OpRemove
	OpSyncDir
	OpLock
	OpSize
	OpMap
	OpMsync
	OpWriteAt
	OpDatasync
	OpClose
	OpReadAt
	OpResize
	OpReuse
	OpWriteBehind
)

var opNames = [...]string{"", "mkdirall", "readdir", "create", "open", "rename", "remove", "syncdir", "lock", "size", "map", "msync", "writeat", "datasync", "close", "readat", "resize", "reuse", "writebehind"}

func (o Op) String() string {
	if int(o) < len(opNames) && o != 0 {
		return opNames[o]
	}
	return "op?"
}

// AllOps lists every Op.
var AllOps = []Op{OpMkdirAll, OpReadDir, OpCreate, OpOpen, OpRename, OpRemove, OpSyncDir, OpLock, OpSize, OpMap, OpMsync, OpWriteAt, OpDatasync, OpClose, OpReadAt, OpResize, OpReuse, OpWriteBehind}

// Common injected errors.
var (
	EIO    error = syscall.EIO
	ENOSPC error = syscall.ENOSPC
)

// Fault makes calls of Op fail with Err: the Nth matching call (1-based,
// counted from when the fault was injected) and the Times-1 calls after it
// (Times 0 means every call from the Nth on). A failing call changes
// nothing, except with Writeback. PathContains, when set, restricts the
// fault to paths holding it.
//
// Writeback (OpMsync, OpDatasync, OpWriteBehind only) is a failed write-back as Linux
// reports it ("fsyncgate"): the call fails with Err, and the dirty pages of
// its range are marked clean in the page cache without having reached the
// disk. A later sync of them succeeds without writing them, reads (and a
// reopen in the same boot, without a power loss) see the cached bytes, and
// a power loss loses them. Writing to such a page through WriteAt, or
// changing its bytes through the mapping, dirties it again.
type Fault struct {
	Op           Op
	Nth          int
	Times        int
	Err          error
	PathContains string
	Writeback    bool

	seen  int // matching calls so far
	Fired int // calls failed so far
}

// Event is one completed operation, as seen by a hook, or a sync about
// to start, as seen by a sync hook (SetSyncHook).
type Event struct {
	Op   Op
	Path string
	Seq  int   // 1, 2, ... over all operations of the FS (0 for a sync hook)
	Err  error // what the operation returned (nil for a sync hook)
	// Off and Len are the byte range a sync hook's sync writes (the whole
	// file for OpDatasync; Off rounded down to a page for OpMsync).
	Off, Len int64

	ino *inode // the synced file (sync hook only)
}

// Inject adds a fault. It returns f, whose Fired field counts the calls it
// failed (read it under no concurrent operations, or via Fired).
func (f *FS) Inject(ft Fault) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ft.Nth < 1 {
		ft.Nth = 1
	}
	if ft.Err == nil {
		ft.Err = EIO
	}
	p := &ft
	f.faults = append(f.faults, p)
	return p
}

// Fired reports how many calls ft has failed so far.
func (f *FS) Fired(ft *Fault) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return ft.Fired
}

// ClearFaults removes every injected fault.
func (f *FS) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// SetHook installs h (nil removes it). h runs after every operation, on
// the goroutine that made it, without the FS locked: it may call Snapshot.
func (f *FS) SetHook(h func(Event)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

// SetSyncHook installs h (nil removes it): h runs at the start of every
// Msync and Datasync that goes ahead (after fault checks, before anything
// is copied), on the goroutine that made it, without the FS locked. Its
// Event has Off and Len; SnapshotDuring(ev) captures a power loss in the
// middle of that sync. Ordinary hooks (SetHook) still see the sync after
// it completed.
func (f *FS) SetSyncHook(h func(Event)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncHook = h
}

// Count returns how many calls of op were made (failed ones included).
func (f *FS) Count(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// fault returns the first fault that fails this call and its error. Call
// with mu held.
func (f *FS) fault(op Op, path string) (*Fault, error) {
	var (
		err   error
		fired *Fault
	)
	for _, ft := range f.faults {
		if ft.Op != op || (ft.PathContains != "" && !strings.Contains(path, ft.PathContains)) {
			continue
		}
		ft.seen++
		if ft.seen >= ft.Nth && (ft.Times == 0 || ft.seen < ft.Nth+ft.Times) && err == nil {
			ft.Fired++
			fired, err = ft, pathErr(op, path, ft.Err)
		}
	}
	return fired, err
}
