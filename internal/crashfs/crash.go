package crashfs

import (
	"maps"
	"math/rand/v2"
)

// PageMode is what a crash does to one unsynced page.
type PageMode uint8

// Page outcomes.
const (
	Keep   PageMode = iota // the process view reached the disk
	Drop                   // the durable version stays
	Torn                   // the sectors in Sectors reached the disk, the others did not
	Zero                   // the bytes written since the last sync read as zeros
	Garble                 // some of the bytes written since the last sync are garbage
)

var pageModeNames = [...]string{"keep", "drop", "torn", "zero", "garble"}

func (m PageMode) String() string {
	if int(m) < len(pageModeNames) {
		return pageModeNames[m]
	}
	return "mode?"
}

// PageChoice is the outcome of one dirty page.
type PageChoice struct {
	Mode    PageMode
	Sectors uint8  // Torn: bit i set = sector i has the new bytes
	Seed    uint64 // Garble: seeds the garbage
}

// Plan is one crash outcome of a Snapshot: a choice per dirty page, per
// pending namespace change (true = it reached the disk) and per unsynced
// file size (true = kept; false = the file is empty).
type Plan struct {
	Pages []PageChoice
	Meta  []bool
	Sizes []bool
}

// KeepAll is the plan where everything reached the disk: the image is a
// copy of what the process saw.
func (s *Snapshot) KeepAll() Plan {
	p := Plan{Pages: make([]PageChoice, len(s.pages)), Meta: make([]bool, len(s.pending)), Sizes: make([]bool, len(s.sizes))}
	for i := range p.Meta {
		p.Meta[i] = true
	}
	for i := range p.Sizes {
		p.Sizes[i] = true
	}
	return p
}

// DropAll is the plan where nothing unsynced reached the disk.
func (s *Snapshot) DropAll() Plan {
	p := Plan{Pages: make([]PageChoice, len(s.pages)), Meta: make([]bool, len(s.pending)), Sizes: make([]bool, len(s.sizes))}
	for i := range p.Pages {
		p.Pages[i].Mode = Drop
	}
	return p
}

// RandomPlan draws a plan: each dirty page kept (1/3), dropped (1/3), torn
// (1/6), zeroed (1/12) or garbled (1/12); each pending namespace change and
// each unsynced size kept with probability 1/2. In a snapshot taken during
// a sync (SnapshotDuring), that sync's dirty pages are torn instead, each
// sector kept with probability 1/2.
func (s *Snapshot) RandomPlan(rng *rand.Rand) Plan {
	p := Plan{Pages: make([]PageChoice, len(s.pages)), Meta: make([]bool, len(s.pending)), Sizes: make([]bool, len(s.sizes))}
	for i := range p.Pages {
		c := &p.Pages[i]
		switch r := rng.IntN(12); {
		case r < 4:
			c.Mode = Keep
		case r < 8:
			c.Mode = Drop
		case r < 10:
			c.Mode, c.Sectors = Torn, uint8(rng.Uint32())
		case r < 11:
			c.Mode = Zero
		default:
			c.Mode, c.Seed = Garble, rng.Uint64()
		}
	}
	for i := range p.Meta {
		p.Meta[i] = rng.IntN(2) == 0
	}
	for i := range p.Sizes {
		p.Sizes[i] = rng.IntN(2) == 0
	}
	if s.inSync != nil {
		// The interrupted sync: each sector of its pages on its own.
		for _, k := range s.inSync.pages {
			p.Pages[k] = PageChoice{Mode: Torn, Sectors: uint8(rng.Uint32())}
		}
	}
	return p
}

// SyncSectors is the number of 512-byte sectors of the interrupted sync's
// pages (SnapshotDuring) that differ from the disk, in TearSync order; 0
// for other snapshots.
func (s *Snapshot) SyncSectors() int {
	n := 0
	s.eachSyncSector(func(int, int) { n++ })
	return n
}

