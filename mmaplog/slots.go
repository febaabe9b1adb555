package mmaplog

import (
	"sync"
	"sync/atomic"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logdir"
)

// slotCheck proves a sealed index's slots on their first use instead of
// on Open, so that opening a large log does not read every index file:
// the first lookup in the segment checks the slots against the checksum in
// the seal (index.File.SlotsProven) and, when a sector of the seal never
// reached the disk (or holds an older version), rebuilds them in memory by
// replaying the segment's records. The zero value means "proven" (an index
// written by this process, or checked on Open).
type slotCheck struct {
	unchecked bool         // set on Open for a trusted sealed index
	state     atomic.Int32 // slotsFile or slotsHeap once checked
	mu        sync.Mutex   // serializes the check
	heap      []uint32     // rebuilt slots (record offset / 8), for slotsHeap
}

const (
	slotsUnchecked int32 = iota
	slotsFile            // the index file's slots are proven
	slotsHeap            // they were not: heap holds the rebuilt ones
)

// slot returns the record offset of slot k of s, checking the slots on
// the first call. Call with Log.mu read-locked (or wmu held).
func (s *segment) slot(k int) (int64, error) {
	c := &s.slots
	if !c.unchecked {
		return s.idx.Slot(k), nil
	}
	st := c.state.Load()
	if st == slotsUnchecked {
		var err error
		if st, err = s.checkSlots(); err != nil {
			return 0, err
		}
	}
	if st == slotsFile {
		return s.idx.Slot(k), nil
	}
	if k >= len(c.heap) {
		return 0, format.Corruptf(s.path, 0, s.base+uint64(k), "entry %d is not in this segment's records", s.base+uint64(k))
	}
	return int64(c.heap[k]) * format.Align, nil
}

// checkSlots proves s's index slots or rebuilds them, once.
func (s *segment) checkSlots() (int32, error) {
	c := &s.slots
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.state.Load(); st != slotsUnchecked {
		return st, nil
	}
	h, err := s.idx.Header()
	if err == nil && s.idx.SlotsProven(h) {
		c.state.Store(slotsFile)
		return slotsFile, nil
	}
	heap, err := logdir.SegmentSlots(s.path, s.data, s.end)
	if err != nil {
		return slotsUnchecked, logdir.Prefixed("mmaplog", err)
	}
	if uint64(len(heap)) != s.count {
		return slotsUnchecked, format.Corruptf(s.path, 0, 0, "the records hold %d entries, the sealed index %d", len(heap), s.count)
	}
	c.heap = heap
	c.state.Store(slotsHeap)
	s.resealSlots(h, err == nil)
	return slotsHeap, nil
}

// resealSlots writes the rebuilt slots back into s's index file and seals
// it again (a fresh slot checksum), so that the next Open and Verify find
// it whole. It is best effort: the rebuilt slots in memory serve lookups
// whatever happens here. Only this segment's lookups, which wait on the
// check, read these slots.
func (s *segment) resealSlots(h index.Header, ok bool) {
	if !ok || !h.Complete || len(s.slots.heap) > s.idx.Slots() {
		return
	}
	for k, v := range s.slots.heap {
		s.idx.Set(k, int64(v)*format.Align)
	}
	s.idx.SetHeader(h)
	if s.idx.Sync(len(s.slots.heap)) != nil {
		return // the old seal stays valid for what it vouches
	}
	if nh, err := s.idx.Header(); err == nil && s.sealed.Load() != nil {
		s.sealed.Store(&nh) // the verifier compares the disk with this one
	}
}
