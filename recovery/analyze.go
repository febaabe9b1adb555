package recovery

import (
	"errors"
	"fmt"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
)

// segmentFile is one segment file as found on disk, mapped.
type segmentFile struct {
	ID    uint64
	Path  string
	Data  []byte      // the whole file, mapped (nil for an empty file)
	Index *index.File // nil when the index file is missing or unreadable
}

// SegmentState is what recovery established about one surviving segment.
type SegmentState struct {
	ID       uint64
	Header   format.SegmentHeader
	End      int64  // offset after the last valid record: where appends go
	Prev     uint32 // chain value at End (CRC of the last record)
	Base     uint64 // index of the first entry in the segment (0: none)
	Count    uint64 // entries live in this segment's own view
	StateOff int64  // offset of the last State record
	// Slots holds the rebuilt index (record offset / 8 per entry) when the
	// index file must be rewritten; nil when the index file is trusted.
	Slots        []uint32
	RebuildIndex bool
	// Checkpoint: the last record is a State record (a clean close).
	Checkpoint bool
	// SlotsUnchecked: the index was trusted on its header; its slots must
	// be checked against the seal's checksum (index.File.SlotsProven)
	// before the first lookup, and rebuilt with SegmentSlots when they
	// fail it.
	SlotsUnchecked bool
}

// Torn describes a torn tail that recovery cut off.
type Torn struct {
	Path    string // segment where the cut is
	Offset  int64  // offset of the cut
	Bytes   int64  // nonzero bytes dropped (approximate: aligned words)
	Records int    // checksum-valid records found beyond the cut (never acknowledged)
	Entries int    // of which entries
	Reason  error  // what was found at the cut
}

// Result is the outcome of analyze: nothing on disk has been changed yet.
type Result struct {
	State    raftstate.State
	First    uint64         // lowest index that exists (Purged.Index+1 unless the log started above 1)
	Durable  uint64         // global position proven durable
	Segments []SegmentState // survivors, in ID order
	Remove   []int          // positions (in analyze's input) of files to delete
	Torn     *Torn          // nil when there was no torn tail
	Clean    bool           // the log was closed cleanly: nothing was scanned
}

// analyze decides, without writing anything, what the segments hold: the
// state, each segment's end and index, which files are crash leftovers, and
// whether a torn tail must be cut. Damage to data proven durable is a
// *format.CorruptError. segs must be sorted by ID.
func analyze(segs []segmentFile) (*Result, error) {
	res := &Result{}
	n := len(segs)
	hdrs := make([]format.SegmentHeader, n)
	seeds := make([]uint32, n)
	uid, err := logIdentity(segs)
	if err != nil {
		return nil, err
	}
	// Find the first segment that breaks the chain: a missing ID, an
	// unreadable header, or one that does not follow its predecessor.
	bad := -1
	var brk *format.CorruptError
	for i := range n {
		if i > 0 {
			if brk = ruleConsecutive(segs[i-1], segs[i]); brk != nil {
				bad = i
				break
			}
		}
		h, seed, err := format.ReadSegmentHeader(segs[i].Data)
		if err == nil && h.LogUID != uid {
			return nil, foreign(segs[i].Path, 48, h.LogUID, uid)
		}
		if err == nil && (h.ID != segs[i].ID || h.FileSize != uint64(len(segs[i].Data))) {
			err = headerMismatch(h, segs[i])
		}
		if err != nil {
			brk = format.Corruptf(segs[i].Path, 0, 0, "%v", err)
		} else if i > 0 {
			brk = ruleStart(segs[i], h, hdrs[i-1], segs[i-1].ID)
		}
		if brk != nil {
			bad = i
			break
		}
		hdrs[i], seeds[i] = h, seed
	}
	if bad >= 0 {
		// Segments created by rotations whose data never became durable
		// (their names can reach the disk before their bytes) are crash
		// leftovers when nothing written later vouches that the log was
		// durable past the broken segment's start.
		start, vouched := chainBreakEvidence(segs, hdrs, bad)
		if ce := ruleBreak(brk, start, vouched, bad == 0 && segs[0].ID != 1); ce != nil {
			return nil, ce
		}
		for j := n - 1; j >= bad; j-- {
			res.Remove = append(res.Remove, j)
		}
		res.Durable = vouched
		n = bad
	}
	if n == 0 {
		return res, nil
	}
	return analyzeChain(res, segs[:n], hdrs[:n], seeds[:n])
}

