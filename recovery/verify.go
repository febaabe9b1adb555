package recovery

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logdir"
	"github.com/raftlog/raftlog/internal/vfs"
)

// Verify checks the log in dir without changing anything: every segment
// header and the chain of segments, every record's checksum, chain and
// framing, the replay of every record against the log's ordering rules,
// and every slot of every index file against the record it points to. It
// maps the files read-only.
//
// Verify takes the directory's lock (shared), like a Log does
// (exclusively): it fails with an error matching vfs.ErrLocked
// (mmaplog.ErrLocked) while a Log or Repair holds the directory, and a Log
// cannot open it while Verify runs.
//
// The error is for I/O failures and a held lock only: damage is reported
// in the VerifyReport (Status, Problems, Err).
func Verify(dir string) (*VerifyReport, error) { return VerifyWith(dir, ScanOptions{}) }

// VerifyWith is Verify with options.
func VerifyWith(dir string, opts ScanOptions) (*VerifyReport, error) {
	_, ro := opts.fileSystems()
	lk, err := lockDir(ro, dir, false)
	if err != nil {
		return nil, err
	}
	defer lk.Close()
	return verifyDir(ro, dir, opts)
}

// verifyDir is Verify through fs, without taking the lock.
func verifyDir(fs vfs.FS, dir string, opts ScanOptions) (*VerifyReport, error) {
	d, err := loadDir(fs, dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var rep *VerifyReport
	err = guardFault(func() error {
		var cerr error
		rep, cerr = d.check(opts)
		return cerr
	})
	return rep, err
}

// dirView is a log directory mapped for checking, with the names of the
// files earlier repairs set aside.
type dirView struct {
	*logdir.Dir
	broken []string // files set aside by Repair (Open ignores them)
}

func loadDir(fs vfs.FS, dir string) (*dirView, error) {
	ld, err := logdir.Load(fs, dir)
	if err != nil {
		return nil, engineError(err)
	}
	names, err := fs.ReadDir(dir)
	if err != nil {
		ld.Close()
		return nil, fmt.Errorf("recovery: read directory %s: %w", dir, err)
	}
	d := &dirView{Dir: ld}
	for _, name := range names {
		if strings.Contains(name, format.SegmentSuffix+BrokenSuffix) && !strings.HasSuffix(name, format.TempSuffix) {
			d.broken = append(d.broken, name)
		}
	}
	return d, nil
}

// checker holds one Verify pass over a dirView.
type checker struct {
	d      *dirView
	rep    *VerifyReport
	plan   *logdir.Plan // what Open decides (logdir.Dir.Plan); nil when Open would fail
	opts   ScanOptions
	walked []walkedSegment // what the walk learned about each segment of d
	// first is the lowest entry index that exists in what Open recovers
	// (or Repair keeps); 0 means Purged.Index+1.
	first uint64
	done  int64
	all   int64
}

// walkedSegment is what the walk learned about one segment.
type walkedSegment struct {
	hdr      format.SegmentHeader
	seed     uint32
	hdrOK    bool
	rebuilt  *format.SegmentHeader // the damaged header, rebuilt and proven
	resize   bool                  // the file's size is not its header's
	resizeAt int64                 // offset of that problem
	limit    int64                 // where its records must end (or may end, for the last)
	openEnd  bool                  // no valid next segment says where its records end
	sc       *logdir.Scan          // nil when not scanned or replay failed
	failed   bool                  // a problem was found in this segment
	leftover bool
}

func (d *dirView) check(opts ScanOptions) (*VerifyReport, error) {
	rep := &VerifyReport{Dir: d.Path, Quick: opts.Quick}
	for _, name := range append(append([]string{}, d.Listing.Temps...), d.Listing.Orphans...) {
		rep.Leftovers = append(rep.Leftovers, filepath.Join(d.Path, name))
	}
	res, aerr := d.Plan()
	if aerr != nil {
		var ce *format.CorruptError
		if !errors.As(aerr, &ce) {
			return nil, engineError(aerr)
		}
		rep.OpenErr, res = ce, nil
	} else {
		for _, i := range res.Remove {
			rep.Leftovers = append(rep.Leftovers, d.Segments[i].Path)
			if d.Segments[i].Index != nil {
				rep.Leftovers = append(rep.Leftovers, d.Segments[i].Index.Path())
			}
		}
		rep.State, rep.Durable = res.State, res.Durable
		if res.Torn != nil {
			t := Torn(*res.Torn)
			rep.Torn = &t
		}
	}
	c := &checker{d: d, rep: rep, plan: res, opts: opts, walked: make([]walkedSegment, len(d.Segments))}
	if res != nil {
		c.first = res.First
	}
	for _, s := range d.Segments {
		c.all += int64(len(s.Data))
	}
	if opts.Quick {
		c.quick()
	} else {
		c.walk()
	}
	c.conclude()
	return rep, nil
}

// add records the problem ce of the given kind.
func (c *checker) add(kind ProblemKind, ce *format.CorruptError) {
	c.rep.Problems = append(c.rep.Problems, Problem{Kind: kind, Err: ce})
}

func (c *checker) problem(kind ProblemKind, path string, off int64, idx uint64, f string, args ...any) {
	c.rep.Problems = append(c.rep.Problems, Problem{Kind: kind, Err: format.Corruptf(path, off, idx, f, args...)})
}

func (c *checker) progress(n int64) {
	c.done += n
	if c.opts.Progress != nil {
		c.opts.Progress(c.done, c.all)
	}
}

// quick reports what the plan established, reading nothing more.
func (c *checker) quick() {
	if c.plan == nil {
		for _, s := range c.d.Segments {
			sr := SegmentSummary{ID: s.ID, Path: s.Path, Size: int64(len(s.Data)), Index: IndexUnknown}
			if h, _, err := format.ReadSegmentHeader(s.Data); err == nil {
				sr.StartPos, sr.PrevEnd = h.StartPos, h.PrevEnd
			}
			c.rep.Segments = append(c.rep.Segments, sr)
		}
		c.progress(c.all)
		return
	}
	for i, st := range c.plan.Segments {
		s := c.d.Segments[i]
		sr := SegmentSummary{
			ID: st.ID, Path: s.Path, Size: int64(len(s.Data)), StartPos: st.Header.StartPos,
			PrevEnd: st.Header.PrevEnd, End: st.End, Scanned: st.RebuildIndex, Index: IndexTrusted,
		}
		if st.Count > 0 {
			sr.First, sr.Last = st.Base, st.Base+st.Count-1
		}
		if st.RebuildIndex {
			sr.Index = IndexRebuild
			if s.Index == nil {
				sr.Index = IndexMissing
			}
		}
		c.rep.Segments = append(c.rep.Segments, sr)
	}
	c.progress(c.all)
}
