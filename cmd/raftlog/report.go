package main

import (
	"fmt"
	"path/filepath"

	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// summary prints the log's state.
func (c *cli) summary(rep *recovery.VerifyReport) {
	w := c.out
	fmt.Fprintf(w, "log       %s\n", rep.Dir)
	fmt.Fprintf(w, "status    %s (%s)\n", rep.Status, statusText(rep))
	if rep.Entries > 0 {
		fmt.Fprintf(w, "entries   %d..%d (%d)\n", rep.FirstIndex, rep.LastIndex, rep.Entries)
	} else {
		fmt.Fprintf(w, "entries   none\n")
	}
	st := rep.State
	label := "state    "
	if rep.Status == recovery.StatusCorrupt && rep.Cut != nil {
		label = "kept     " // what survives the repair
	}
	if rep.Status != recovery.StatusCorrupt || rep.Cut != nil {
		fmt.Fprintf(w, "%s last %v, committed %v, purged %v, vote %v, user data %s\n",
			label, st.Last, st.Committed, st.Purged, st.Vote, userData(st.UserData))
	}
	if t := rep.Torn; t != nil {
		fmt.Fprintf(w, "torn tail %s offset %d (entry %d on): %v; %d bytes, %d checksum-valid records (%d entries) after it were never vouched for by later durable data; Open cuts them\n",
			base(t.Path), t.Offset, st.Last.Index+1, t.Reason, t.Bytes, t.Records, t.Entries)
	}
	for _, f := range rep.Leftovers {
		fmt.Fprintf(w, "leftover  %s (from a crash; Open deletes it)\n", base(f))
	}
}

func statusText(rep *recovery.VerifyReport) string {
	switch rep.Status {
	case recovery.StatusClean:
		return "closed cleanly"
	case recovery.StatusRecoverable:
		return "not closed cleanly; Open rescans and rebuilds indexes, nothing is lost"
	case recovery.StatusTorn:
		return "not closed cleanly; Open cuts a torn tail that was never acknowledged"
	}
	if rep.OpenErr != nil {
		return "damaged; Open fails"
	}
	return "damaged; Open works but reads or later opens can fail"
}

func (c *cli) segments(rep *recovery.VerifyReport) {
	fmt.Fprintf(c.out, "segments  %d\n", len(rep.Segments))
	for _, s := range rep.Segments {
		held := "no entries"
		if s.First > 0 {
			held = fmt.Sprintf("entries %d..%d", s.First, s.Last)
		}
		recs := ""
		if s.Records > 0 {
			recs = fmt.Sprintf(", %d records", s.Records)
		}
		fmt.Fprintf(c.out, "  %s  start %d  size %d  end %d  %s%s  index %s\n",
			base(s.Path), s.StartPos, s.Size, s.End, held, recs, s.Index)
	}
}

func (c *cli) problems(rep *recovery.VerifyReport) {
	for _, p := range rep.Problems {
		fmt.Fprintf(c.out, "PROBLEM   %s\n", problemText(p))
	}
}

// problemText names the file, the offset and the entry of a problem.
func problemText(p recovery.Problem) string {
	e := p.Err
	entry := ""
	if e.Index != 0 {
		entry = fmt.Sprintf(" (entry %d)", e.Index)
	}
	return fmt.Sprintf("%s %s offset %d%s: %s", p.Kind, base(e.Path), e.Offset, entry, e.Reason)
}

// plan says what repair would do.
func (c *cli) plan(rep *recovery.VerifyReport) {
	w := c.out
	cut := rep.Cut
	if cut == nil {
		for _, p := range rep.Problems {
			if p.Kind == recovery.ProblemIndex {
				fmt.Fprintf(w, "repair    would delete %s (Open rebuilds it); no data is lost\n", base(p.Err.Path))
			}
		}
		return
	}
	switch {
	case cut.HeaderRebuilt:
		fmt.Fprintf(w, "repair    would rewrite the damaged header of %s (rebuilt exactly, proven by its first record's chain link; saving the file to %s%s), then check again; no entry is lost\n",
			base(cut.Path), base(cut.Path), recovery.BrokenSuffix)
		return
	case cut.Resize:
		fmt.Fprintf(w, "repair    would restore %s to the %d bytes its header records (it has %d), then check again\n", base(cut.Path), cut.Size, cut.End)
		return
	case cut.Whole:
		fmt.Fprintf(w, "repair    would move %s and every later segment aside (to *%s)\n", base(cut.Path), recovery.BrokenSuffix)
	default:
		fmt.Fprintf(w, "repair    would cut %s at offset %d (saving it to %s%s) and move every later segment aside\n",
			base(cut.Path), cut.Offset, base(cut.Path), recovery.BrokenSuffix)
	}
	fmt.Fprintf(w, "kept      entries up to %v; %s\n", cut.Kept.Last, lostText(cut.Lost))
	if v := cut.Lost.NewestVote; v != cut.Kept.Vote && v.Term >= cut.Kept.Vote.Term && v != (mmaplog.Vote{}) {
		fmt.Fprintf(w, "vote      %v found beyond the cut would be written back (kept state has %v)\n", v, cut.Kept.Vote)
	}
}

func lostText(l recovery.Lost) string {
	if l.Empty() {
		return fmt.Sprintf("no entry found beyond the cut (%d bytes, %d records)", l.Bytes, l.Records)
	}
	return fmt.Sprintf("LOST entries %d..%d (%d entry records found beyond the cut, %d bytes); the node must fetch them again from the cluster",
		l.First, l.Last, l.Entries, l.Bytes)
}

// done says what Repair did.
func (c *cli) done(rr *recovery.RepairReport) {
	w := c.out
	for _, cut := range rr.Cuts {
		switch {
		case cut.HeaderRebuilt:
			fmt.Fprintf(w, "rewrote   the header of %s\n", base(cut.Path))
		case cut.Resize:
			fmt.Fprintf(w, "resized   %s to %d bytes\n", base(cut.Path), cut.Size)
		case cut.Whole:
			fmt.Fprintf(w, "cut       %s and every later segment (moved aside)\n", base(cut.Path))
		default:
			fmt.Fprintf(w, "cut       %s at offset %d\n", base(cut.Path), cut.Offset)
		}
	}
	for _, b := range rr.Broken {
		fmt.Fprintf(w, "saved     %s\n", base(b))
	}
	for _, x := range rr.RemovedIndexes {
		fmt.Fprintf(w, "removed   %s (rebuilt by the next Open)\n", base(x))
	}
	for _, cut := range rr.Cuts {
		if !cut.HeaderRebuilt && !cut.Resize {
			fmt.Fprintf(w, "lost      %s\n", lostText(rr.Lost))
			break
		}
	}
	if v := rr.VoteRestored; v != nil {
		fmt.Fprintf(w, "vote      %v written back (it was beyond the cut)\n", *v)
	}
	if rr.Created != "" {
		fmt.Fprintf(w, "created   %s to hold the vote\n", base(rr.Created))
	}
}

func base(p string) string { return filepath.Base(p) }

func userData(b []byte) string {
	if b == nil {
		return "none"
	}
	return fmt.Sprintf("%d bytes", len(b))
}