// logIdentity returns the log UID that most readable segment headers
// carry (every one, in a sound log), or the error of a header written by
// another format version.
func logIdentity(segs []segmentFile) (uint64, error) {
	votes := map[uint64]int{}
	var uid uint64
	for _, s := range segs {
		h, _, err := format.ReadSegmentHeader(s.Data)
		if errors.Is(err, format.ErrVersion) {
			return 0, fmt.Errorf("mmaplog: %s: %w", s.Path, err)
		}
		if err != nil {
			continue
		}
		votes[h.LogUID]++
		if votes[h.LogUID] > votes[uid] || (votes[h.LogUID] == votes[uid] && uid == 0) {
			uid = h.LogUID
		}
	}
	return uid, nil
}

// foreign is the error for a file that carries another log's identity.
func foreign(path string, off int64, got, want uint64) error {
	return format.Corruptf(path, off, 0, "file belongs to another log (identity %016x, this log is %016x)", got, want)
}

// checkIndexIdentity fails when seg's index has a readable header naming
// another segment or another log: such a file was copied or moved, and
// is corruption, not a stale accelerator to rebuild.
func checkIndexIdentity(seg segmentFile, uid uint64) error {
	if seg.Index == nil {
		return nil
	}
	h, err := seg.Index.Header()
	if errors.Is(err, index.ErrVersion) {
		return fmt.Errorf("mmaplog: %w", err)
	}
	if err != nil {
		return nil // damaged or never written: rebuilt from the segment
	}
	if h.LogUID != uid {
		return foreign(seg.Index.Path(), 56, h.LogUID, uid)
	}
	if h.SegmentID != seg.ID {
		return format.Corruptf(seg.Index.Path(), 8, 0, "index of segment %d found as the index of segment %d", h.SegmentID, seg.ID)
	}
	return nil
}

// chainBreakEvidence returns the global start position of segment bad
// (where the chain breaks) and the largest durable watermark that any
// valid record in segments bad and later vouches for.
func chainBreakEvidence(segs []segmentFile, hdrs []format.SegmentHeader, bad int) (start, vouched uint64) {
	if bad > 0 {
		start = hdrs[bad-1].StartPos + hdrs[bad-1].FileSize
		// Sealed at rotation, the previous segment's index vouches for
		// this segment's header and snapshot.
		vouched = indexEvidence(segs[bad-1])
	}
	for j := bad; j < len(segs); j++ {
		pos := unknownPos
		if j == bad && bad > 0 && segs[j].ID == segs[bad-1].ID+1 {
			pos = start // its header may be the damage
		} else if h, _, err := format.ReadSegmentHeader(segs[j].Data); err == nil && h.ID == segs[j].ID {
			pos = h.StartPos
		}
		ev := resync(segs[j].Data, format.SegmentHeaderSize, int64(len(segs[j].Data)), pos)
		vouched = max(vouched, ev.durable)
		// A complete index proves its segment was durable, header
		// included, whatever the header now says.
		vouched = max(vouched, indexEvidence(segs[j]))
	}
	return start, vouched
}

// indexEvidence is the global position a segment's complete index header
// vouches for (its Vouched), or 0. The complete flag is written only after
// the log was durable that far, whatever the segment file holds now (it
// may have been emptied or cut short since).
func indexEvidence(seg segmentFile) uint64 {
	if seg.Index == nil {
		return 0
	}
	h, err := seg.Index.Header()
	if err != nil || !h.Complete || h.SegmentID != seg.ID {
		return 0
	}
	return h.Vouched
}

