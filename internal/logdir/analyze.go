package logdir

import (
	"errors"
	"fmt"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
)

// Analyze decides, without writing anything, what the segments hold: the
// state, each segment's end and index, which files are crash leftovers,
// and whether a torn tail must be cut. Damage to data proven durable is a
// *format.CorruptError. segs must be sorted by ID.
//
// It first finds where the chain of segments breaks (a missing ID, an
// unreadable header, one that does not follow its predecessor): the
// segments from there on are crash leftovers of a rotation when nothing
// vouches that the log was durable past the break, and corruption
// otherwise (ruleBreak). The unbroken chain before it is analyzeChain's.
func Analyze(segs []SegmentFile) (*Plan, error) {
	p := &Plan{}
	uid, err := LogIdentity(segs)
	if err != nil {
		return nil, err
	}
	hdrs, seeds, bad, brk, err := readHeaders(segs, uid)
	if err != nil {
		return nil, err
	}
	n := len(segs)
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
			p.Remove = append(p.Remove, j)
		}
		p.Durable = vouched
		n = bad
	}
	if n == 0 {
		return p, nil
	}
	return analyzeChain(p, segs[:n], hdrs[:n], seeds[:n])
}

// readHeaders reads the segment headers in order up to the first segment
// that breaks the chain: a missing ID, an unreadable header (or one naming
// another file), or one that does not start where its predecessor ends.
// It returns that segment's position (bad, -1 when none does) and why
// (brk); a header of another log is an error. hdrs and seeds hold the
// headers before bad and their chain seeds.
func readHeaders(segs []SegmentFile, uid uint64) (hdrs []format.SegmentHeader, seeds []uint32, bad int, brk *format.CorruptError, err error) {
	hdrs = make([]format.SegmentHeader, len(segs))
	seeds = make([]uint32, len(segs))
	for i := range segs {
		if i > 0 {
			if brk = RuleConsecutive(segs[i-1], segs[i]); brk != nil {
				return hdrs, seeds, i, brk, nil
			}
		}
		h, seed, err := format.ReadSegmentHeader(segs[i].Data)
		if err == nil && h.LogUID != uid {
			return nil, nil, 0, nil, foreign(segs[i].Path, 48, h.LogUID, uid)
		}
		if err == nil && (h.ID != segs[i].ID || h.FileSize != uint64(len(segs[i].Data))) {
			err = HeaderMismatch(h, segs[i])
		}
		if err != nil {
			brk = format.Corruptf(segs[i].Path, 0, 0, "%v", err)
		} else if i > 0 {
			brk = RuleStart(segs[i], h, hdrs[i-1], segs[i-1].ID)
		}
		if brk != nil {
			return hdrs, seeds, i, brk, nil
		}
		hdrs[i], seeds[i] = h, seed
	}
	return hdrs, seeds, -1, nil, nil
}

