package recovery

import (
	"cmp"
	"path/filepath"
	"slices"
	"strings"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logdir"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// conclude merges Open's verdict with the walk's problems, sorts them in
// log order, sets the status and plans the cut.
func (c *checker) conclude() {
	rep := c.rep
	if ce := rep.OpenErr; ce != nil && !c.opts.Quick {
		dup := false
		for _, p := range rep.Problems {
			if p.Err.Reason == ce.Reason || (p.Err.Path == ce.Path && (p.Err.Offset == ce.Offset || (ce.Offset < format.SegmentHeaderSize && p.Kind == ProblemSegment))) {
				dup = true
			}
		}
		if !dup {
			kind := ProblemRecord
			switch {
			case strings.HasSuffix(ce.Path, format.IndexSuffix):
				kind = ProblemIndex // a misplaced or foreign index: rebuilt
			case ce.Offset < format.SegmentHeaderSize:
				kind = ProblemSegment
			}
			rep.Problems = append(rep.Problems, Problem{Kind: kind, Err: ce})
		}
	} else if ce != nil {
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemRecord, Err: ce})
	}
	c.sortProblems()
	switch {
	case len(rep.Problems) > 0:
		rep.Status = StatusCorrupt
	case rep.Torn != nil:
		rep.Status = StatusTorn
	case c.plan != nil && c.plan.Clean && !c.rebuilds():
		rep.Status = StatusClean
	default:
		rep.Status = StatusRecoverable
	}
	if !c.opts.Quick {
		c.planCut()
		c.brokenVote()
	}
	s := &rep.State
	if first := max(c.first, s.Purged.Index+1); s.Last.Index >= first {
		rep.FirstIndex, rep.LastIndex = first, s.Last.Index
		rep.Entries = rep.LastIndex - rep.FirstIndex + 1
	}
}

// rebuilds reports whether Open rebuilds an index.
// rebuilds reports whether Open, or the first lookup in a sealed
// segment, rebuilds an index.
func (c *checker) rebuilds() bool {
	for _, st := range c.plan.Segments {
		if st.RebuildIndex {
			return true
		}
	}
	for _, sr := range c.rep.Segments {
		if sr.Index == IndexRebuild {
			return true
		}
	}
	return false
}

// brokenVote looks for votes in the files earlier repairs set aside: a
// vote newer than the log's (when Repair did not get to write it back) is
// a problem, since a node must never forget a vote it cast.
func (c *checker) brokenVote() {
	rep := c.rep
	for _, name := range c.d.broken {
		path := filepath.Join(c.d.Path, name)
		var l Lost
		if err := readBroken(c.d.FS, path, &l); err != nil {
			continue // unreadable: it is not part of the log
		}
		if newerVote(rep.BrokenVote, l.NewestVote) {
			rep.BrokenVote = l.NewestVote
		}
		cur := rep.State.Vote // with a cut planned, what Repair keeps
		if rep.Cut != nil && newerVote(cur, rep.Cut.Lost.NewestVote) {
			cur = rep.Cut.Lost.NewestVote // Repair writes that one back anyway
		}
		if newerVote(cur, l.NewestVote) {
			c.problem(ProblemVote, path, 0, 0, "vote %v set aside by an earlier repair is newer than the log's vote %v", l.NewestVote, cur)
			if rep.Status != StatusCorrupt {
				rep.Status = StatusCorrupt
			}
		}
	}
}

// readBroken salvages the records of a file set aside by Repair.
func readBroken(fs vfs.FS, path string, l *Lost) error {
	f, err := fs.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	data, err := f.Map()
	if err != nil {
		return err
	}
	start := format.UnknownPos
	if h, _, err := format.ReadSegmentHeader(data); err == nil {
		start = h.StartPos
	}
	return guardFault(func() error {
		salvage(data, format.SegmentHeaderSize, int64(len(data)), start, l)
		return nil
	})
}

// position orders problems in the log: by segment, then offset.
func (c *checker) position(p Problem) (int, int64) {
	path := p.Err.Path
	for i, s := range c.d.Segments {
		if s.Path == path || (s.Index != nil && s.Index.Path() == path) {
			if p.Kind == ProblemIndex || p.Kind == ProblemVote {
				return i, 1 << 62 // they sort after the segment's records
			}
			return i, p.Err.Offset
		}
	}
	return len(c.d.Segments), p.Err.Offset
}

func (c *checker) sortProblems() {
	slices.SortStableFunc(c.rep.Problems, func(a, b Problem) int {
		sa, oa := c.position(a)
		sb, ob := c.position(b)
		return cmp.Or(cmp.Compare(sa, sb), cmp.Compare(oa, ob))
	})
}