func analyzeChain(res *Result, segs []segmentFile, hdrs []format.SegmentHeader, seeds []uint32) (*Result, error) {
	n := len(segs)
	limits := make([]int64, n)
	for i := range n {
		limits[i] = int64(len(segs[i].Data))
		if i+1 < n {
			pe := int64(hdrs[i+1].PrevEnd)
			if ce := rulePrevEnd(segs[i+1], segs[i], pe, limits[i]); ce != nil {
				return nil, ce
			}
			limits[i] = pe
		}
	}

	states := make([]SegmentState, n)
	scans := make([]*scan, n)
	for i := range n {
		if err := checkIndexIdentity(segs[i], hdrs[i].LogUID); err != nil {
			return nil, err
		}
	}
	for i := range n {
		st := &states[i]
		st.ID, st.Header = segs[i].ID, hdrs[i]
		if ok := trustIndex(st, segs[i], limits[i], i == n-1); ok {
			continue
		}
		sc, err := scanSegment(segs[i].Path, segs[i].Data, seeds[i], limits[i], true)
		if err != nil {
			return nil, err
		}
		scans[i] = sc
		st.fromScan(sc)
	}

	// The durable watermark: the largest any valid record vouches for, and
	// at least the end of every segment whose index was sealed complete
	// (written only after the segment was durable that far), even when
	// the segment itself has to be scanned because it is damaged.
	for i := range n {
		res.Durable = max(res.Durable, indexEvidence(segs[i]))
		if scans[i] != nil {
			res.Durable = max(res.Durable, scans[i].durable)
		} else {
			res.Durable = max(res.Durable, hdrs[i].StartPos+uint64(states[i].End))
		}
	}

	// Find the first place where the records stop before they should: a
	// non-last segment that ends short of the next one's prevEnd, or the
	// last segment's end.
	cut := -1
	var ev evidence
	for i := range n {
		sc := scans[i]
		if sc == nil || (i < n-1 && sc.end == limits[i]) {
			continue
		}
		cut = i
		ev = resync(segs[i].Data, sc.end+format.Align, limits[i], hdrs[i].StartPos)
		for j := i + 1; j < n; j++ {
			if scans[j] != nil {
				ev.records += scans[j].entries // lower bound; fine for reporting
				ev.entries += scans[j].entries
				e2 := resync(segs[j].Data, scans[j].end+format.Align, limits[j], hdrs[j].StartPos)
				ev.durable = max(ev.durable, e2.durable)
			}
		}
		break
	}
	if err := checkLinks(segs, hdrs, states, scans, limits, cut); err != nil {
		return nil, err
	}
	if cut < 0 {
		// Every segment trusted: a clean close.
		last := &states[n-1]
		res.Segments, res.Clean = states, true
		if end := hdrs[n-1].StartPos + uint64(last.End); res.Durable > end {
			return nil, lostSuccessor(segs[n-1].Path, last.End, end, res.Durable)
		}
		return finish(res, segs, last)
	}
	res.Durable = max(res.Durable, ev.durable)
	sc := scans[cut]
	pos := hdrs[cut].StartPos + uint64(sc.end)
	if pos < res.Durable && errors.Is(sc.stop, format.ErrUnwritten) && cut == n-1 && res.Durable > hdrs[cut].StartPos+hdrs[cut].FileSize {
		// The records end cleanly, and what vouches lies past this file.
		return nil, lostSuccessor(segs[cut].Path, sc.end, pos, res.Durable)
	}
	var idx uint64 // unknown when the segment's snapshot is the damage
	if sc.hasState {
		idx = sc.state.Last.Index + 1
	}
	if ce := ruleDurable(segs[cut], sc.end, idx, pos, res.Durable, stopReason(sc)); ce != nil {
		return nil, ce
	}
	// A torn tail: everything from the cut on was never acknowledged.
	beyond := ev.lastByte > sc.end+format.Align || cut < n-1 || ev.records > 0
	if sc.stop != nil && !errors.Is(sc.stop, format.ErrUnwritten) {
		beyond = true
	}
	if beyond {
		res.Torn = &Torn{Path: segs[cut].Path, Offset: sc.end, Bytes: max(0, ev.lastByte-sc.end), Records: ev.records, Entries: ev.entries, Reason: sc.stop}
		for j := cut + 1; j < n; j++ {
			res.Torn.Bytes += int64(scans[j].end) // approximate for reporting
		}
	}
	for j := cut + 1; j < n; j++ {
		res.Remove = append(res.Remove, j)
	}
	if !sc.hasState {
		// The segment's own snapshot never became durable: it is a
		// crash during rotation. Fall back to the previous segment.
		if cut == 0 {
			if segs[0].ID != 1 {
				return nil, format.Corruptf(segs[0].Path, format.SegmentHeaderSize, 0, "only segment has no valid State snapshot")
			}
			res.Remove = append(res.Remove, 0)
			return res, nil
		}
		res.Remove = append(res.Remove, cut)
		prev := cut - 1
		psc, err := scanSegment(segs[prev].Path, segs[prev].Data, seeds[prev], int64(len(segs[prev].Data)), true)
		if err != nil {
			return nil, err
		}
		if !psc.hasState {
			return nil, format.Corruptf(segs[prev].Path, format.SegmentHeaderSize, 0, "no valid State snapshot")
		}
		if psc.end < limits[prev] {
			// prevEnd promised more records than there are; that segment
			// was not synced either. Its own rules apply.
			if ce := ruleDurable(segs[prev], psc.end, psc.state.Last.Index+1, hdrs[prev].StartPos+uint64(psc.end), res.Durable, stopReason(psc)); ce != nil {
				return nil, ce
			}
		}
		scans[prev] = psc
		states[prev].fromScan(psc)
		cut = prev
	}
	res.Segments = states[:cut+1]
	last := &res.Segments[cut]
	last.End, last.Prev = scans[cut].end, scans[cut].prev
	res.State, res.First = scans[cut].state, scans[cut].first
	if end := hdrs[cut].StartPos + uint64(last.End); res.Durable > end {
		return nil, lostSuccessor(segs[cut].Path, last.End, end, res.Durable)
	}
	return finish(res, segs, last)
}