// LogIdentity returns the log UID that most readable segment headers
// carry (every one, in a sound log), or the error of a header written by
// another format version.
func LogIdentity(segs []SegmentFile) (uint64, error) {
	votes := map[uint64]int{}
	var uid uint64
	for _, s := range segs {
		h, _, err := format.ReadSegmentHeader(s.Data)
		if errors.Is(err, format.ErrVersion) {
			return 0, fmt.Errorf("%s: %w", s.Path, err)
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
func checkIndexIdentity(seg SegmentFile, uid uint64) error {
	if seg.Index == nil {
		return nil
	}
	h, err := seg.Index.Header()
	if errors.Is(err, index.ErrVersion) {
		return err
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

// chain is the analysis of an unbroken chain of segments: consecutive
// IDs, readable headers, each starting where its predecessor ends.
type chain struct {
	plan   *Plan
	segs   []SegmentFile
	hdrs   []format.SegmentHeader
	seeds  []uint32
	limits []int64       // where each segment's records must end (the last's: may end)
	states []SegmentPlan // what each segment holds
	scans  []*Scan       // each segment's scan; nil when its index was trusted
}

// analyzeChain decides what an unbroken chain of segments holds, in this
// order:
//
//  1. setLimits: where each segment's records must end, the next header's
//     prevEnd (RulePrevEnd), or the file's end for the last;
//  2. readSegments: an index of another log or segment is corruption;
//     then each segment is read from its sealed index header when that can
//     be trusted (trustIndex), or else scanned;
//  3. watermark: the largest position any seal or valid record vouches
//     for;
//  4. findCut: the first scanned segment whose records stop before they
//     should (short of the next one's prevEnd, or anywhere in the last),
//     and the evidence beyond the stop;
//  5. checkLinks: each segment up to the cut ends with the chain value
//     the next one's header continues from;
//  6. without a cut the log was closed cleanly (conclude); with one,
//     cutTail judges the stop: damage when something vouches past it,
//     else a torn tail to cut.
func analyzeChain(p *Plan, segs []SegmentFile, hdrs []format.SegmentHeader, seeds []uint32) (*Plan, error) {
	c := &chain{plan: p, segs: segs, hdrs: hdrs, seeds: seeds}
	if err := c.setLimits(); err != nil {
		return nil, err
	}
	if err := c.readSegments(); err != nil {
		return nil, err
	}
	c.watermark()
	cut, ev := c.findCut()
	if err := c.checkLinks(cut); err != nil {
		return nil, err
	}
	if cut < 0 {
		// Every segment trusted: a clean close.
		p.Segments, p.Clean = c.states, true
		return c.conclude(len(segs) - 1)
	}
	return c.cutTail(cut, ev)
}

// setLimits sets where each segment's records must end: at the prevEnd
// that the next segment's header records (which must lie inside it), or,
// for the last, at most at the end of the file.
func (c *chain) setLimits() error {
	n := len(c.segs)
	c.limits = make([]int64, n)
	for i := range n {
		c.limits[i] = int64(len(c.segs[i].Data))
		if i+1 < n {
			pe := int64(c.hdrs[i+1].PrevEnd)
			if ce := RulePrevEnd(c.segs[i+1], c.segs[i], pe, c.limits[i]); ce != nil {
				return ce
			}
			c.limits[i] = pe
		}
	}
	return nil
}

// readSegments checks every index's identity, then fills each segment's
// state from its trusted index header or, failing that, from a scan of
// its records up to its limit.
func (c *chain) readSegments() error {
	n := len(c.segs)
	c.states = make([]SegmentPlan, n)
	c.scans = make([]*Scan, n)
	for i := range n {
		if err := checkIndexIdentity(c.segs[i], c.hdrs[i].LogUID); err != nil {
			return err
		}
	}
	for i := range n {
		st := &c.states[i]
		st.ID, st.Header = c.segs[i].ID, c.hdrs[i]
		if ok := trustIndex(st, c.segs[i], c.limits[i], i == n-1); ok {
			continue
		}
		sc, err := ScanSegment(c.segs[i].Path, c.segs[i].Data, c.seeds[i], c.limits[i], true)
		if err != nil {
			return err
		}
		c.scans[i] = sc
		st.fromScan(sc)
	}
	return nil
}

// watermark sets the plan's durable watermark: the largest any valid
// record vouches for, and at least the end of every segment whose index
// was sealed complete (written only after the segment was durable that
// far), even when the segment itself has to be scanned because it is
// damaged.
func (c *chain) watermark() {
	p := c.plan
	for i := range c.segs {
		p.Durable = max(p.Durable, IndexEvidence(c.segs[i]))
		if c.scans[i] != nil {
			p.Durable = max(p.Durable, c.scans[i].durable)
		} else {
			p.Durable = max(p.Durable, c.hdrs[i].StartPos+uint64(c.states[i].End))
		}
	}
}

// findCut returns the first segment where the records stop before they
// should, a non-last segment that ends short of the next one's prevEnd or
// the last segment's end (-1: none, every segment was trusted), with the
// evidence found after the stop in it and in the later segments.
func (c *chain) findCut() (int, Evidence) {
	n := len(c.segs)
	for i := range n {
		sc := c.scans[i]
		if sc == nil || (i < n-1 && sc.End == c.limits[i]) {
			continue
		}
		ev := Resync(c.segs[i].Data, sc.End+format.Align, c.limits[i], c.hdrs[i].StartPos)
		for j := i + 1; j < n; j++ {
			if c.scans[j] != nil {
				ev.Records += c.scans[j].entries // lower bound; fine for reporting
				ev.Entries += c.scans[j].entries
				e2 := Resync(c.segs[j].Data, c.scans[j].End+format.Align, c.limits[j], c.hdrs[j].StartPos)
				ev.Durable = max(ev.Durable, e2.Durable)
			}
		}
		return i, ev
	}
	return -1, Evidence{}
}

// checkLinks checks that every segment before the cut (all of them when
// cut < 0) ends, at the next segment's prevEnd, with the chain value that
// the next segment's header continues from: a segment copied from another
// log, or from another place in this one, does not.
func (c *chain) checkLinks(cut int) error {
	n := len(c.segs)
	if cut >= 0 {
		n = cut + 1
	}
	for i := 0; i+1 < n; i++ {
		if c.scans[i] != nil && c.scans[i].End != c.limits[i] {
			return nil // stops short: the cut's rules apply
		}
		if want := c.hdrs[i+1].PrevCRC; c.states[i].Prev != want {
			return format.Corruptf(c.segs[i+1].Path, 56, 0, "segment does not continue segment %d: its header continues the chain from %08x, segment %d ends with %08x", c.segs[i].ID, want, c.segs[i].ID, c.states[i].Prev)
		}
	}
	return nil
}

// cutTail judges where the records of segment cut stop, with ev the
// evidence beyond the stop, in this order:
//
//  1. the stop is damage when the durable watermark passes it: records
//     that end cleanly while something vouches past the file mean a later
//     segment was lost (lostSuccessor), any other stop is RuleDurable's;
//  2. otherwise it is a torn tail, never acknowledged: it is recorded
//     (Plan.Torn) when anything lies beyond the stop, and every later
//     segment goes;
//  3. a cut segment without a valid State snapshot is a crash during its
//     rotation: it goes too, and the previous segment is the last
//     (fallBack), read again in full;
//  4. conclude on the last segment kept.
func (c *chain) cutTail(cut int, ev Evidence) (*Plan, error) {
	p, n := c.plan, len(c.segs)
	p.Durable = max(p.Durable, ev.Durable)
	sc := c.scans[cut]
	pos := c.hdrs[cut].StartPos + uint64(sc.End)
	if pos < p.Durable && errors.Is(sc.Stop, format.ErrUnwritten) && cut == n-1 && p.Durable > c.hdrs[cut].StartPos+c.hdrs[cut].FileSize {
		// The records end cleanly, and what vouches lies past this file.
		return nil, lostSuccessor(c.segs[cut].Path, sc.End, pos, p.Durable)
	}
	var idx uint64 // unknown when the segment's snapshot is the damage
	if sc.HasState {
		idx = sc.State.Last.Index + 1
	}
	if ce := RuleDurable(c.segs[cut], sc.End, idx, pos, p.Durable, StopReason(sc)); ce != nil {
		return nil, ce
	}
	// A torn tail: everything from the cut on was never acknowledged.
	beyond := ev.LastByte > sc.End+format.Align || cut < n-1 || ev.Records > 0
	if sc.Stop != nil && !errors.Is(sc.Stop, format.ErrUnwritten) {
		beyond = true
	}
	if beyond {
		p.Torn = &Torn{Path: c.segs[cut].Path, Offset: sc.End, Bytes: max(0, ev.LastByte-sc.End), Records: ev.Records, Entries: ev.Entries, Reason: sc.Stop}
		for j := cut + 1; j < n; j++ {
			p.Torn.Bytes += c.scans[j].End // approximate for reporting
		}
	}
	for j := cut + 1; j < n; j++ {
		p.Remove = append(p.Remove, j)
	}
	if !sc.HasState {
		// The segment's own snapshot never became durable: it is a
		// crash during rotation. Fall back to the previous segment.
		if cut == 0 {
			if c.segs[0].ID != 1 {
				return nil, format.Corruptf(c.segs[0].Path, format.SegmentHeaderSize, 0, "only segment has no valid State snapshot")
			}
			p.Remove = append(p.Remove, 0)
			return p, nil
		}
		if err := c.fallBack(cut); err != nil {
			return nil, err
		}
		cut--
	}
	p.Segments = c.states[:cut+1]
	last := &p.Segments[cut]
	last.End, last.Prev = c.scans[cut].End, c.scans[cut].Prev
	p.State, p.First = c.scans[cut].State, c.scans[cut].First
	return c.conclude(cut)
}

// fallBack removes segment cut, whose State snapshot never became
// durable, and makes its predecessor the last segment: scanned to the end
// of its file (prevEnd promised records that the crash may have lost), and
// judged by its own rules when it stops short of that promise.
func (c *chain) fallBack(cut int) error {
	p := c.plan
	p.Remove = append(p.Remove, cut)
	prev := cut - 1
	seg := c.segs[prev]
	psc, err := ScanSegment(seg.Path, seg.Data, c.seeds[prev], int64(len(seg.Data)), true)
	if err != nil {
		return err
	}
	if !psc.HasState {
		return format.Corruptf(seg.Path, format.SegmentHeaderSize, 0, "no valid State snapshot")
	}
	if psc.End < c.limits[prev] {
		// prevEnd promised more records than there are; that segment
		// was not synced either. Its own rules apply.
		if ce := RuleDurable(seg, psc.End, psc.State.Last.Index+1, c.hdrs[prev].StartPos+uint64(psc.End), p.Durable, StopReason(psc)); ce != nil {
			return ce
		}
	}
	c.scans[prev] = psc
	c.states[prev].fromScan(psc)
	return nil
}

// conclude checks that nothing vouches for the log past the end of
// segment k, the last one kept, and finishes the plan.
func (c *chain) conclude(k int) (*Plan, error) {
	p, last := c.plan, &c.plan.Segments[k]
	if end := c.hdrs[k].StartPos + uint64(last.End); p.Durable > end {
		return nil, lostSuccessor(c.segs[k].Path, last.End, end, p.Durable)
	}
	return finish(p, c.segs, last)
}

// lostSuccessor is the error for a log whose segments end at end while
// something written after a sync vouches that it was durable to vouched:
// a segment file was deleted, emptied or cut short.
func lostSuccessor(path string, off int64, end, vouched uint64) error {
	return format.Corruptf(path, off, 0, "the log ends at position %d but was proven durable to position %d (a sealed index or a later record vouches for it): a later segment was lost, emptied or cut short", end, vouched)
}

// trustIndex fills st from a complete index header when it can be
// trusted: for a non-last segment its ValidEnd must equal the next
// segment's prevEnd; for the last segment the index must point at a valid
// closing State record ending at ValidEnd.
func trustIndex(st *SegmentPlan, seg SegmentFile, limit int64, last bool) bool {
	if seg.Index == nil {
		return false
	}
	h, err := seg.Index.Header()
	if err != nil || !h.Complete || h.SegmentID != seg.ID || h.ValidEnd < format.SegmentHeaderSize ||
		h.ValidEnd > limit || h.Count > uint64(seg.Index.Slots()) || (h.Count > 0) != (h.Base > 0) ||
		h.StateOff < format.SegmentHeaderSize || h.StateOff >= h.ValidEnd {
		return false
	}
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
	st.Base, st.Count = EntrySpan(h.Base, h.Count)
	// The slots are proven by their checksum before they are used: by the
	// first lookup in the segment and, in the last one, before the first
	// write (SlotsUnchecked), so that opening a log reads no slots.
	st.SlotsUnchecked = true
	return true
}

// finish loads the state of a clean log and checks that the segments hold
// every live entry.
func finish(p *Plan, segs []SegmentFile, last *SegmentPlan) (*Plan, error) {
	if p.Clean {
		seg := segs[len(p.Segments)-1]
		r, err := format.ReadRecord(seg.Data[:last.End], last.StateOff)
		if err != nil {
			return nil, format.Corruptf(seg.Path, last.StateOff, 0, "closing State record: %v", err)
		}
		st, err := format.State(r.Body)
		if err != nil {
			return nil, format.Corruptf(seg.Path, last.StateOff, 0, "closing State record: %v", err)
		}
		p.State, p.First = st, format.StateFirst(r.Body)
		p.Durable = max(p.Durable, last.Header.StartPos+uint64(last.End))
	}
	s := &p.State
	p.First = max(p.First, s.Purged.Index+1)
	if s.Last.Index < p.First {
		return p, nil
	}
	if ce := RuleNeverPurged(s, segs[0]); ce != nil {
		return nil, ce
	}
	span := func(i int) (uint64, uint64) { return p.Segments[i].Base, p.Segments[i].Count }
	if ce := RuleCoverage(s, p.First, len(p.Segments), span, segs[len(p.Segments)-1].Path, 0); ce != nil {
		return nil, ce
	}
	return p, nil
}