// TearSync returns p with the interrupted sync's pages (SnapshotDuring)
// torn: its i-th differing sector (see SyncSectors) reached the disk when
// keep(i). Pages outside the sync keep p's choices.
func (s *Snapshot) TearSync(p Plan, keep func(i int) bool) Plan {
	if s.inSync == nil {
		return p
	}
	p.Pages = append([]PageChoice(nil), p.Pages...)
	for len(p.Pages) < len(s.pages) {
		p.Pages = append(p.Pages, PageChoice{})
	}
	for _, k := range s.inSync.pages {
		p.Pages[k] = PageChoice{Mode: Torn}
	}
	i := 0
	s.eachSyncSector(func(k, sec int) {
		if keep(i) {
			p.Pages[k].Sectors |= 1 << sec
		}
		i++
	})
	return p
}

// eachSyncSector calls fn(page, sector) for each sector of the interrupted
// sync's pages whose process view differs from its durable bytes.
func (s *Snapshot) eachSyncSector(fn func(k, sec int)) {
	if s.inSync == nil {
		return
	}
	for _, k := range s.inSync.pages {
		ino := s.inodes[s.pageIno[k]]
		base := s.pages[k].Page * PageSize
		for sec := 0; sec < PageSize/SectorSize && base+sec*SectorSize < len(ino.mem); sec++ {
			lo, hi := base+sec*SectorSize, min(base+(sec+1)*SectorSize, len(ino.mem))
			if !racyEqual(ino.mem[lo:hi], ino.durable[lo:hi]) {
				fn(k, sec)
			}
		}
	}
}

// RandomOrderedPlan is RandomPlan for a journaling file system (ext4,
// XFS): metadata changes reach the disk in order, so a random prefix of
// the pending ones is kept, and a new file's size is kept with its create.
// Data pages are still independent of each other and of the metadata.
func (s *Snapshot) RandomOrderedPlan(rng *rand.Rand) Plan {
	p := s.RandomPlan(rng)
	k := rng.IntN(len(s.pending) + 1)
	for i := range p.Meta {
		p.Meta[i] = i < k
	}
	for i, op := range s.sizeOp {
		p.Sizes[i] = op < k // -1 (created durably): kept
	}
	return p
}

// Crash returns a random crash image of s (see RandomPlan).
func (s *Snapshot) Crash(rng *rand.Rand) *FS { return s.Image(s.RandomPlan(rng)) }

// Crash returns a random crash image of the FS's current state.
func (f *FS) Crash(rng *rand.Rand) *FS { return f.Snapshot().Crash(rng) }

// Clone returns an image where every write reached the disk.
func (f *FS) Clone() *FS {
	s := f.Snapshot()
	return s.Image(s.KeepAll())
}

// Image builds the file system a machine would find after power loss with
// outcome p: every file's bytes and every name are durable in it. Missing
// choices in p count as Keep/true.
func (s *Snapshot) Image(p Plan) *FS {
	img := make([][]byte, len(s.inodes))
	for i, ino := range s.inodes {
		img[i] = racyClone(ino.durable)
	}
	for k, ref := range s.pages {
		var c PageChoice
		if k < len(p.Pages) {
			c = p.Pages[k]
		}
		i := s.pageIno[k]
		ino := s.inodes[i]
		lo, hi := ref.Page*PageSize, min((ref.Page+1)*PageSize, len(ino.mem))
		applyPage(img[i][lo:hi], ino.mem[lo:hi], ino.durable[lo:hi], c)
	}
	for k, i := range s.sizes {
		if k < len(p.Sizes) && !p.Sizes[k] {
			img[i] = nil
		}
	}
	ns := make(map[string]int, len(s.names))
	for name, i := range s.names {
		ns[name] = i
	}
	for k, m := range s.pending {
		if k < len(p.Meta) && !p.Meta[k] {
			continue
		}
		switch m.kind {
		case OpCreate:
			ns[m.path] = m.ino
		case OpRename:
			if i, ok := ns[m.path]; ok && i == m.ino {
				delete(ns, m.path)
				ns[m.newpath] = m.ino
			}
		case OpRemove:
			if i, ok := ns[m.path]; ok && i == m.ino {
				delete(ns, m.path)
			}
		}
	}
	f := New()
	for _, d := range s.dirs {
		f.dirs[d] = true
	}
	inodes := map[int]*inode{}
	for name, i := range ns {
		ino, ok := inodes[i]
		if !ok {
			ino = &inode{mem: img[i], durable: racyClone(img[i]), sizeSynced: true}
			if img[i] == nil {
				ino.mem, ino.durable = []byte{}, []byte{}
			}
			inodes[i] = ino
		}
		f.names[name] = ino
		f.durable[name] = ino
	}
	f.recount()
	return f
}

