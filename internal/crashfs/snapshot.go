package crashfs

import (
	"maps"
	"slices"
)

// Snapshot is the state of an FS at one instant: each file's process view
// and durable bytes, the durable names and the pending namespace changes.
// Crash images are built from it; it never changes.
type Snapshot struct {
	dirs    []string
	inodes  []*snapInode
	names   map[string]int // durable namespace: path -> inode
	pending []snapMeta
	pages   []PageRef // dirty pages, in inode then page order
	pageIno []int     // the inode of each of pages
	sizes   []int     // inodes whose size is not durable
	sizeOp  []int     // for each of sizes, its pending create (-1: none)
	// inSync is the sync in progress when the snapshot was taken
	// (SnapshotDuring), nil when none.
	inSync *inSync
}

// inSync is a sync cut short by the power loss: its pages' sectors reach
// the disk or not, each on its own.
type inSync struct {
	op     Op
	path   string
	lo, hi int64
	pages  []int // indexes into Snapshot.pages of its dirty pages
}

type snapInode struct {
	mem, durable []byte
	sizeSynced   bool
	lost         map[int][]byte // see inode.lost
	wbErr        error          // see inode.wbErr
	zeroed       map[int]bool   // see inode.zeroed
	name         string         // a name for reports
}

type snapMeta struct {
	kind          Op
	path, newpath string
	ino           int
}

// PageRef names one page whose process view differs from its durable bytes.
type PageRef struct {
	Path string // a name of the file (the first seen)
	Page int
}

// Snapshot captures the current state. It may be called from a hook.
func (f *FS) Snapshot() *Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, _ := f.snapshot()
	return s
}

// SnapshotDuring captures the state at the start of the sync a sync hook
// (SetSyncHook) was called for: a power loss in the middle of that sync,
// which never returns. Its plans (RandomPlan, RandomOrderedPlan, TearSync)
// let each 512-byte sector of the sync's dirty pages reach the disk or not
// independently. For an Event not from a sync hook it is Snapshot.
func (f *FS) SnapshotDuring(ev Event) *Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ids := f.snapshot()
	i, ok := ids[ev.ino]
	if ev.ino == nil || !ok {
		return s
	}
	in := &inSync{op: ev.Op, path: ev.Path, lo: ev.Off, hi: ev.Off + ev.Len}
	for k, ref := range s.pages {
		if s.pageIno[k] == i && int64(ref.Page+1)*PageSize > in.lo && int64(ref.Page)*PageSize < in.hi {
			in.pages = append(in.pages, k)
		}
	}
	s.inSync = in
	return s
}

// snapshot builds a Snapshot and returns it with the index of each inode
// in it. Call with mu held.
func (f *FS) snapshot() (*Snapshot, map[*inode]int) {
	s := &Snapshot{names: map[string]int{}}
	for d := range f.dirs {
		s.dirs = append(s.dirs, d)
	}
	slices.Sort(s.dirs)
	ids := map[*inode]int{}
	id := func(ino *inode, name string) int {
		if i, ok := ids[ino]; ok {
			return i
		}
		ids[ino] = len(s.inodes)
		s.inodes = append(s.inodes, &snapInode{mem: racyClone(ino.mem), durable: racyClone(ino.durable), sizeSynced: ino.sizeSynced, lost: cloneLost(ino.lost), wbErr: ino.wbErr, zeroed: maps.Clone(ino.zeroed), name: name})
		return ids[ino]
	}
	for _, p := range slices.Sorted(maps.Keys(f.durable)) {
		s.names[p] = id(f.durable[p], p)
	}
	for _, m := range f.pending {
		name := m.path
		if m.kind == OpRename {
			name = m.newpath
		}
		s.pending = append(s.pending, snapMeta{kind: m.kind, path: m.path, newpath: m.newpath, ino: id(m.ino, name)})
	}
	for i, ino := range s.inodes {
		if !ino.sizeSynced {
			s.sizes = append(s.sizes, i)
			s.sizeOp = append(s.sizeOp, slices.IndexFunc(s.pending, func(m snapMeta) bool { return m.kind == OpCreate && m.ino == i }))
		}
		for p := 0; p*PageSize < len(ino.mem); p++ {
			lo, hi := p*PageSize, min((p+1)*PageSize, len(ino.mem))
			if racyEqual(ino.mem[lo:hi], ino.durable[lo:hi]) {
				continue
			}
			if l, ok := ino.lost[p]; ok && racyEqual(ino.mem[lo:hi], l) {
				continue // clean in the cache, not on disk: lost for sure
			}
			s.pages = append(s.pages, PageRef{Path: ino.name, Page: p})
			s.pageIno = append(s.pageIno, i)
		}
	}
	return s, ids
}

// DirtyPages lists the pages a crash may lose, in Plan.Pages order.
// Pages whose write-back failed are not among them: a crash loses them.
func (s *Snapshot) DirtyPages() []PageRef { return s.pages }

// InSync describes the sync a SnapshotDuring snapshot interrupts: its
// operation, file and byte range; ok is false for other snapshots.
func (s *Snapshot) InSync() (op Op, path string, off, n int64, ok bool) {
	if s.inSync == nil {
		return 0, "", 0, 0, false
	}
	return s.inSync.op, s.inSync.path, s.inSync.lo, s.inSync.hi - s.inSync.lo, true
}

// PendingMeta is the number of namespace changes a crash may revert.
func (s *Snapshot) PendingMeta() int { return len(s.pending) }

// UnsyncedSizes is the number of files whose size a crash may revert.
func (s *Snapshot) UnsyncedSizes() int { return len(s.sizes) }

// Items is the number of independent choices in a Plan.
func (s *Snapshot) Items() int { return len(s.pages) + len(s.pending) + len(s.sizes) }

// PendingOps describes the pending namespace changes, in Plan.Meta order.
func (s *Snapshot) PendingOps() []string {
	out := make([]string, len(s.pending))
	for i, m := range s.pending {
		out[i] = m.kind.String() + " " + m.path
		if m.kind == OpRename {
			out[i] += " -> " + m.newpath
		}
	}
	return out
}
