package recovery

import (
	"errors"
	"fmt"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logdir"
)

// walk reads every record of every segment in log order. When Open
// would succeed it checks the segments Open keeps, up to where Open appends;
// otherwise it checks every segment as far as it can, to find every
// problem and the first one.
func (c *checker) walk() {
	segs := c.d.Segments
	n := len(segs)
	if c.plan != nil {
		n = len(c.plan.Segments)
	}
	hdrs := make([]format.SegmentHeader, 0, n)
	for i := range n {
		c.header(i, hdrs)
		if c.walked[i].hdrOK {
			hdrs = append(hdrs, c.walked[i].hdr)
		}
	}
	for i := range n {
		c.limit(i, n)
	}
	for i := range n {
		c.scanOne(i, n)
		c.progress(int64(len(segs[i].Data)))
	}
	c.progress(c.all - c.done)
	if c.plan == nil {
		c.coverage(n)
	}
}

// header checks segment i's header and its place in the chain.
func (c *checker) header(i int, prevHdrs []format.SegmentHeader) {
	segs, w := c.d.Segments, &c.walked[i]
	seg := segs[i]
	if i > 0 {
		if ce := logdir.RuleConsecutive(segs[i-1], seg); ce != nil {
			c.add(ProblemSegment, ce)
			w.failed = true
		}
	}
	h, seed, err := format.ReadSegmentHeader(seg.Data)
	if err == nil && h.ID != seg.ID {
		err = logdir.HeaderMismatch(h, seg)
	}
	if size := uint64(len(seg.Data)); err == nil && h.FileSize != size && h.FileSize >= format.SegmentHeaderSize {
		w.resize, w.failed, w.resizeAt = true, true, int64(min(size, h.FileSize))
		if h.FileSize > size {
			c.problem(ProblemSegment, seg.Path, w.resizeAt, 0, "file is %d bytes, %d short of the %d its header says", size, h.FileSize-size, h.FileSize)
		} else {
			c.problem(ProblemSegment, seg.Path, w.resizeAt, 0, "file is %d bytes, %d more than the %d its header says", size, size-h.FileSize, h.FileSize)
		}
	} else if err == nil && h.FileSize != size {
		err = fmt.Errorf("segment header says the file is %d bytes; it is %d", h.FileSize, size)
	}
	if err != nil {
		if c.plan == nil && i == len(segs)-1 && len(prevHdrs) == i && logdir.CreationCrash(seg, prevHdrs) {
			// Open deletes it: a crash while creating the last segment.
			w.leftover = true
			c.rep.Leftovers = append(c.rep.Leftovers, seg.Path)
			return
		}
		w.failed = true
		rh, rseed, ok := c.rebuildHeader(i)
		if !ok {
			c.problem(ProblemSegment, seg.Path, 0, 0, "%v", err)
			return
		}
		c.problem(ProblemSegment, seg.Path, 0, 0, "%v (Repair can rewrite it: its fields follow from the segments around it, and the first record's chain link proves them)", err)
		h, seed, w.rebuilt = rh, rseed, &rh
	}
	w.hdr, w.seed, w.hdrOK = h, seed, true
	if i > 0 && c.walked[i-1].hdrOK {
		if ce := logdir.RuleStart(seg, h, c.walked[i-1].hdr, segs[i-1].ID); ce != nil {
			c.add(ProblemSegment, ce)
			w.failed = true
		}
	}
}

// rebuildHeader rebuilds segment i's damaged header from what the log
// says about it: its ID (the file name), its size (the file's), its start
// and prevEnd (the previous segment's header and records; both 0 for
// segment 1). The rebuilt header is right only if its checksum is the
// chain link stored in the segment's first record, which is then checked.
func (c *checker) rebuildHeader(i int) (format.SegmentHeader, uint32, bool) {
	segs := c.d.Segments
	seg := segs[i]
	uid, err := logdir.LogIdentity(segs)
	if err != nil {
		return format.SegmentHeader{}, 0, false
	}
	if uid == 0 && seg.Index != nil {
		// No other header is readable: the index carries the identity.
		if xh, err := seg.Index.Header(); err == nil {
			uid = xh.LogUID
		}
	}
	h := format.SegmentHeader{ID: seg.ID, FileSize: uint64(len(seg.Data)), LogUID: uid}
	switch {
	case i == 0 && seg.ID == 1:
	case i > 0 && c.walked[i-1].hdrOK && segs[i-1].ID+1 == seg.ID:
		p, ps := c.walked[i-1].hdr, segs[i-1]
		sc, err := logdir.ScanSegment(ps.Path, ps.Data, c.walked[i-1].seed, int64(len(ps.Data)), false)
		if err != nil {
			return h, 0, false
		}
		h.StartPos, h.PrevEnd, h.PrevCRC = p.StartPos+p.FileSize, uint64(sc.End), sc.Prev
	default:
		return h, 0, false // the first segment of a purged log: its prevEnd is gone
	}
	b := make([]byte, format.SegmentHeaderSize)
	seed := format.PutSegmentHeader(b, h)
	r, err := format.ReadRecord(seg.Data, format.SegmentHeaderSize)
	if err != nil || r.Prev != seed {
		return h, 0, false
	}
	return h, seed, true
}

