package mmaplog

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logdir"
	"github.com/raftlog/raftlog/internal/vfs"
)

// slotCheck proves a sealed index's slots on their first use instead of
// on Open, so that opening a large log reads no index beyond its headers:
// the first lookup in the segment (or, in the open segment, the first
// write, see Log.readyOpen) checks the slots against the checksum in the
// seal (index.File.SlotsProven) and, when a sector of the seal never
// reached the disk (or holds an older version), rebuilds them by replaying
// the segment's records. The zero value means "proven" (an index written
// by this process, or rebuilt on Open).
type slotCheck struct {
	unchecked bool // set on Open for a trusted sealed index
	// inPlace: rebuilt slots go into the index file rather than the heap
	// (the open segment's: the writer extends them, and the next seal
	// covers them all).
	inPlace bool
	state   atomic.Int32 // slotsFile or slotsHeap once checked
	mu      sync.Mutex   // serializes the check
	heap    []uint32     // rebuilt slots (record offset / 8), for slotsHeap
}

const (
	slotsUnchecked int32 = iota
	slotsFile            // the index file's slots are proven (or rebuilt in it)
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

// checkSlots proves s's index slots or rebuilds them, once. The seal it
// checks them against is the one in the index file: the open segment's
// index is marked open only once its slots are proven (Log.readyOpen).
func (s *segment) checkSlots() (int32, error) {
	c := &s.slots
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.state.Load(); st != slotsUnchecked {
		return st, nil
	}
	h, herr := s.idx.Header()
	if herr == nil && s.idx.SlotsProven(h) {
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
	st := slotsHeap
	if c.inPlace && len(heap) <= s.idx.Slots() {
		st = slotsFile
		setSlots(s.idx, heap)
	} else {
		c.heap = heap
	}
	s.resealSlots(h, herr == nil, heap)
	c.state.Store(st)
	return st, nil
}

// setSlots writes slots (record offset / 8 each, from slot 0) into x.
func setSlots(x *index.File, slots []uint32) {
	for k, v := range slots {
		x.Set(k, int64(v)*format.Align)
	}
}

// resealSlots writes the rebuilt slots back into s's index file and seals
// it again (a fresh slot checksum), so that the next Open and Verify find
// it whole. It is best effort: the rebuilt slots (in the heap, or already
// in the file for an inPlace check) serve lookups whatever happens here.
// Only this segment's lookups, which wait on the check, read these slots.
func (s *segment) resealSlots(h index.Header, ok bool, slots []uint32) {
	if !ok || !h.Complete || len(slots) > s.idx.Slots() {
		return
	}
	setSlots(s.idx, slots)
	s.idx.SetHeader(h)
	if s.idx.Sync(len(slots)) != nil {
		return // the old seal stays valid for what it vouches
	}
	if nh, err := s.idx.Header(); err == nil && s.sealed.Load() != nil {
		s.sealed.Store(&nh) // the verifier compares the disk with this one
	}
}

// readyOpen readies the open segment for writing after Open trusted its
// index on the seal of a clean close: first its slots are proven (and
// rebuilt in the index file when they fail), since the writer extends
// them and the next seal covers them all; then the index is marked open
// (not complete) and synced, before anything new is written, so that a
// crash from then on rescans the segment. Until then the seal on disk
// still vouches for the segment (and Close leaves it as it is). Open
// starts this in the background; the first write (Log.writable) waits for
// it or does it. Call with wmu held, while l.unready.
//
// Slots that can be neither proven nor rebuilt (the records are damaged)
// fail every write as they fail every lookup in the segment, with a
// *CorruptError, and leave the files as they are (the log is damaged, not
// failed: Repair cuts it). A failed sync fails the Log.
func (l *Log) readyOpen() error {
	s := l.open
	var synced error
	err := vfs.GuardFault(ErrFailed, func() error {
		if _, err := s.checkSlots(); err != nil {
			return err
		}
		h, err := s.idx.Header()
		if err != nil {
			return fmt.Errorf("mmaplog: %s: %w", s.idx.Path(), err)
		}
		if h.Complete {
			h.Complete = false
			s.idx.SetHeader(h)
			synced = s.idx.SyncHeader()
		}
		return nil
	})
	if synced != nil {
		return l.fail(fmt.Errorf("mmaplog: %w", synced))
	}
	if err != nil {
		return err
	}
	l.unready = false
	return nil
}
