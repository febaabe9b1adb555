package mmaplog

import (
	"fmt"
	"math"
	"runtime/debug"
	"time"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// Append adds entries after Last. Each entry must be greater than Last
// and, when Last is set, have Index == Last.Index+1; the first append to an
// empty, never-purged log may start at any index >= 1. The batch is
// validated as a whole before anything is written. An empty call is a
// no-op. Payloads are copied into the log; the caller keeps ownership.
func (l *Log) Append(entries ...Entry) (err error) {
	l.wmu.Lock()
	defer l.endWrite(debug.SetPanicOnFault(true), &err)
	if err := l.checkBatch(entries); err != nil || len(entries) == 0 {
		return err
	}
	return l.writeBatch(entries)
}

// endWrite ends a write that took wmu and then set panic-on-fault (old is
// what debug.SetPanicOnFault returned): it restores the setting, releases
// wmu and turns a fault on a mapping into the Log's sticky failure and
// err, in one deferred call (as endRead does for reads).
func (l *Log) endWrite(old bool, err *error) {
	r := recover()
	debug.SetPanicOnFault(old)
	l.wmu.Unlock()
	if r != nil {
		// Records may be half written past what was published: nothing
		// may be written after them, so the Log fails closed.
		*err = l.fail(vfs.FaultError(r, ErrFailed))
	}
}

// checkBatch checks that the Log is writable and that entries may follow
// its last entry, each within MaxPayload. Call with wmu held.
func (l *Log) checkBatch(entries []Entry) error {
	if err := l.writable(); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if err := raftstate.CheckAppend(&l.state, func(i int) LogID { return entries[i].ID }, len(entries)); err != nil {
		return err
	}
	for i := range entries {
		if len(entries[i].Payload) > MaxPayload {
			return fmt.Errorf("%w: entry %d payload of %d bytes (max %d)", ErrTooLarge, entries[i].ID.Index, len(entries[i].Payload), MaxPayload)
		}
	}
	return nil
}

// writeBatch writes a checked, non-empty batch and publishes it. Call with
// wmu held, under a fault guard.
func (l *Log) writeBatch(entries []Entry) error {
	size, fits := l.fitsOpen(entries)
	if l.rotateEarly || !fits {
		return l.writeRotating(entries)
	}
	// The common case: the batch goes into the open segment. Nothing can
	// fail but a fault on the mapping or a failed write through the file
	// (either fails the Log and publishes nothing), so there is nothing to
	// reserve or roll back, and no snapshot to keep for a rotation.
	first := l.first
	if l.state.Last.Index < first {
		first = entries[0].ID.Index // an empty log starts where its first entry says
	}
	s := l.open
	newRun := s.base == 0 || s.count == 0
	if s.base == 0 {
		s.base = entries[0].ID.Index
	}
	if size >= int64(l.opts.WriteThrough) || l.afterSync(s) {
		if err := l.writeThrough(s, entries, size); err != nil {
			return err
		}
	} else {
		for i := range entries {
			l.writeEntry(s, &entries[i])
		}
	}
	l.publishAppend(entries[len(entries)-1].ID, first, newRun, len(entries))
	return nil
}

// fitsOpen returns the size of a checked batch's records and whether the
// open segment takes every one of them without a rotation: roomForEntry's
// rule (entryFits) for the whole batch, whose indexes are consecutive.
func (l *Log) fitsOpen(entries []Entry) (int64, bool) {
	s := l.open
	var size int64
	for i := range entries {
		size += format.RecordSize(format.EntryHeadSize + len(entries[i].Payload))
	}
	// The slot the last entry takes: the first one takes slot 0 of an
	// empty segment and the one after the last entry otherwise.
	last := uint64(len(entries) - 1)
	if s.base != 0 {
		if idx := entries[0].ID.Index; idx != s.base+s.count {
			return size, false
		}
		last += s.count
	}
	return size, s.end+size <= int64(len(s.data)) && last < uint64(s.idx.Slots())
}

// writeEntry writes entry e's record at the end of s (which has room for
// it and its slot) and indexes it. Call with wmu held, s.base set.
func (l *Log) writeEntry(s *segment, e *Entry) {
	size := format.RecordSize(format.EntryHeadSize + len(e.Payload))
	l.putEntry(s.data[s.end:s.end+size], e)
	s.indexEntry(e.ID.Index, size)
}

// putEntry encodes entry e's record into b, which is exactly its size,
// chained after the last record written. Call with wmu held.
func (l *Log) putEntry(b []byte, e *Entry) {
	const head = format.FrameSize + format.EntryHeadSize
	format.PutEntryHead((*[head]byte)(b)[format.FrameSize:], e.ID)
	copy(b[head:], e.Payload)
	l.prev = format.PutFrame(b, format.TypeEntry, format.EntryHeadSize+len(e.Payload), l.durable.Load(), l.prev)
}

// indexEntry gives the entry idx, whose record of size bytes was just
// written at s.end, the next slot of s.
func (s *segment) indexEntry(idx uint64, size int64) {
	s.idx.Set(int(idx-s.base), s.end)
	s.count++
	s.end += size
}

// afterSync reports whether a small write to the open segment s (a batch
// or a record) is to go through the file because it is one of the first
// few after a sync that made everything written durable. A copy into the
// mapping would make the write's pages writable and dirty in the page
// tables (a write fault, a page_mkwrite that also updates the file's
// times, per page), and the next sync's write-back would write-protect
// them again, a TLB shootdown of every CPU the process runs on. A pwrite
// leaves the pages read-only, so that sync has nothing to write-protect.
// This is Raft's pattern, a batch (and a vote or commit record) per sync:
// measured here, a 3-node hashicorp/raft cluster (one process on both
// CPUs) with 4 KiB entries and 64 applies in flight went from 2.35
// TLB-shootdown interrupts and 11.7 page faults per committed apply to
// 0.01 and 6.3, and committed 1.2-1.45x as many per second; a lone
// Append+Sync loop, whose other CPU is idle, showed no difference. After
// maxAfterSync such writes, or once a write was copied, writes are copied
// until everything is durable again, so that a pipelined writer's stream
// of small appends stays memory copies. Call with wmu held.
func (l *Log) afterSync(s *segment) bool {
	if l.opts.WriteThrough == math.MaxInt {
		return false
	}
	if s.end > 0 && l.durable.Load() >= s.globalEnd() {
		l.throughRun = 1
		return true
	}
	if l.throughRun > 0 && l.throughRun < maxAfterSync {
		l.throughRun++
		return true
	}
	l.throughRun = 0
	return false
}

// maxAfterSync is how many writes after a sync afterSync sends through
// the file: a Raft Ready's vote, entries and commit fit.
const maxAfterSync = 4

// maxScratch bounds the write-through buffer the Log keeps between calls.
const maxScratch = 4 << 20

// writeThrough writes a checked batch whose records take size bytes and
// fit the open segment s through the file (Options.WriteThrough): the
// records are encoded into a scratch buffer and written with one pwrite
// at s.end, then indexed. A failed write fails the Log: part of the batch
// may be in the page cache past what is published, and nothing may be
// written after it. Call with wmu held, s.base set.
func (l *Log) writeThrough(s *segment, entries []Entry, size int64) error {
	buf := l.scratch
	if int64(cap(buf)) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	b := buf
	for i := range entries {
		n := format.RecordSize(format.EntryHeadSize + len(entries[i].Payload))
		l.putEntry(b[:n], &entries[i])
		b = b[n:]
	}
	if err := l.writeAt(s, buf, func() string {
		return fmt.Sprintf("entries %d-%d", entries[0].ID.Index, entries[len(entries)-1].ID.Index)
	}); err != nil {
		return err
	}
	for i := range entries {
		s.indexEntry(entries[i].ID.Index, format.RecordSize(format.EntryHeadSize+len(entries[i].Payload)))
	}
	if size >= int64(l.opts.WriteThrough) {
		s.through += size // a small batch after a sync keeps the segment's fill
	}
	if size <= maxScratch {
		l.scratch = buf[:0]
	}
	return nil
}

// writeAt writes buf at the end of the open segment s through the file,
// failing the Log when the write fails (part of buf may be in the page
// cache past what is published, and nothing may be written after it);
// what names the write in the error. First it loads the first and the
// last byte buf covers through the mapping: where the file no longer
// reaches, that faults (an ErrFailed error), as a copy into the mapping
// would, while a pwrite would extend a file shrunk behind the Log's back
// and acknowledge a write after a hole.
func (l *Log) writeAt(s *segment, buf []byte, what func() string) error {
	l.probed += s.data[s.end] ^ s.data[s.end+int64(len(buf))-1]
	if n, err := s.file.WriteAt(buf, s.end); err != nil {
		return l.fail(fmt.Errorf("mmaplog: write %s to %s at %d (%d of %d bytes written): %w", what(), s.path, s.end, n, len(buf), err))
	}
	return nil
}

// publishAppend makes n appended entries, the last one last, visible to
// readers, with first the lowest index that can exist; newRun when a
// segment took its first entries (the runs change). Call with wmu held.
func (l *Log) publishAppend(last LogID, first uint64, newRun bool, n int) {
	l.lastState = false
	l.appends.Add(uint64(n))
	l.mu.Lock()
	l.state.Last = last
	l.first, l.wfirst = first, first
	l.open.pubEnd = l.open.end
	if newRun {
		l.rebuildRuns()
	}
	l.mu.Unlock()
	l.nudgePreparer()
}

// writeRotating is writeBatch for a batch that rotates: every segment it
// needs is created first, and a rotation that fails midway rolls the
// batch back. Call with wmu held, under writeBatch's fault guard.
func (l *Log) writeRotating(entries []Entry) error {
	cur := l.state // the snapshot a mid-batch rotation writes
	if cur.Last.Index < l.first {
		// An empty log starts where its first entry says.
		l.wfirst = entries[0].ID.Index
	}
	defer func() { l.wfirst = l.first }() // a failed call publishes nothing
	l.maybeRotateEarly(format.RecordSize(format.EntryHeadSize+len(entries[0].Payload)), &cur)
	// Every segment the batch needs is created before its first entry is
	// written: a full disk fails the call, having written nothing.
	if err := l.reserve(entries, &cur); err != nil {
		return err
	}
	defer l.releaseReserved()
	undo := l.mark()
	newRun := false
	for i := range entries {
		e := &entries[i]
		n := format.EntryHeadSize + len(e.Payload)
		if err := l.roomForEntry(n, e.ID.Index, &cur); err != nil {
			return l.rollback(undo, err)
		}
		s := l.open
		if s.base == 0 {
			s.base = e.ID.Index
			newRun = true
		} else if s.count == 0 {
			newRun = true
		}
		l.writeEntry(s, e)
		raftstate.ApplyAppend(&cur, e.ID)
	}
	l.publishAppend(cur.Last, l.wfirst, newRun, len(entries))
	return nil
}

// roomForEntry makes sure the open segment can take an entry record with
// an n-byte body for index idx in the next slot, rotating (into a segment
// reserved for the batch) when it cannot.
func (l *Log) roomForEntry(n int, idx uint64, cur *raftstate.State) error {
	s := l.open
	size := format.RecordSize(n)
	if entryFits(s.end, int64(len(s.data)), s.base, s.count, s.idx.Slots(), idx, size) {
		return nil
	}
	return l.rotate(size, cur)
}

// entryFits reports whether a segment ending at end, of capacity bytes,
// holding count entries from base in slots slots, takes a record of size
// bytes for index idx.
func entryFits(end, capacity int64, base, count uint64, slots int, idx uint64, size int64) bool {
	return end+size <= capacity && (base == 0 || (idx == base+count && int(idx-base) < slots))
}

// room makes sure the open segment can take a non-entry record with an
// n-byte body.
func (l *Log) room(n int, cur *raftstate.State) error {
	size := format.RecordSize(n)
	if l.open.end+size <= int64(len(l.open.data)) {
		l.maybeRotateEarly(size, cur)
		return nil
	}
	return l.rotate(size, cur)
}

// maybeRotateEarly moves to a small-page segment when the open one has
// large pages but is copied into and synced in small pieces. It is an optimization: when
// the rotation fails the write goes on in the open segment, which has room.
func (l *Log) maybeRotateEarly(size int64, cur *raftstate.State) {
	if !l.rotateEarly {
		return
	}
	// Only into a small-page segment that is ready: making one here would
	// stall the writer for what is an optimization. Until one is ready,
	// writes go on in the open segment.
	b, ok := l.prep.takeReady(max(l.opts.SegmentSize, segmentSizeFor(cur, size)), fillSmall)
	if !ok {
		return
	}
	l.rotateEarly = false
	l.reserved = append(l.reserved[:0], b)
	err := l.rotate(size, cur)
	l.releaseReserved() // unused when the rotation failed
	if err != nil {
		l.logger.Warn("mmaplog: early rotation failed; staying in the open segment", "err", err)
	}
}

// rotate seals the open segment and starts the next one with a snapshot of
// cur, sized to hold a record of need bytes. The old segment's index is
// sealed by the flusher once the old segment's bytes are durable.
func (l *Log) rotate(need int64, cur *raftstate.State) error {
	start := time.Now()
	old := l.open
	size := max(l.opts.SegmentSize, segmentSizeFor(cur, need))
	b, err := l.takeBlank(size)
	if err == nil {
		h := format.SegmentHeader{
			ID: old.id + 1, StartPos: old.startPos + uint64(len(old.data)), PrevEnd: uint64(old.end),
			FileSize: uint64(len(b.data)), LogUID: l.uid, PrevCRC: l.prev,
		}
		var s *segment
		var crc uint32
		if s, crc, err = install(l.fs, l.dir, b, h, cur, l.wfirst, l.durable.Load()); err == nil {
			// A bulk load fills a segment in tens of milliseconds, about
			// what preparing one takes: the successor's successor is
			// asked for now, mapped as the segment just filled was
			// filled. A log synced in small pieces fills slowly and asks
			// once its segment is a quarter full, as the first one does:
			// asked for now, a reused spare's zeroing (its journal
			// commit) would land on the seal of the segment just left,
			// which a waiting Sync includes (measured: an 8 ms seal).
			next := l.nextFill()
			s.nudged = next != fillSmall
			l.writeBehind(old, old.end)
			l.todo.addRange(old, l.handed, old.end)
			l.todo.seals = append(l.todo.seals, seal{seg: old, hdr: l.indexHeader(old, l.prev)})
			l.todo.dir = true
			l.open, l.prev, l.handed, l.lastState = s, crc, 0, true
			l.openSyncs, l.rotateEarly = l.syncs.Load(), false
			l.mu.Lock()
			old.pubEnd = old.end
			l.segs = append(l.segs, s)
			l.mu.Unlock()
			l.met.rotated(start)
			if s.nudged {
				l.prep.nudge(next)
			}
			return nil
		}
		b.discard(l.fs)
	}
	return fmt.Errorf("mmaplog: rotate to segment %d: %w", old.id+1, err)
}

// nudgePreparer asks for the next segment once the open one is a quarter
// full, unless a rotation into it asked already (once per segment),
// leaving the preparer time to create and prefault it.
func (l *Log) nudgePreparer() {
	s := l.open
	f := l.nextFill()
	if f == fillSmall && s.fill == fillBulk {
		l.rotateEarly = true
		l.prep.nudge(f)
		return
	}
	if !s.nudged && s.end > int64(len(s.data))/4 {
		// Once per segment: the preparer holds one prepared segment, and a
		// nudge it has not served yet waits in its channel.
		s.nudged = true
		l.prep.nudge(f)
	}
}

// smallSyncThreshold: a segment synced on average every this many bytes
// or fewer is a Raft-style log of small, frequent syncs.
const smallSyncThreshold = 1 << 20

// nextFill is how the next segment will likely be filled, judged from the
// open one: through the file when most of its records were written that
// way; else copied in and synced in small pieces (then a small msync
// writes one page, not a large folio) when it has been; else in bulk, a
// segment filled with no sync or big ones (large folios, which write back
// twice as fast). Call with wmu held.
func (l *Log) nextFill() fill {
	s := l.open
	if 2*s.through > s.end {
		return fillThrough
	}
	n := l.syncs.Load() - l.openSyncs
	if n > 0 && s.end/int64(n) <= smallSyncThreshold {
		return fillSmall
	}
	return fillBulk
}

// writeRecord writes one non-entry record whose body put fills.
func (l *Log) writeRecord(t format.Type, n int, put func(body []byte)) error {
	cur := l.state
	if err := l.room(n, &cur); err != nil {
		return err
	}
	s := l.open
	size := format.RecordSize(n)
	through := l.afterSync(s)
	var b []byte
	if through {
		b = l.scratch[:0]
		if int64(cap(b)) < size {
			b = make([]byte, size)
		}
		b = b[:size]
	} else {
		b = s.data[s.end : s.end+size]
	}
	put(b[format.FrameSize : format.FrameSize+n])
	l.prev = format.PutFrame(b, t, n, l.durable.Load(), l.prev)
	if through {
		if err := l.writeAt(s, b, func() string { return t.String() + " record" }); err != nil {
			return err
		}
		if size <= maxScratch {
			l.scratch = b[:0]
		}
	}
	if t == format.TypeState {
		s.stateOff = s.end
	}
	s.end += int64(len(b))
	l.lastState = t == format.TypeState
	return nil
}

// writeState writes a State record holding st.
func (l *Log) writeState(st *raftstate.State) error {
	return l.writeRecord(format.TypeState, format.StateSize(st), func(b []byte) { format.PutStateFirst(b, st, l.wfirst) })
}

// publish makes the writer's changes visible to readers. Call with wmu held.
func (l *Log) publish(update func(st *raftstate.State)) {
	l.mu.Lock()
	update(&l.state)
	l.open.pubEnd = l.open.end
	l.mu.Unlock()
	l.nudgePreparer()
}

// SaveVote records v. A vote may not go backwards: allowed are a higher
// term and, within a term, the same vote, a move from NodeID 0 to a
// candidate, or the same candidate becoming committed. Anything else is
// ErrVoteReversal and writes nothing.
func (l *Log) SaveVote(v Vote) (err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if err := raftstate.CheckVote(l.state.Vote, v); err != nil {
		return err
	}
	defer vfs.CatchFault(debug.SetPanicOnFault(true), &err, ErrFailed)
	if err := l.writeRecord(format.TypeVote, format.VoteBodySize, func(b []byte) { format.PutVote(b, v) }); err != nil {
		return err
	}
	l.publish(func(st *raftstate.State) { st.Vote = v })
	return nil
}

// Commit records id as committed. id must not be below Committed
// (ErrLogIDReversal); equal is fine. It is not checked against Last.
func (l *Log) Commit(id LogID) (err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if err := raftstate.CheckCommit(&l.state, id); err != nil {
		return err
	}
	defer vfs.CatchFault(debug.SetPanicOnFault(true), &err, ErrFailed)
	if err := l.writeRecord(format.TypeCommit, format.LogIDBodySize, func(b []byte) { format.PutLogID(b, id) }); err != nil {
		return err
	}
	l.publish(func(st *raftstate.State) { st.Committed = id })
	return nil
}

// SaveUserData replaces the user-data blob (copied); nil clears it.
func (l *Log) SaveUserData(data []byte) (err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if len(data) > MaxPayload {
		return fmt.Errorf("%w: user data of %d bytes (max %d)", ErrTooLarge, len(data), MaxPayload)
	}
	defer vfs.CatchFault(debug.SetPanicOnFault(true), &err, ErrFailed)
	if data != nil {
		data = append([]byte{}, data...)
	}
	if err := l.writeRecord(format.TypeUserData, format.UserDataSize(data), func(b []byte) { format.PutUserData(b, data) }); err != nil {
		return err
	}
	l.publish(func(st *raftstate.State) { st.UserData = data })
	return nil
}

// Truncate removes every entry with Index >= index. index must be in
// [Purged.Index+1, Last.Index+1] (ErrNotFound otherwise, nothing written);
// Last.Index+1 is a no-op. Afterwards Last is the entry at index-1, or
// Purged when none is left. Committed is not changed.
func (l *Log) Truncate(idx uint64) (err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if err := raftstate.CheckTruncate(&l.state, idx); err != nil {
		return err
	}
	if idx == l.state.Last.Index+1 {
		return nil
	}
	defer vfs.CatchFault(debug.SetPanicOnFault(true), &err, ErrFailed)
	newLast := l.state.Purged
	if idx-1 >= l.firstIndex() {
		// Read under the read lock's protection: the writer holds wmu, so
		// nothing can unmap the segment, and idx-1 <= Last is published.
		id, _, err := l.entryAt(idx - 1)
		if err != nil {
			return err
		}
		newLast = id
	}
	if err := l.writeRecord(format.TypeTruncate, format.TruncateSize, func(b []byte) { format.PutTruncate(b, idx, newLast) }); err != nil {
		return err
	}
	s := l.open
	l.mu.Lock()
	s.base, s.count = raftstate.TruncateSpan(s.base, s.count, idx)
	l.state.Last = newLast
	s.pubEnd = s.end
	l.rebuildRuns()
	l.mu.Unlock()
	return nil
}

// Purge removes every entry with Index <= upto.Index. upto.Index <=
// Purged.Index is a no-op. Purged entries are gone for readers at once
// (ErrNotFound). When upto is beyond Last, Last becomes upto and the next
// append must be upto.Index+1. Segment files holding only purged entries
// are deleted by the next flush, after the purge is durable.
func (l *Log) Purge(upto LogID) (err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if raftstate.IsPurgeNoop(&l.state, upto) {
		return nil
	}
	defer vfs.CatchFault(debug.SetPanicOnFault(true), &err, ErrFailed)
	if err := l.writeRecord(format.TypePurge, format.LogIDBodySize, func(b []byte) { format.PutLogID(b, upto) }); err != nil {
		return err
	}
	l.mu.Lock()
	raftstate.ApplyPurge(&l.state, upto)
	l.first = max(l.first, upto.Index+1)
	l.wfirst = l.first
	// Segments in front that hold nothing live leave the readers' view
	// now; they are deleted once this purge record is durable.
	l.dropDeadSegments()
	l.open.pubEnd = l.open.end
	l.rebuildRuns()
	l.mu.Unlock()
	return nil
}

// segmentDead reports whether segment i of l.segs holds no live entry:
// none at all, only indexes <= Purged, or only ones superseded by a later
// segment. Call with mu held, before rebuilding the runs.
func (l *Log) segmentDead(i int) bool {
	s := l.segs[i]
	for k, r := range l.runs {
		if l.segs[r.Seg] != s {
			continue
		}
		end := s.base + s.count - 1
		if k+1 < len(l.runs) {
			end = min(end, l.runs[k+1].First-1)
		}
		return min(end, l.state.Last.Index) <= l.state.Purged.Index
	}
	return true
}

// indexHeader is the complete header to seal s's index with at its
// current end, where the chain value is endCRC. The flusher fills in
// Vouched when it writes the seal.
func (l *Log) indexHeader(s *segment, endCRC uint32) index.Header {
	h := index.Header{
		SegmentID: s.id, LogUID: l.uid, Count: s.count,
		ValidEnd: s.end, StateOff: s.stateOff, EndCRC: endCRC, Complete: true,
	}
	if s.count > 0 {
		h.Base = s.base // 0 when the segment holds no entry
	}
	return h
}
