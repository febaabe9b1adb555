package crashfs

import (
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/raftlog/raftlog/internal/vfs"
)

// Page and sector sizes of the simulated disk.
const (
	PageSize   = 4096
	SectorSize = 512
)

// inode is one file's contents.
type inode struct {
	mem        []byte // what the process sees; the mapping
	durable    []byte // what survives power loss; same length as mem
	sizeSynced bool   // len(mem) is durable
	// lost holds the pages whose write-back failed (Fault.Writeback): the
	// page cache marked them clean with these bytes, which are not on
	// disk. A page stays lost while its bytes in mem equal these.
	lost map[int][]byte
	// wbErr is a failed asynchronous write-back (StartWriteback under a
	// Writeback fault) that no sync has reported yet: the next Msync or
	// Datasync of the file returns it, as Linux reports such a failure to
	// the next fsync through the file's error sequence.
	wbErr error
	// zeroed holds the pages Reuse zeroed that no SyncInode has made
	// durable yet: zeroing a range (fallocate ZERO_RANGE) is an extent
	// change, which ext4 without a journal leaves out of msync and
	// fdatasync (vfs.InodeSyncer). Until then a sync leaves such a page's
	// old bytes on disk while it still holds the zeros, and writes it
	// once the process stored something else in it.
	zeroed map[int]bool

	linked  bool  // some name of the process view refers to it
	handles int   // open handles
	mapped  int   // open handles that mapped it
	charged int64 // bytes of capacity it holds (see SetCapacity)
}

// metaOp is a namespace change not yet made durable by SyncDir.
type metaOp struct {
	kind    Op // OpCreate, OpRename or OpRemove
	path    string
	newpath string // OpRename
	ino     *inode
}

// FS is an in-memory file system that knows what is durable. The zero
// value is not usable; call New.
type FS struct {
	mu      sync.Mutex
	dirs    map[string]bool
	names   map[string]*inode // what the process sees
	durable map[string]*inode // what survives power loss
	pending []metaOp          // in order
	locks   map[string]bool

	counts   map[Op]int
	faults   []*Fault
	seq      int
	hook     func(Event)
	syncHook func(Event)

	capacity int64 // 0: unlimited
	used     int64
}

var _ vfs.FS = (*FS)(nil)

// New returns an empty file system.
func New() *FS {
	return &FS{
		dirs:    map[string]bool{"/": true},
		names:   map[string]*inode{},
		durable: map[string]*inode{},
		locks:   map[string]bool{},
		counts:  map[Op]int{},
	}
}

func pathErr(op Op, path string, err error) error {
	return &fs.PathError{Op: op.String(), Path: path, Err: err}
}

// begin counts op, checks injected faults and returns the fault's error.
// Call with mu held.
func (f *FS) begin(op Op, path string) error {
	_, err := f.beginFault(op, path)
	return err
}

// beginFault is begin that also returns the fault that fired.
func (f *FS) beginFault(op Op, path string) (*Fault, error) {
	f.counts[op]++
	return f.fault(op, path)
}

// end reports op to the hook. Call without mu held.
func (f *FS) end(op Op, path string, err error) {
	f.mu.Lock()
	f.seq++
	ev := Event{Op: op, Path: path, Seq: f.seq, Err: err}
	h := f.hook
	f.mu.Unlock()
	if h != nil {
		h(ev)
	}
}

