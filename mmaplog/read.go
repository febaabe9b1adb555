package mmaplog

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime/debug"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/vfs"
	"github.com/raftlog/raftlog/recovery"
)

// Get returns the entry at index i. Its payload is a copy owned by the
// caller. An index outside [Purged.Index+1, Last.Index] is ErrNotFound; a
// record that fails its checksum is a *CorruptError.
func (l *Log) Get(i uint64) (e Entry, err error) {
	l.mu.RLock()
	defer l.endRead(debug.SetPanicOnFault(true), &err)
	if l.closed {
		return Entry{}, ErrClosed
	}
	id, payload, err := l.entryAt(i)
	if err != nil {
		return Entry{}, err
	}
	// make and copy, which the compiler turns into one allocation without
	// zeroing; never nil, even for an empty payload.
	e.ID, e.Payload = id, make([]byte, len(payload))
	copy(e.Payload, payload)
	return e, nil
}

// endRead ends a read that took mu's read lock and then set panic-on-fault
// (old is what debug.SetPanicOnFault returned): it restores the setting,
// releases the lock and turns a fault on a mapping into err. It is the
// one deferred call of a read (vfs.CatchFault, with the unlock).
func (l *Log) endRead(old bool, err *error) {
	r := recover()
	debug.SetPanicOnFault(old)
	l.mu.RUnlock()
	if r != nil {
		*err = vfs.FaultError(r, ErrFailed)
	}
}

// entryAt finds entry i and checks its record. The payload aliases the
// mapping: valid only while the lock is held. Call with mu read-locked or
// wmu held, under a fault guard.
func (l *Log) entryAt(i uint64) (LogID, []byte, error) {
	if first := l.firstIndex(); i < first || i > l.state.Last.Index {
		return LogID{}, nil, fmt.Errorf("%w: index %d outside [%d, %d]", ErrNotFound, i, first, l.state.Last.Index)
	}
	k := l.runOf(i)
	if k < 0 {
		return LogID{}, nil, format.Corruptf(l.dir, 0, i, "no segment holds entry %d", i)
	}
	s := l.segs[l.runs[k].Seg]
	slot := i - s.base
	if slot >= uint64(s.idx.Slots()) {
		return LogID{}, nil, format.Corruptf(s.idx.Path(), 0, i, "slot %d beyond the index", slot)
	}
	off, err := s.slot(int(slot))
	if err != nil {
		return LogID{}, nil, err
	}
	if id, payload, ok := format.ReadEntry(s.data, off, i); ok {
		return id, payload, nil
	}
	id, payload, ce := format.EntryAt(s.path, s.data, off, i)
	if ce != nil {
		return LogID{}, nil, ce // not a nil *CorruptError in an error
	}
	return id, payload, nil
}

// runOf returns the position in l.runs of the run that holds index i, -1
// when none does: the last run whose First is at most i. The last run
// (the open segment's, where a Raft node mostly reads) is tried first.
// Call with mu read-locked or wmu held.
func (l *Log) runOf(i uint64) int {
	runs := l.runs
	k := len(runs) - 1
	if k < 0 || runs[k].First <= i {
		return k
	}
	// Binary search of runs[:k]: runs[hi].First > i throughout.
	lo, hi := 0, k
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if runs[m].First <= i {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// Entries yields the entries that exist in [from, to), in order. A read
// error ends the sequence with that error. Entries removed by a concurrent
// Truncate or Purge are skipped.
func (l *Log) Entries(from, to uint64) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		for i := from; i < to; i++ {
			e, err := l.Get(i)
			if errors.Is(err, ErrNotFound) {
				first, last := l.bounds()
				if i < first {
					i = first - 1 // resume at the first live index
					continue
				}
				if i > last {
					return
				}
				continue
			}
			if err != nil {
				yield(Entry{}, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// bounds returns the first and last existing index.
func (l *Log) bounds() (first, last uint64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.firstIndex(), l.state.Last.Index
}

// firstIndex is the lowest index that can exist: Purged.Index+1, or, when
// the log was empty and never purged, the index its first append started
// at (raft-log allows any). Call with mu read-locked or wmu held.
func (l *Log) firstIndex() uint64 { return l.first }

// State returns the durable Raft state as of every call that returned nil,
// flushed or not. UserData is a copy.
func (l *Log) State() State {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.state.Clone()
}

// Stats returns a point-in-time view of the Log's files and activity.
func (l *Log) Stats() Stats {
	l.mu.RLock()
	var st Stats
	st.Segments, st.PendingRemovals = l.dropped, l.dropped
	for _, s := range l.segs {
		st.Segments++
		st.BytesUsed += s.pubEnd
		st.BytesAllocated += int64(len(s.data))
		if s.idx != nil {
			st.IndexBytes += int64(s.idx.Slots())*4 + 64
		}
	}
	if first := l.firstIndex(); l.state.Last.Index >= first {
		st.FirstIndex, st.LastIndex = first, l.state.Last.Index
		st.Entries = st.LastIndex - st.FirstIndex + 1
	}
	l.mu.RUnlock()
	st.Appends = l.appends.Load()
	st.Verify = l.ver.stats()
	f := &l.fl
	f.mu.Lock()
	st.Flushes, st.Syncs = f.flushes, f.syncs
	st.SyncTotal, st.SyncMax, st.LastSync = f.syncTotal, f.syncMax, f.lastSync
	f.mu.Unlock()
	if p := l.failure.Load(); p != nil {
		st.Failed = *p
	}
	st.SpareSegments = l.prep.spareCount()
	st.WrittenBehind = l.writtenBehind.Load()
	l.met.fill(&st)
	return st
}

// Dump writes every record of every segment, one line each, as written
// (not yet flushed records included), like raft-log's dump, and after
// each sealed segment the digest of its live entries (SegmentDigests):
//
//	segment 1 00000000000000000001.seg start=0 prevEnd=0 size=65536
//	  R-00000 [64, 168) State(vote: 0:0, last: none, committed: none, purged: none, user_data: none)
//	  R-00001 [168, 200) Entry(1-1, 8 bytes)
//	  digest 1..1 (1 entry) <its CRC-64, 16 hex digits>
//
// It holds the readers' lock while it formats one segment; writers wait
// for it.
func (l *Log) Dump(w io.Writer) error {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	segs := append([]*segment(nil), l.segs...)
	l.mu.RUnlock()
	sealed, err := l.sealedSegments()
	if err != nil {
		return err
	}
	for _, s := range segs {
		if err := l.dumpSegment(w, s); err != nil {
			return err
		}
		for _, t := range sealed {
			if t.seg != s {
				continue
			}
			d, err := l.segmentDigest(t)
			if errors.Is(err, ErrNotFound) {
				break // purged meanwhile
			}
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "  digest %v\n", d); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Log) dumpSegment(w io.Writer, s *segment) (err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if s.gone {
		return nil
	}
	defer vfs.CatchFault(debug.SetPanicOnFault(true), &err, ErrFailed)
	return recovery.DumpSegment(w, s.path, s.data[:s.pubEnd])
}