// planCut sets VerifyReport.Cut at the first problem that is not an index
// problem, with the state that survives it and what lies beyond.
func (c *checker) planCut() {
	rep := c.rep
	var first *Problem
	for k := range rep.Problems {
		if kind := rep.Problems[k].Kind; kind != ProblemIndex && kind != ProblemVote {
			first = &rep.Problems[k]
			break
		}
	}
	if first == nil {
		return
	}
	i, off := c.position(*first)
	if i >= len(c.d.Segments) {
		i, off = len(c.d.Segments)-1, 0
	}
	seg, w := c.d.Segments[i], &c.walked[i]
	cut := &Cut{Problem: *first, Segment: seg.ID, Path: seg.Path, Offset: off}
	rep.Cut = cut
	if w.resize && first.Kind == ProblemSegment && off == w.resizeAt {
		cut.Resize, cut.End, cut.Size = true, int64(len(seg.Data)), int64(w.hdr.FileSize)
		cut.Kept = rep.State
		if w.sc != nil {
			cut.Kept, cut.first = w.sc.State, w.sc.First
		}
		return
	}
	if w.rebuilt != nil && first.Kind == ProblemSegment && off == 0 {
		cut.header, cut.End = w.rebuilt, logdir.LastNonzero(seg.Data, 0)
		cut.HeaderRebuilt = true
		if w.sc != nil {
			cut.Kept, cut.first = w.sc.State, w.sc.First
		}
		return
	}
	if off <= format.SegmentHeaderSize || !w.hdrOK {
		cut.Whole, cut.Offset = true, 0
	}
	cut.End = logdir.LastNonzero(seg.Data, cut.Offset)
	// The state that survives: replay up to the cut.
	if !cut.Whole {
		if sc, err := logdir.ScanSegment(seg.Path, seg.Data, w.seed, off, false); err == nil && sc.HasState && sc.End == off {
			cut.Kept, cut.first = sc.State, sc.First
		} else {
			cut.Whole, cut.Offset = true, 0
		}
	}
	if cut.Whole {
		cut.Kept, cut.first = raftstate.State{}, 0
		if i > 0 && c.walked[i-1].sc != nil {
			cut.Kept, cut.first = c.walked[i-1].sc.State, c.walked[i-1].sc.First
		}
	}
	// What lies beyond: every record that still checks out.
	lost := &cut.Lost
	lost.First = ^uint64(0)
	for j := i; j < len(c.d.Segments); j++ {
		s := c.d.Segments[j]
		from := int64(format.SegmentHeaderSize)
		if j == i && !cut.Whole {
			from = cut.Offset
		}
		end := logdir.LastNonzero(s.Data, from)
		if j == i {
			end = cut.End
		}
		start := format.UnknownPos
		if c.walked[j].hdrOK {
			start = c.walked[j].hdr.StartPos
		}
		lost.Bytes += max(0, end-from)
		// Records may end in zero bytes: read them to the end of the file.
		salvage(s.Data, from, int64(len(s.Data)), start, lost)
	}
	if lost.First == ^uint64(0) {
		lost.First, lost.Last = cut.Kept.Last.Index+1, cut.Kept.Last.Index
	} else if lost.Last > cut.Kept.Last.Index {
		// The entries between the kept ones and those found were in the
		// damaged bytes.
		lost.First = min(lost.First, cut.Kept.Last.Index+1)
	}
	if c.plan == nil {
		// Open fails: report what Repair keeps.
		rep.State, c.first = cut.Kept, cut.first
	}
}

// salvage reads every record that checks out at an aligned offset in
// data[from:limit] and adds what it finds to l.
func salvage(data []byte, from, limit int64, startPos uint64, l *Lost) {
	format.Resync(data, from, limit, startPos, func(_ int64, r format.Record) {
		l.Records++
		switch r.Type {
		case format.TypeEntry:
			if id, err := format.EntryID(r.Body); err == nil {
				l.Entries++
				l.First, l.Last = min(l.First, id.Index), max(l.Last, id.Index)
			}
		case format.TypeVote:
			if v, err := format.Vote(r.Body); err == nil && newerVote(l.NewestVote, v) {
				l.NewestVote = v
			}
		case format.TypeState:
			if st, err := format.State(r.Body); err == nil && newerVote(l.NewestVote, st.Vote) {
				l.NewestVote = st.Vote
			}
		}
	})
}

// newerVote reports whether v is ahead of cur: a move the log's rules
// allow that changes it.
func newerVote(cur, v raftstate.Vote) bool {
	return v != cur && raftstate.CheckVote(cur, v) == nil
}
