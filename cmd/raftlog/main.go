// Command raftlog inspects, checks and repairs a raftlog (mmaplog) directory.
//
//	raftlog stat   DIR                        what Open would find, without reading the records
//	raftlog dump   DIR [-from N] [-to N] [-json]  the records as they are on disk
//	raftlog verify DIR                        check every record and index (read-only)
//	raftlog repair DIR [-yes]                 cut the log at the first corruption
//
// Exit status: 0 the log is sound (or was repaired), 1 corruption found or
// a repair is needed, 2 usage error, I/O error, or the directory is locked
// by another process.
//
// Every command takes the directory's lock (stat, dump and verify a shared
// one, repair an exclusive one) and fails with exit status 2 when a running
// node (or a raftlog repair) holds it. None of them changes the directory
// except repair -yes. On a terminal, scans that take more than a second
// show a progress bar on stderr.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// Exit statuses.
const (
	exitOK      = 0
	exitCorrupt = 1
	exitError   = 2
)

const usage = `usage:
  raftlog stat   DIR                            summarize the log (fast: reads what Open reads)
  raftlog dump   DIR [-from N] [-to N] [-json]  print the records as they are on disk
  raftlog verify DIR                            check every record, the segment chain and every index
  raftlog repair DIR [-yes]                     cut the log at the first corruption (-yes: do it)

exit status: 0 sound (or repaired), 1 corruption found or repair needed,
2 usage or I/O error, or DIR locked by another process
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	c := &cli{out: stdout, err: stderr}
	switch args[0] {
	case "stat":
		return c.stat(args[1:])
	case "dump":
		return c.dump(args[1:])
	case "verify":
		return c.verify(args[1:])
	case "repair":
		return c.repair(args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "raftlog: unknown command %q\n%s", args[0], usage)
	return exitError
}

type cli struct {
	out, err io.Writer
}

// parse parses flags that may come before or after the one DIR argument.
func (c *cli) parse(fs *flag.FlagSet, args []string) (string, bool) {
	fs.SetOutput(c.err)
	fs.Usage = func() { fmt.Fprint(c.err, usage) }
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintf(c.err, "raftlog %s: want exactly one directory, got %d arguments\n%s", fs.Name(), len(pos), usage)
		return "", false
	}
	return pos[0], true
}

// fail reports an error that is not corruption and returns exitError.
func (c *cli) fail(dir string, err error) int {
	if errors.Is(err, mmaplog.ErrLocked) {
		fmt.Fprintf(c.err, "raftlog: %s is locked by another process (a running node, or another raftlog repair): stop it and try again\n  (%v)\n", dir, err)
		return exitError
	}
	fmt.Fprintf(c.err, "raftlog: %v\n", err)
	return exitError
}

func (c *cli) stat(args []string) int {
	fs := flag.NewFlagSet("stat", flag.ContinueOnError)
	dir, ok := c.parse(fs, args)
	if !ok {
		return exitError
	}
	rep, err := recovery.VerifyWith(dir, recovery.ScanOptions{Quick: true})
	if err != nil {
		return c.fail(dir, err)
	}
	c.summary(rep)
	c.segments(rep)
	c.problems(rep)
	if rep.Status == recovery.StatusCorrupt {
		fmt.Fprintf(c.out, "run `raftlog verify %s` for details\n", dir)
		return exitCorrupt
	}
	return exitOK
}

func (c *cli) verify(args []string) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	dir, ok := c.parse(fs, args)
	if !ok {
		return exitError
	}
	bar := newProgress(c.err, "verifying")
	rep, err := recovery.VerifyWith(dir, recovery.ScanOptions{Progress: bar.update})
	bar.finish()
	if err != nil {
		return c.fail(dir, err)
	}
	c.summary(rep)
	c.segments(rep)
	c.problems(rep)
	if rep.Status != recovery.StatusCorrupt {
		fmt.Fprintf(c.out, "ok: %d records checked\n", rep.Records)
		return exitOK
	}
	c.plan(rep)
	fmt.Fprintf(c.out, "run `raftlog repair %s -yes` to repair it\n", dir)
	return exitCorrupt
}

func (c *cli) repair(args []string) int {
	fs := flag.NewFlagSet("repair", flag.ContinueOnError)
	yes := fs.Bool("yes", false, "repair: without it, only say what would be done")
	dir, ok := c.parse(fs, args)
	if !ok {
		return exitError
	}
	if !*yes {
		bar := newProgress(c.err, "verifying")
		rep, err := recovery.VerifyWith(dir, recovery.ScanOptions{Progress: bar.update})
		bar.finish()
		if err != nil {
			return c.fail(dir, err)
		}
		if rep.Status != recovery.StatusCorrupt {
			c.summary(rep)
			fmt.Fprintln(c.out, "nothing to repair")
			return exitOK
		}
		c.problems(rep)
		c.plan(rep)
		fmt.Fprintf(c.out, "nothing changed: run `raftlog repair %s -yes` to do this\n", dir)
		return exitCorrupt
	}
	bar := newProgress(c.err, "repairing")
	rr, err := recovery.RepairWith(dir, recovery.ScanOptions{Progress: bar.update})
	bar.finish()
	if err != nil {
		if rr != nil && rr.Changed() {
			c.done(rr)
		}
		return c.fail(dir, err)
	}
	if !rr.Changed() {
		c.summary(rr.After)
		fmt.Fprintln(c.out, "nothing to repair")
		return exitOK
	}
	c.problems(rr.Before)
	c.done(rr)
	c.summary(rr.After)
	if rr.After.Status == recovery.StatusCorrupt {
		c.problems(rr.After)
		return exitCorrupt
	}
	fmt.Fprintln(c.out, "repaired: the log opens")
	return exitOK
}

// summary prints the log's state.
func (c *cli) summary(rep *recovery.Report) {
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

func statusText(rep *recovery.Report) string {
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

func (c *cli) segments(rep *recovery.Report) {
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

func (c *cli) problems(rep *recovery.Report) {
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
func (c *cli) plan(rep *recovery.Report) {
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
	case cut.Header != nil:
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
		case cut.Header != nil:
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
		if cut.Header == nil && !cut.Resize {
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

// progress shows a bar on a terminal once a scan has run for a second.
type progress struct {
	w     io.Writer
	what  string
	on    bool
	start time.Time
	bar   *progressbar.ProgressBar
}

func newProgress(w io.Writer, what string) *progress {
	p := &progress{w: w, what: what, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		p.on = isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
	}
	return p
}

func (p *progress) update(done, total int64) {
	if !p.on || total <= 0 {
		return
	}
	if p.bar == nil {
		if time.Since(p.start) < time.Second {
			return
		}
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.what),
			progressbar.OptionShowBytes(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	_ = p.bar.Set64(done)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func (c *cli) dump(args []string) int {
	fs := flag.NewFlagSet("dump", flag.ContinueOnError)
	from := fs.Uint64("from", 0, "print only entries with index >= `N` (other records are skipped)")
	to := fs.Uint64("to", 0, "print only entries with index <= `N` (0: no limit)")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	dir, ok := c.parse(fs, args)
	if !ok {
		return exitError
	}
	filter := *from > 0 || *to > 0
	if *to > 0 && *to < *from {
		fmt.Fprintf(c.err, "raftlog dump: -to %d is below -from %d\n", *to, *from)
		return exitError
	}
	d := &dumper{w: c.out, json: *asJSON, filter: filter, from: *from, to: *to}
	if *to == 0 {
		d.to = ^uint64(0)
	}
	bar := newProgress(c.err, "reading")
	err := recovery.Walk(dir, func(it recovery.WalkItem) error {
		bar.update(it.Done, it.Total)
		return d.item(it)
	})
	bar.finish()
	if err != nil {
		return c.fail(dir, err)
	}
	return exitOK
}

// dumper formats Walk's items.
type dumper struct {
	w        io.Writer
	json     bool
	filter   bool
	from, to uint64
}

func (d *dumper) item(it recovery.WalkItem) error {
	if d.json {
		return d.jsonItem(it)
	}
	var err error
	switch {
	case it.Record == nil && it.Offset == 0:
		_, err = fmt.Fprintf(d.w, "segment %d %s: %v\n", it.Segment, base(it.Path), it.Stop)
	case it.Record == nil && !d.filter:
		if errors.Is(it.Stop, format.ErrUnwritten) {
			_, err = fmt.Fprintf(d.w, "  end at %d\n", it.Offset)
		} else {
			_, err = fmt.Fprintf(d.w, "  stop at %d: %v\n", it.Offset, it.Stop)
		}
	case it.Record == nil:
	default:
		if it.Seq == 0 && !d.filter {
			h := it.Header
			if _, err = fmt.Fprintf(d.w, "segment %d %s start=%d prevEnd=%d size=%d\n", h.ID, base(it.Path), h.StartPos, h.PrevEnd, h.FileSize); err != nil {
				return err
			}
		}
		r := it.Record
		if d.filter && !d.wanted(r) {
			return nil
		}
		if d.filter {
			_, err = fmt.Fprintf(d.w, "%s [%d, %d) %s\n", base(it.Path), it.Offset, it.Offset+r.Size, recovery.Describe(*r))
		} else {
			_, err = fmt.Fprintf(d.w, "  R-%05d [%d, %d) %s\n", it.Seq, it.Offset, it.Offset+r.Size, recovery.Describe(*r))
		}
	}
	return err
}

// wanted reports whether r is an entry in the -from/-to range.
func (d *dumper) wanted(r *format.Record) bool {
	if r.Type != format.TypeEntry {
		return false
	}
	id, err := format.EntryID(r.Body)
	return err == nil && id.Index >= d.from && id.Index <= d.to
}

func (d *dumper) jsonItem(it recovery.WalkItem) error {
	if it.Record == nil {
		if d.filter {
			return nil
		}
		return writeJSON(d.w, jsonStop{Segment: it.Segment, File: base(it.Path), Offset: it.Offset,
			End: errors.Is(it.Stop, format.ErrUnwritten), Stop: fmt.Sprint(it.Stop)})
	}
	r := it.Record
	if d.filter && !d.wanted(r) {
		return nil
	}
	return writeJSON(d.w, jsonRecordOf(it))
}