// limit sets where segment i's records must end: the next segment's
// prevEnd, or where Open appends.
func (c *checker) limit(i, n int) {
	segs, w := c.d.Segments, &c.walked[i]
	w.limit = int64(len(segs[i].Data))
	if c.plan != nil && i == n-1 {
		w.limit = c.plan.Segments[i].End
		return
	}
	w.openEnd = i+1 >= len(segs) || !c.walked[i+1].hdrOK || segs[i+1].ID != segs[i].ID+1
	if !w.openEnd {
		pe := int64(c.walked[i+1].hdr.PrevEnd)
		if ce := logdir.RulePrevEnd(segs[i+1], segs[i], pe, w.limit); ce != nil {
			c.add(ProblemSegment, ce)
			c.walked[i+1].failed, w.openEnd = true, true
			return
		}
		w.limit = pe
	}
}

// scanOne reads segment i's records and checks its index.
func (c *checker) scanOne(i, n int) {
	seg, w := c.d.Segments[i], &c.walked[i]
	sr := SegmentSummary{ID: seg.ID, Path: seg.Path, Size: int64(len(seg.Data)), Index: IndexUnknown}
	defer func() { c.rep.Segments = append(c.rep.Segments, sr) }()
	if !w.hdrOK {
		return
	}
	sr.StartPos, sr.PrevEnd, sr.Scanned = w.hdr.StartPos, w.hdr.PrevEnd, true
	sc, err := logdir.ScanSegment(seg.Path, seg.Data, w.seed, w.limit, true)
	if err != nil {
		var ce *format.CorruptError
		if !errors.As(err, &ce) {
			ce = format.Corruptf(seg.Path, 0, 0, "%v", err)
		}
		c.rep.Problems = append(c.rep.Problems, Problem{Kind: ProblemRecord, Err: ce})
		w.failed = true
		return
	}
	w.sc = sc
	sr.End, sr.Records = sc.End, sc.Records
	c.rep.Records += sr.Records
	if sc.Count > 0 {
		sr.First, sr.Last = sc.Base, sc.Base+sc.Count-1
	}
	last := i == n-1
	switch {
	case !sc.HasState:
		if c.plan == nil && last {
			break // Analyze decides about the last segment; its error is added later
		}
		c.problem(ProblemRecord, seg.Path, format.SegmentHeaderSize, 0, "no valid State snapshot: %v", sc.Stop)
		w.failed = true
	case sc.End < w.limit && (c.plan != nil || (!last && !w.openEnd)):
		c.problem(ProblemRecord, seg.Path, sc.End, sc.State.Last.Index+1, "invalid record (%s) where the records must go on to offset %d", logdir.StopReason(sc), w.limit)
		w.failed = true
	case sc.End < w.limit && c.plan == nil:
		// Where the records must end is not known (the last segment, or
		// the next header is damaged). The stop is damage when valid
		// records follow it in this segment (so it is not the end) and
		// something written later vouches that the log was durable past it.
		pos := w.hdr.StartPos + uint64(sc.End)
		ev := logdir.Resync(seg.Data, sc.End+format.Align, int64(len(seg.Data)), w.hdr.StartPos)
		if ce := logdir.RuleDurable(seg, sc.End, sc.State.Last.Index+1, pos, c.vouchedAfter(i, sc.End), logdir.StopReason(sc)); ev.Records > 0 && ce != nil {
			c.add(ProblemRecord, ce)
			w.failed = true
		}
	}
	if i > 0 && sc.HasState {
		c.snapshotMatches(i)
	}
	sr.Index = c.checkIndex(i, n)
}

// vouchedAfter returns the largest durable position that anything after
// offset end of segment i vouches for: valid records (tried at every
// aligned offset) and complete index headers of the later segments.
func (c *checker) vouchedAfter(i int, end int64) uint64 {
	segs := c.d.Segments
	var d uint64
	for j := i; j < len(segs); j++ {
		start, from := format.UnknownPos, int64(format.SegmentHeaderSize)
		if c.walked[j].hdrOK {
			start = c.walked[j].hdr.StartPos
			if j > i {
				d = max(d, logdir.IndexEvidence(segs[j]))
			}
		}
		if j == i {
			from = end + format.Align
		}
		d = max(d, logdir.Resync(segs[j].Data, from, int64(len(segs[j].Data)), start).Durable)
	}
	return d
}

