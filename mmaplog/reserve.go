package mmaplog

import (
	"errors"
	"fmt"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
)

// reserve creates, before anything of the batch is written, every segment
// file the batch will rotate into, so that running out of space fails the
// call with nothing written (and the Log usable) instead of leaving part
// of the batch in the mapping. It replays the writer's rotation rule
// (roomForEntry) on the batch's sizes. Call with wmu held.
func (l *Log) reserve(entries []Entry, cur *raftstate.State) error {
	s := l.open
	end, capacity, base, count, slots := s.end, int64(len(s.data)), s.base, s.count, s.idx.Slots()
	snap := format.SegmentHeaderSize + format.RecordSize(format.StateSize(cur))
	for i := range entries {
		e := &entries[i]
		size := format.RecordSize(format.EntryHeadSize + len(e.Payload))
		if !entryFits(end, capacity, base, count, slots, e.ID.Index, size) {
			segSize := max(l.opts.SegmentSize, segmentSizeFor(cur, size))
			b, err := l.takeNew(segSize)
			if err != nil {
				l.releaseReserved()
				return fmt.Errorf("mmaplog: reserve segment %d for entries from %d: %w", l.open.id+1+uint64(len(l.reserved)), e.ID.Index, err)
			}
			l.reserved = append(l.reserved, b)
			end, capacity, base, count, slots = snap, int64(len(b.data)), 0, 0, index.SlotsFor(int64(len(b.data)))
		}
		if base == 0 {
			base = e.ID.Index
		}
		count++
		end += size
	}
	return nil
}

// takeNew returns a blank segment of at least size bytes: the prepared
// one for the first rotation of a batch, a new file for the others.
func (l *Log) takeNew(size int64) (*blank, error) {
	if len(l.reserved) == 0 {
		return l.prep.take(size, l.nextFill())
	}
	b, err := createBlank(l.fs, l.dir, l.prep.tempNumber(), size)
	if err == nil {
		b.prefault(l.nextFill(), 0)
	}
	return b, err
}

// takeBlank is the segment a rotation goes into: the next one reserved
// for the batch, or (outside a batch) the prepared one.
func (l *Log) takeBlank(size int64) (*blank, error) {
	if len(l.reserved) == 0 {
		return l.prep.take(size, l.nextFill())
	}
	b := l.reserved[0]
	l.reserved = l.reserved[1:]
	if int64(len(b.data)) < size {
		b.discard(l.fs)
		return nil, errors.New("mmaplog: reserved segment too small (a bug)")
	}
	return b, nil
}

// releaseReserved deletes segments reserved for a batch and not used (the
// batch failed).
func (l *Log) releaseReserved() {
	for _, b := range l.reserved {
		b.discard(l.fs)
	}
	clear(l.reserved)
	l.reserved = l.reserved[:0]
}

// undoMark is where a batch started writing: what rollback restores.
type undoMark struct {
	seg   *segment
	end   int64
	nsegs int
}

func (l *Log) mark() undoMark { return undoMark{seg: l.open, end: l.open.end, nsegs: len(l.segs)} }

// rollback makes a batch that failed after writing part of itself
// invisible to recovery, and fails the Log. A rotation can still fail
// after its segment was reserved (a rename): the records written by the
// call are zeroed in the mapping, and so are the headers of the segments
// it installed (an unreadable header that nothing vouches for is a crash
// leftover), and both are synced. The writer's in-memory state is not
// rewound; the Log fails closed and recovers on reopen.
func (l *Log) rollback(m undoMark, cause error) error {
	if m.seg == l.open && l.open.end == m.end && len(l.segs) == m.nsegs {
		return cause // nothing written
	}
	clear(m.seg.data[m.end:m.seg.end])
	err := m.seg.file.Msync(m.end, m.seg.end-m.end)
	for _, s := range l.segs[m.nsegs:] {
		clear(s.data[:s.end])
		err = errors.Join(err, s.file.Msync(0, s.end))
	}
	if err != nil {
		cause = errors.Join(cause, fmt.Errorf("mmaplog: roll back a partial batch: %w", err))
	}
	return l.fail(cause)
}
