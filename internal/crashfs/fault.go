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
)

var opNames = [...]string{"", "mkdirall", "readdir", "create", "open", "rename", "remove", "syncdir", "lock", "size", "map", "msync", "writeat", "datasync", "close", "readat", "resize"}

func (o Op) String() string {
	if int(o) < len(opNames) && o != 0 {
		return opNames[o]
	}
	return "op?"
}

// AllOps lists every Op.
var AllOps = []Op{OpMkdirAll, OpReadDir, OpCreate, OpOpen, OpRename, OpRemove, OpSyncDir, OpLock, OpSize, OpMap, OpMsync, OpWriteAt, OpDatasync, OpClose, OpReadAt, OpResize}

// Common injected errors.
var (
	EIO    error = syscall.EIO
	ENOSPC error = syscall.ENOSPC
)

// Fault makes calls of Op fail with Err: the Nth matching call (1-based,
// counted from when the fault was injected) and the Times-1 calls after it
// (Times 0 means every call from the Nth on). A failing call changes
// nothing. PathContains, when set, restricts the fault to paths holding it.
type Fault struct {
	Op           Op
	Nth          int
	Times        int
	Err          error
	PathContains string

	seen  int // matching calls so far
	Fired int // calls failed so far
}

// Event is one completed operation, as seen by a hook.
type Event struct {
	Op   Op
	Path string
	Seq  int   // 1, 2, ... over all operations of the FS
	Err  error // what the operation returned
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

// Count returns how many calls of op were made (failed ones included).
func (f *FS) Count(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// fault returns the error of the first fault that fails this call. Call
// with mu held.
func (f *FS) fault(op Op, path string) error {
	var err error
	for _, ft := range f.faults {
		if ft.Op != op || (ft.PathContains != "" && !strings.Contains(path, ft.PathContains)) {
			continue
		}
		ft.seen++
		if ft.seen >= ft.Nth && (ft.Times == 0 || ft.seen < ft.Nth+ft.Times) && err == nil {
			ft.Fired++
			err = pathErr(op, path, ft.Err)
		}
	}
	return err
}