// checkLinks checks that every segment before the cut (all of them when
// cut < 0) ends, at the next segment's prevEnd, with the chain value that
// the next segment's header continues from: a segment copied from another
// log, or from another place in this one, does not.
func checkLinks(segs []segmentFile, hdrs []format.SegmentHeader, states []SegmentState, scans []*scan, limits []int64, cut int) error {
	n := len(segs)
	if cut >= 0 {
		n = cut + 1
	}
	for i := 0; i+1 < n; i++ {
		if scans[i] != nil && scans[i].end != limits[i] {
			return nil // stops short: the cut's rules apply
		}
		if want := hdrs[i+1].PrevCRC; states[i].Prev != want {
			return format.Corruptf(segs[i+1].Path, 56, 0, "segment does not continue segment %d: its header continues the chain from %08x, segment %d ends with %08x", segs[i].ID, want, segs[i].ID, states[i].Prev)
		}
	}
	return nil
}

// lostSuccessor is the error for a log whose segments end at end while
// something written after a sync vouches that it was durable to vouched:
// a segment file was deleted, emptied or cut short.
func lostSuccessor(path string, off int64, end, vouched uint64) error {
	return format.Corruptf(path, off, 0, "the log ends at position %d but was proven durable to position %d (a sealed index or a later record vouches for it): a later segment was lost, emptied or cut short", end, vouched)
}

// fromScan fills st from a scan of its segment; the index is rebuilt.
func (st *SegmentState) fromScan(sc *scan) {
	st.End, st.Prev, st.StateOff = sc.end, sc.prev, sc.stateOff
	st.Base, st.Count = span(sc.base, sc.count)
	st.Slots, st.RebuildIndex, st.Checkpoint = sc.slots, true, sc.lastType == format.TypeState
}

// span is a segment's entries as (base, count): base is 0 when the
// segment holds none, whatever was recorded.
func span(base, count uint64) (uint64, uint64) {
	if count == 0 {
		return 0, 0
	}
	return base, count
}

