package crashfs

import (
	"maps"
	"math/rand/v2"
	"slices"
)

// Page-cache state beyond "dirty or not": pages whose write-back failed
// (Fault.Writeback) are clean but not on disk; Writeback models the
// kernel writing dirty pages back early, on its own schedule.

// pageBounds returns the byte range of page p of ino.
func (ino *inode) pageBounds(p int) (int64, int64) {
	lo := int64(p) * PageSize
	return lo, min(lo+PageSize, int64(len(ino.mem)))
}

// cleanLost reports whether page p failed its write-back and was not
// written since: the cache holds it clean, the disk does not have it.
func (ino *inode) cleanLost(p int) bool {
	l, ok := ino.lost[p]
	if !ok {
		return false
	}
	lo, hi := ino.pageBounds(p)
	return racyEqual(ino.mem[lo:hi], l)
}

// dirty reports whether page p holds bytes a sync would write.
func (ino *inode) dirty(p int) bool {
	lo, hi := ino.pageBounds(p)
	return !racyEqual(ino.mem[lo:hi], ino.durable[lo:hi]) && !ino.cleanLost(p)
}

// loseRange is a failed write-back of the pages of [lo, hi): the dirty
// ones become clean without reaching the disk.
func (ino *inode) loseRange(lo, hi int64) {
	for p := int(lo / PageSize); int64(p)*PageSize < hi; p++ {
		if !ino.dirty(p) {
			continue
		}
		if ino.lost == nil {
			ino.lost = map[int][]byte{}
		}
		plo, phi := ino.pageBounds(p)
		ino.lost[p] = racyClone(ino.mem[plo:phi])
	}
}

// syncRange copies [lo, hi) of the process view to the durable bytes,
// skipping clean lost pages. racy: copy without the race detector (a
// whole-file sync while the mapping may be written elsewhere).
func (ino *inode) syncRange(lo, hi int64, racy bool) {
	cp := func(a, b int64) {
		if racy {
			racyCopy(ino.durable[a:b], ino.mem[a:b])
		} else {
			copy(ino.durable[a:b], ino.mem[a:b])
		}
	}
	if len(ino.lost) == 0 && len(ino.zeroed) == 0 {
		cp(lo, hi)
		return
	}
	for p := int(lo / PageSize); int64(p)*PageSize < hi; p++ {
		if ino.cleanLost(p) {
			continue
		}
		if ino.zeroed[p] {
			plo, phi := ino.pageBounds(p)
			if racyAllZero(ino.mem[plo:phi]) {
				continue // the zeroing is not durable, and nothing else is here
			}
			delete(ino.zeroed, p)
		}
		delete(ino.lost, p)
		plo, phi := ino.pageBounds(p)
		cp(max(lo, plo), min(hi, phi))
	}
}

// redirty marks the pages of [lo, hi) written (a WriteAt): a lost page
// written again is dirty even when the bytes did not change.
func (ino *inode) redirty(lo, hi int64) {
	for p := range ino.lost {
		if plo, phi := ino.pageBounds(p); plo < hi && phi > lo {
			delete(ino.lost, p)
		}
	}
}

// dropClean drops the clean lost pages of [lo, hi) from the cache: the
// process view reads the disk's bytes again.
func (ino *inode) dropClean(lo, hi int64) {
	for p := int(lo / PageSize); int64(p)*PageSize < hi; p++ {
		if ino.cleanLost(p) {
			plo, phi := ino.pageBounds(p)
			racyCopy(ino.mem[plo:phi], ino.durable[plo:phi])
			delete(ino.lost, p)
		}
	}
}

func cloneLost(m map[int][]byte) map[int][]byte {
	if len(m) == 0 {
		return nil
	}
	out := maps.Clone(m)
	for p, b := range out {
		out[p] = racyClone(b)
	}
	return out
}

// LostPages returns how many pages the page cache holds clean although
// their write-back failed (see Fault.Writeback).
func (f *FS) LostPages() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, ino := range f.inodes() {
		for p := range ino.lost {
			if ino.cleanLost(p) {
				n++
			}
		}
	}
	return n
}

// Writeback writes every dirty page back to the disk with probability
// prob, whole, as the kernel does early on its own schedule: a later crash
// keeps that version of the page unless a sync writes a newer one, so a
// crash image can hold an intermediate version of a page, older than the
// process view and newer than the last sync. It returns the number of
// pages written. rng may be nil when prob is 1. It does not count as an
// operation.
func (f *FS) Writeback(rng *rand.Rand, prob float64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, ino := range f.inodes() {
		for p := 0; int64(p)*PageSize < int64(len(ino.mem)); p++ {
			if !ino.dirty(p) || prob < 1 && rng.Float64() >= prob {
				continue
			}
			lo, hi := ino.pageBounds(p)
			racyCopy(ino.durable[lo:hi], ino.mem[lo:hi])
			delete(ino.lost, p)
			n++
		}
	}
	return n
}

// inodes returns every inode a name (visible or durable) or a pending
// change refers to, each once, in a stable order. Call with mu held.
func (f *FS) inodes() []*inode {
	seen := map[*inode]bool{}
	var out []*inode
	add := func(ino *inode) {
		if !seen[ino] {
			seen[ino] = true
			out = append(out, ino)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(f.names)) {
		add(f.names[p])
	}
	for _, p := range slices.Sorted(maps.Keys(f.durable)) {
		add(f.durable[p])
	}
	for _, m := range f.pending {
		add(m.ino)
	}
	return out
}