// snapshotMatches checks that segment i's State snapshot is the state its
// predecessor's records replay to (the writer snapshots its live state
// when it rotates).
func (c *checker) snapshotMatches(i int) {
	p := c.walked[i-1]
	if p.sc == nil || p.failed || p.sc.End != p.limit {
		return
	}
	seg := c.d.Segments[i]
	r, err := format.ReadRecord(seg.Data, format.SegmentHeaderSize)
	if err != nil {
		return
	}
	st, err := format.State(r.Body)
	if err != nil {
		return
	}
	if !st.Equal(p.sc.State) {
		c.problem(ProblemRecord, seg.Path, format.SegmentHeaderSize, 0,
			"State snapshot {%s} disagrees with the records of segment %d, which replay to {%s}",
			DescribeState(&st), c.d.Segments[i-1].ID, DescribeState(&p.sc.State))
		c.walked[i].failed = true
	}
}

// checkIndex compares segment i's index file with its scan. Only an index
// that Open trusts can be a problem; any other is rebuilt on open.
func (c *checker) checkIndex(i, n int) IndexStatus {
	seg, w := c.d.Segments[i], &c.walked[i]
	trusted := c.plan != nil && !c.plan.Segments[i].RebuildIndex
	if seg.Index == nil {
		return IndexMissing
	}
	if w.failed {
		return IndexUnknown
	}
	if !trusted {
		if c.plan == nil {
			return IndexUnknown
		}
		return IndexRebuild
	}
	sc := w.sc
	h, err := seg.Index.Header()
	if err != nil {
		return IndexRebuild // unreachable: Analyze trusted it
	}
	if !seg.Index.SlotsProven(h) {
		// A torn or stale seal: the slots fail their checksum, so the
		// first lookup rebuilds them (in the last segment, or the first
		// write).
		return IndexRebuild
	}
	x := seg.Index
	bad := func(off int64, idx uint64, f string, args ...any) IndexStatus {
		c.problem(ProblemIndex, x.Path(), off, idx, f, args...)
		return IndexWrong
	}
	base, _ := logdir.EntrySpan(sc.Base, sc.Count)
	hbase, _ := logdir.EntrySpan(h.Base, h.Count)
	switch {
	case h.ValidEnd != sc.End:
		return bad(32, 0, "index header says the records end at %d; they end at %d", h.ValidEnd, sc.End)
	case h.Count != sc.Count || hbase != base:
		return bad(16, 0, "index header says entries %d+%d; the segment holds %d+%d", hbase, h.Count, base, sc.Count)
	case h.StateOff != sc.StateOff:
		return bad(40, 0, "index header says the last State record is at %d; it is at %d", h.StateOff, sc.StateOff)
	}
	for k := range int(sc.Count) {
		want := int64(sc.Slots[k]) * format.Align
		if got := x.Slot(k); got != want {
			return bad(index.HeaderSize+int64(k)*index.SlotSize, base+uint64(k),
				"slot %d (entry %d) points at offset %d; the entry is at %d", k, base+uint64(k), got, want)
		}
	}
	return IndexTrusted
}

// coverage checks, when Open would fail, that the segments hold every
// entry the log's state says is live (Open's last check).
func (c *checker) coverage(n int) {
	for i := range n {
		if c.walked[i].failed || c.walked[i].sc == nil || c.walked[i].leftover {
			return
		}
	}
	if n == 0 || c.walked[n-1].leftover {
		return
	}
	last := c.walked[n-1].sc
	st := last.State
	if st.Last.Index < max(last.First, st.Purged.Index+1) {
		return
	}
	if ce := logdir.RuleNeverPurged(&st, c.d.Segments[0]); ce != nil {
		c.add(ProblemSegment, ce)
		c.walked[0].failed = true
		return
	}
	// Entries the state says exist and no segment holds are reported at
	// the first segment's snapshot, which already refers to them: no
	// prefix of the log is whole.
	span := func(i int) (uint64, uint64) { return c.walked[i].sc.Base, c.walked[i].sc.Count }
	if ce := logdir.RuleCoverage(&st, last.First, n, span, c.d.Segments[0].Path, format.SegmentHeaderSize); ce != nil {
		c.add(ProblemSegment, ce)
		c.walked[0].failed = true
	}
}