// trustIndex fills st from a complete index header when it can be
// trusted: for a non-last segment its ValidEnd must equal the next
// segment's prevEnd; for the last segment the index must point at a valid
// closing State record ending at ValidEnd.
func trustIndex(st *SegmentState, seg segmentFile, limit int64, last bool) bool {
	if seg.Index == nil {
		return false
	}
	h, err := seg.Index.Header()
	if err != nil || !h.Complete || h.SegmentID != seg.ID || h.ValidEnd < format.SegmentHeaderSize ||
		h.ValidEnd > limit || h.Count > uint64(seg.Index.Slots()) || (h.Count > 0) != (h.Base > 0) ||
		h.StateOff < format.SegmentHeaderSize || h.StateOff >= h.ValidEnd {
		return false
	}
	// The slots are proven by their checksum before they are used: here
	// for the last segment (its index is written on), and by the reader's
	// first lookup for the others (SlotsUnchecked), so that opening a big
	// log does not read every index.
	if last && !seg.Index.SlotsProven(h) {
		return false
	}
	st.SlotsUnchecked = !last
	r, err := format.ReadRecord(seg.Data[:h.ValidEnd], h.StateOff)
	if err != nil || r.Type != format.TypeState {
		return false
	}
	if last {
		if h.StateOff+r.Size != h.ValidEnd {
			return false
		}
		// A record chained to the closing one proves the log went on
		// after this header was written (a stale index page).
		if next, err := format.ReadRecord(seg.Data, h.ValidEnd); err == nil && next.Prev == r.CRC {
			return false
		}
		st.Prev, st.Checkpoint = r.CRC, true
	} else if h.ValidEnd != limit {
		return false
	} else {
		st.Prev = h.EndCRC
	}
	st.End, st.StateOff = h.ValidEnd, h.StateOff
	st.Base, st.Count = span(h.Base, h.Count)
	return true
}

// finish loads the state of a clean log and checks that the segments hold
// every live entry.
func finish(res *Result, segs []segmentFile, last *SegmentState) (*Result, error) {
	if res.Clean {
		seg := segs[len(res.Segments)-1]
		r, err := format.ReadRecord(seg.Data[:last.End], last.StateOff)
		if err != nil {
			return nil, format.Corruptf(seg.Path, last.StateOff, 0, "closing State record: %v", err)
		}
		st, err := format.State(r.Body)
		if err != nil {
			return nil, format.Corruptf(seg.Path, last.StateOff, 0, "closing State record: %v", err)
		}
		res.State, res.First = st, format.StateFirst(r.Body)
		res.Durable = max(res.Durable, last.Header.StartPos+uint64(last.End))
	}
	s := &res.State
	res.First = max(res.First, s.Purged.Index+1)
	if s.Last.Index < res.First {
		return res, nil
	}
	if ce := ruleNeverPurged(s, segs[0]); ce != nil {
		return nil, ce
	}
	span := func(i int) (uint64, uint64) { return res.Segments[i].Base, res.Segments[i].Count }
	if ce := ruleCoverage(s, res.First, len(res.Segments), span, segs[len(res.Segments)-1].Path, 0); ce != nil {
		return nil, ce
	}
	return res, nil
}

// Run is a maximal range of log indexes held by one segment: it starts at
// First and ends where the next run starts (or at the log's Last).
type Run struct {
	First uint64
	Seg   int // position in the segment list
}

// buildRuns computes the runs of n segments in ID order, given each one's
// first entry index and entry count: a later segment that starts at or
// below an earlier run's first index supersedes it (a truncation followed
// by re-appends).
func buildRuns(n int, span func(i int) (base, count uint64)) []Run {
	return AppendRuns(nil, n, span)
}

// AppendRuns is buildRuns appending to runs[:0], reusing its storage.
func AppendRuns(runs []Run, n int, span func(i int) (base, count uint64)) []Run {
	runs = runs[:0]
	for i := range n {
		base, count := span(i)
		if count == 0 {
			continue
		}
		for len(runs) > 0 && runs[len(runs)-1].First >= base {
			runs = runs[:len(runs)-1]
		}
		runs = append(runs, Run{First: base, Seg: i})
	}
	return runs
}

// creationCrash reports whether seg, the last segment, whose header is
// unreadable, is a crash leftover: nothing written vouches that the log
// was durable past its start. prev holds the headers before it.
func creationCrash(seg segmentFile, prev []format.SegmentHeader) bool {
	segs := make([]segmentFile, len(prev)+1)
	segs[len(prev)] = seg
	start, vouched := chainBreakEvidence(segs, prev, len(prev))
	return (len(prev) > 0 || seg.ID == 1) && vouched <= start
}