// MkdirAll creates dir and its parents; directories are durable at once.
func (f *FS) MkdirAll(dir string) (err error) {
	defer func() { f.end(OpMkdirAll, dir, err) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpMkdirAll, dir); err != nil {
		return err
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, ok := f.names[d]; ok {
			return pathErr(OpMkdirAll, d, syscall.ENOTDIR)
		}
		f.dirs[d] = true
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// ReadDir returns the sorted names of the files in dir.
func (f *FS) ReadDir(dir string) (names []string, err error) {
	defer func() { f.end(OpReadDir, dir, err) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpReadDir, dir); err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	if !f.dirs[dir] {
		return nil, pathErr(OpReadDir, dir, syscall.ENOENT)
	}
	for p := range f.names {
		if filepath.Dir(p) == dir {
			names = append(names, filepath.Base(p))
		}
	}
	slices.Sort(names)
	return names, nil
}

// Create creates path exclusively with size zero bytes (preallocated).
// The name is durable after SyncDir(dir), the size after a sync of the file.
func (f *FS) Create(path string, size int64) (_ vfs.File, err error) {
	defer func() { f.end(OpCreate, path, err) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpCreate, path); err != nil {
		return nil, err
	}
	path = filepath.Clean(path)
	if !f.dirs[filepath.Dir(path)] {
		return nil, pathErr(OpCreate, path, syscall.ENOENT)
	}
	if _, ok := f.names[path]; ok || f.dirs[path] {
		return nil, pathErr(OpCreate, path, syscall.EEXIST)
	}
	if size < 0 {
		return nil, pathErr(OpCreate, path, syscall.EINVAL)
	}
	ino := &inode{sizeSynced: size == 0}
	if err := f.allocate(ino, size, "fallocate", path); err != nil {
		return nil, err
	}
	ino.mem, ino.durable = make([]byte, size), make([]byte, size)
	f.link(path, ino)
	f.pending = append(f.pending, metaOp{kind: OpCreate, path: path, ino: ino})
	return f.handle(ino, path), nil
}

// Open opens an existing file.
func (f *FS) Open(path string) (_ vfs.File, err error) {
	defer func() { f.end(OpOpen, path, err) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpOpen, path); err != nil {
		return nil, err
	}
	path = filepath.Clean(path)
	ino, ok := f.names[path]
	if !ok {
		if f.dirs[path] {
			return nil, pathErr(OpOpen, path, syscall.EISDIR)
		}
		return nil, pathErr(OpOpen, path, syscall.ENOENT)
	}
	return f.handle(ino, path), nil
}

// Reuse opens an existing file of size bytes and zeroes it in the process
// view, keeping its disk space (fallocate ZERO_RANGE): until a SyncInode
// of the file, a crash may keep the old bytes of any page the process has
// not written since (see inode.zeroed).
func (f *FS) Reuse(path string, size int64) (_ vfs.File, err error) {
	defer func() { f.end(OpReuse, path, err) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpReuse, path); err != nil {
		return nil, err
	}
	path = filepath.Clean(path)
	ino, ok := f.names[path]
	if !ok {
		return nil, pathErr(OpReuse, path, syscall.ENOENT)
	}
	if int64(len(ino.mem)) != size {
		return nil, fmt.Errorf("%w: %s is %d bytes, not %d", vfs.ErrNoReuse, path, len(ino.mem), size)
	}
	ino.redirty(0, size)
	racyZero(ino.mem)
	ino.zeroed = map[int]bool{}
	for p := 0; int64(p)*PageSize < size; p++ {
		ino.zeroed[p] = true
	}
	return f.handle(ino, path), nil
}

// Rename renames oldpath to newpath, replacing newpath.
func (f *FS) Rename(oldpath, newpath string) (err error) {
	defer func() { f.end(OpRename, oldpath, err) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpRename, oldpath); err != nil {
		return err
	}
	oldpath, newpath = filepath.Clean(oldpath), filepath.Clean(newpath)
	ino, ok := f.names[oldpath]
	if !ok {
		return pathErr(OpRename, oldpath, syscall.ENOENT)
	}
	if !f.dirs[filepath.Dir(newpath)] || filepath.Dir(newpath) != filepath.Dir(oldpath) {
		return pathErr(OpRename, newpath, syscall.EXDEV)
	}
	if f.dirs[newpath] {
		return pathErr(OpRename, newpath, syscall.EISDIR)
	}
	if oldpath == newpath {
		return nil
	}
	delete(f.names, oldpath)
	f.link(newpath, ino)
	f.pending = append(f.pending, metaOp{kind: OpRename, path: oldpath, newpath: newpath, ino: ino})
	return nil
}

// Remove deletes path. Open files and mappings stay usable.
func (f *FS) Remove(path string) (err error) {
	defer func() { f.end(OpRemove, path, err) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpRemove, path); err != nil {
		return err
	}
	path = filepath.Clean(path)
	ino, ok := f.names[path]
	if !ok {
		return pathErr(OpRemove, path, syscall.ENOENT)
	}
	f.unlink(path)
	f.pending = append(f.pending, metaOp{kind: OpRemove, path: path, ino: ino})
	return nil
}

// SyncDir makes every pending create, rename and remove in dir durable.
func (f *FS) SyncDir(dir string) (err error) {
	defer func() { f.end(OpSyncDir, dir, err) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpSyncDir, dir); err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	if !f.dirs[dir] {
		return pathErr(OpSyncDir, dir, syscall.ENOENT)
	}
	for p := range f.durable {
		if filepath.Dir(p) == dir {
			delete(f.durable, p)
		}
	}
	for p, ino := range f.names {
		if filepath.Dir(p) == dir {
			f.durable[p] = ino
		}
	}
	f.pending = slices.DeleteFunc(f.pending, func(m metaOp) bool { return filepath.Dir(m.path) == dir })
	return nil
}

// Lock takes an in-memory exclusive lock on path, creating the file when
// missing. Locks do not survive a crash.
func (f *FS) Lock(path string) (_ io.Closer, err error) {
	defer func() { f.end(OpLock, path, err) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpLock, path); err != nil {
		return nil, err
	}
	path = filepath.Clean(path)
	if !f.dirs[filepath.Dir(path)] {
		return nil, pathErr(OpLock, path, syscall.ENOENT)
	}
	if f.locks[path] {
		return nil, fmt.Errorf("%w: %s", vfs.ErrLocked, path)
	}
	if _, ok := f.names[path]; !ok {
		ino := &inode{sizeSynced: true}
		if err := f.allocate(ino, 0, "open", path); err != nil {
			return nil, err
		}
		f.link(path, ino)
		f.pending = append(f.pending, metaOp{kind: OpCreate, path: path, ino: ino})
	}
	f.locks[path] = true
	return &lock{fs: f, path: path}, nil
}

type lock struct {
	fs   *FS
	path string
	once sync.Once
}

func (l *lock) Close() error {
	l.once.Do(func() {
		l.fs.mu.Lock()
		delete(l.fs.locks, l.path)
		l.fs.mu.Unlock()
	})
	return nil
}

// Files returns the sorted paths of the files the process sees.
func (f *FS) Files() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	paths := make([]string, 0, len(f.names))
	for p := range f.names {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

// ReadFile returns a copy of the process view of path's bytes.
func (f *FS) ReadFile(path string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ino, ok := f.names[filepath.Clean(path)]
	if !ok {
		return nil, false
	}
	return racyClone(ino.mem), true
}

// WriteFile creates or replaces path with data, durable at once (name,
// size and bytes). For building test inputs; it does not count as an
// operation.
func (f *FS) WriteFile(path string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path = filepath.Clean(path)
	for d := filepath.Dir(path); !f.dirs[d]; d = filepath.Dir(d) {
		f.dirs[d] = true
	}
	ino := &inode{mem: slices.Clone(data), durable: slices.Clone(data), sizeSynced: true}
	f.charge(ino, int64(len(data)))
	f.link(path, ino)
	f.durable[path] = ino
}

// RemoveFile deletes path, durable at once (name and space). For building
// test inputs, like WriteFile. It reports whether path existed.
func (f *FS) RemoveFile(path string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	path = filepath.Clean(path)
	if _, ok := f.names[path]; !ok {
		return false
	}
	f.unlink(path)
	delete(f.durable, path)
	f.pending = slices.DeleteFunc(f.pending, func(m metaOp) bool { return m.path == path || m.newpath == path })
	return true
}

// Mutate applies fn to the process view of path's bytes and makes the
// result durable (injecting on-disk corruption into an image whose files
// are all synced, such as a fresh crash image). It reports whether path
// exists.
func (f *FS) Mutate(path string, fn func(b []byte)) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	ino, ok := f.names[filepath.Clean(path)]
	if !ok {
		return false
	}
	fn(ino.mem)
	copy(ino.durable, ino.mem)
	return true
}