// applyPage writes into dst (the page's durable bytes, already copied) the
// outcome c, given the page's process view mem and durable bytes old.
func applyPage(dst, mem, old []byte, c PageChoice) {
	switch c.Mode {
	case Keep:
		copy(dst, mem)
	case Drop:
	case Torn:
		for s := 0; s*SectorSize < len(dst); s++ {
			if c.Sectors&(1<<s) != 0 {
				lo, hi := s*SectorSize, min((s+1)*SectorSize, len(dst))
				copy(dst[lo:hi], mem[lo:hi])
			}
		}
	case Zero:
		for i := range dst {
			if mem[i] != old[i] {
				dst[i] = 0
			}
		}
	case Garble:
		rng := rand.New(rand.NewPCG(c.Seed, 0x9a7b1e))
		for s := 0; s*SectorSize < len(dst); s++ {
			lo, hi := s*SectorSize, min((s+1)*SectorSize, len(dst))
			if racyEqual(mem[lo:hi], old[lo:hi]) {
				continue
			}
			switch rng.IntN(3) {
			case 0: // garbage over every byte written since the sync
				for i := lo; i < hi; i++ {
					if mem[i] != old[i] {
						dst[i] = byte(rng.Uint32())
					}
				}
			case 1:
				copy(dst[lo:hi], mem[lo:hi])
			}
		}
	}
}

// Restart returns the file system a restarted process finds after the
// process was killed (kill -9) at the snapshot: no power loss, so every
// write is still there (the page cache survives), and what was not yet
// durable is still not durable — a later power loss can lose it. Pages
// whose write-back failed stay cached, clean and not on disk, and a failed
// asynchronous write-back that no sync reported yet is reported to the
// next sync of the file, as Linux reports an error nobody saw to the
// first fsync through a newly opened file.
func (s *Snapshot) Restart() *FS {
	f := New()
	for _, d := range s.dirs {
		f.dirs[d] = true
	}
	inodes := make([]*inode, len(s.inodes))
	for i, ino := range s.inodes {
		inodes[i] = &inode{mem: racyClone(ino.mem), durable: racyClone(ino.durable), sizeSynced: ino.sizeSynced, lost: cloneLost(ino.lost), wbErr: ino.wbErr, zeroed: maps.Clone(ino.zeroed)}
		if inodes[i].mem == nil {
			inodes[i].mem, inodes[i].durable = []byte{}, []byte{}
		}
	}
	for name, i := range s.names {
		f.durable[name] = inodes[i]
	}
	// The process view: the durable names with every pending change.
	for name, i := range s.names {
		f.names[name] = inodes[i]
	}
	for _, m := range s.pending {
		f.pending = append(f.pending, metaOp{kind: m.kind, path: m.path, newpath: m.newpath, ino: inodes[m.ino]})
		switch m.kind {
		case OpCreate:
			f.names[m.path] = inodes[m.ino]
		case OpRename:
			if f.names[m.path] == inodes[m.ino] {
				delete(f.names, m.path)
			}
			f.names[m.newpath] = inodes[m.ino]
		case OpRemove:
			if f.names[m.path] == inodes[m.ino] {
				delete(f.names, m.path)
			}
		}
	}
	f.recount()
	return f
}
