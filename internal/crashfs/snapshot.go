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
}

type snapInode struct {
	mem, durable []byte
	sizeSynced   bool
	name         string // a name for reports
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
		s.inodes = append(s.inodes, &snapInode{mem: racyClone(ino.mem), durable: racyClone(ino.durable), sizeSynced: ino.sizeSynced, name: name})
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
			if !racyEqual(ino.mem[lo:hi], ino.durable[lo:hi]) {
				s.pages = append(s.pages, PageRef{Path: ino.name, Page: p})
				s.pageIno = append(s.pageIno, i)
			}
		}
	}
	return s
}

// DirtyPages lists the pages a crash may lose, in Plan.Pages order.
func (s *Snapshot) DirtyPages() []PageRef { return s.pages }

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
