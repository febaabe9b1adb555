package recovery

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// Status summarizes what Verify found in a log directory.
type Status int

const (
	// StatusClean: the log was closed cleanly and every check passed.
	StatusClean Status = iota
	// StatusRecoverable: the log was not closed cleanly (a crash or a
	// kill). Every check passed; Open rescans the last segment and
	// rebuilds stale indexes, losing nothing.
	StatusRecoverable
	// StatusTorn: as StatusRecoverable, and Open will cut a torn tail:
	// bytes beyond the durable watermark that do not form valid records,
	// which were never acknowledged (see Report.Torn and the one ambiguity
	// described there).
	StatusTorn
	// StatusCorrupt: data that was proven durable is damaged, or a trusted
	// index disagrees with its segment (see Report.Problems). Repair is
	// needed.
	StatusCorrupt
)

func (s Status) String() string {
	switch s {
	case StatusClean:
		return "clean"
	case StatusRecoverable:
		return "recoverable"
	case StatusTorn:
		return "torn-tail"
	case StatusCorrupt:
		return "corrupt"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// ProblemKind says which structure a Problem is in.
type ProblemKind int

const (
	// ProblemSegment: a segment file as a whole — its header, its size,
	// its place in the chain of segments, a segment missing between two
	// others, or entries that no segment holds.
	ProblemSegment ProblemKind = iota + 1
	// ProblemRecord: a record proven durable fails its checksum, its
	// chain or its framing, has a malformed body, or breaks the log's
	// ordering rules on replay.
	ProblemRecord
	// ProblemIndex: an index file that Open trusts disagrees with its
	// segment. No data is lost: Repair rebuilds the index. Until then a
	// lookup through it fails with a CorruptError (it never returns the
	// wrong entry).
	ProblemIndex
	// ProblemVote: a file that an earlier Repair set aside (*.broken)
	// holds a newer vote than the log: the repair did not finish writing
	// it back. Repair does.
	ProblemVote
)

func (k ProblemKind) String() string {
	switch k {
	case ProblemSegment:
		return "segment"
	case ProblemRecord:
		return "record"
	case ProblemIndex:
		return "index"
	case ProblemVote:
		return "vote"
	}
	return fmt.Sprintf("ProblemKind(%d)", int(k))
}

// Problem is one defect found by Verify. Err names the file, the byte
// offset in it and, when known, the log index involved.
type Problem struct {
	Kind ProblemKind
	Err  *format.CorruptError
}

func (p Problem) String() string { return p.Kind.String() + ": " + p.Err.Error() }

// IndexStatus says what Open does with a segment's index file.
type IndexStatus int

const (
	// IndexTrusted: sealed complete and consistent; Open uses it as is.
	IndexTrusted IndexStatus = iota
	// IndexRebuild: missing, damaged, not sealed (the log was not closed)
	// or inconsistent; Open rebuilds it from the segment.
	IndexRebuild
	// IndexMissing: there is no index file; Open creates it.
	IndexMissing
	// IndexWrong: trusted by Open but a slot or its header disagrees with
	// the segment (a Problem of kind ProblemIndex).
	IndexWrong
	// IndexUnknown: not checked (the segment is damaged or not reached).
	IndexUnknown
)

func (s IndexStatus) String() string {
	switch s {
	case IndexTrusted:
		return "trusted"
	case IndexRebuild:
		return "rebuilt on open"
	case IndexMissing:
		return "missing, rebuilt on open"
	case IndexWrong:
		return "WRONG"
	case IndexUnknown:
		return "not checked"
	}
	return fmt.Sprintf("IndexStatus(%d)", int(s))
}

// SegmentReport describes one segment file.
type SegmentReport struct {
	ID       uint64
	Path     string
	Size     int64  // file size in bytes
	StartPos uint64 // global position of byte 0 (from the header)
	PrevEnd  uint64 // end of the previous segment's records (from the header)
	End      int64  // offset after the last valid record checked
	Records  int    // records checked (0 when not scanned)
	First    uint64 // first entry index this segment holds, 0 when none
	Last     uint64 // last entry index this segment holds, 0 when none
	Index    IndexStatus
	Scanned  bool // the records were read (Verify, or Open's rescan)
}

// Lost describes what lies beyond a cut: the entries found there and the
// range of their indexes. The range is a bound read from every record
// that still checks out beyond the cut; it may include records left behind
// by an earlier torn-tail cut, which were never part of the log.
type Lost struct {
	First, Last uint64 // entry indexes found beyond the cut; First > Last: none
	Entries     int    // entry records found beyond the cut
	Records     int    // records of any type found beyond the cut
	Bytes       int64  // bytes cut (written region only)
	// NewestVote is the highest vote found in any record beyond the cut.
	NewestVote raftstate.Vote
}

// Empty reports whether no entry was found beyond the cut.
func (l Lost) Empty() bool { return l.First > l.Last || l.Entries == 0 }

// Cut is where Repair cuts the log: the first problem in log order.
type Cut struct {
	Problem Problem
	Segment uint64 // ID of the segment where the cut is
	Path    string
	// Offset is the first byte cut in that segment. When the segment's
	// header or State snapshot is damaged (Offset <= 64) the whole segment
	// goes, and so does every later segment.
	Offset int64
	Whole  bool
	// Header is set when the segment's header is damaged but was rebuilt
	// exactly (see Verify): Repair writes it back and checks again.
	Header *format.SegmentHeader
	// Resize: the segment file's size is not the one its header records.
	// Repair restores it: a short file is extended with zeros (the missing
	// bytes are gone; what they held is checked again afterwards), a long
	// one is saved to <segment>.broken and shortened.
	Resize bool
	// Size is the file size the segment's header records.
	Size int64
	End  int64 // offset after the last nonzero byte of the cut segment (Resize: the file size)
	// Kept is the log's state after the cut: what Open will recover.
	Kept raftstate.State
	// Lost is what the cut removes.
	Lost Lost

	first uint64 // lowest entry index that exists in Kept (0: Purged.Index+1)
}

// Report is the outcome of Verify (or of Inspect).
type Report struct {
	Dir      string
	Status   Status
	Segments []SegmentReport
	Records  int    // records checked
	Entries  uint64 // live entries (Last.Index - Purged.Index)
	// FirstIndex and LastIndex are the live entry range; both 0 when the
	// log holds no entry.
	FirstIndex, LastIndex uint64
	// State is what Open recovers; when Open would fail, the state up to
	// the first problem (what Repair keeps, as in Cut.Kept).
	State raftstate.State
	// Durable is the global position proven durable by the log's records.
	Durable uint64
	// Torn describes the torn tail Open will cut (nil: none). When the
	// damaged bytes are the last batch that was flushed and nothing
	// durable was written after it, a torn tail and damage to acknowledged
	// data look the same; Open treats them as a torn tail.
	Torn *Torn
	// Problems lists every defect found, in log order. Empty unless
	// Status is StatusCorrupt.
	Problems []Problem
	// OpenErr is what Open returns for this directory (nil: Open works).
	OpenErr *format.CorruptError
	// Cut is where Repair cuts the log (nil: nothing to cut; index
	// problems alone are fixed by rebuilding the index).
	Cut *Cut
	// Leftovers are crash leftovers Open deletes: files of a segment that
	// was never completely created, temporary files, orphan index files.
	Leftovers []string
	// Quick: only what Open reads was checked (see ScanOptions.Quick).
	Quick bool
	// BrokenVote is the newest vote found in the files earlier repairs set
	// aside (*.broken); zero when there are none.
	BrokenVote raftstate.Vote
}

// Err returns the first problem as a *format.CorruptError
// (mmaplog.CorruptError), or nil when Status is not StatusCorrupt.
func (r *Report) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	return r.Problems[0].Err
}

// ScanOptions tunes Verify and Repair for tools.
type ScanOptions struct {
	// Quick checks only what Open reads: the segment headers, trusted
	// index headers and the records after the last trusted point. A
	// cleanly closed log is not read at all. Records, index slots and the
	// cut point of a corrupt log are not checked.
	Quick bool
	// Progress, when set, is called with the bytes checked so far and the
	// total, after each segment.
	Progress func(done, total int64)
}

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
// in the Report (Status, Problems, Err).
func Verify(dir string) (*Report, error) { return VerifyWith(dir, ScanOptions{}) }

// VerifyWith is Verify with options.
func VerifyWith(dir string, opts ScanOptions) (*Report, error) {
	lk, err := lockDir(readOnly, dir, false)
	if err != nil {
		return nil, err
	}
	defer lk.Close()
	return verifyDir(readOnly, dir, opts)
}

// verifyDir is Verify through fs, without taking the lock.
func verifyDir(fs vfs.FS, dir string, opts ScanOptions) (*Report, error) {
	d, err := loadDir(fs, dir)
	if err != nil {
		return nil, err
	}
	defer d.close()
	var rep *Report
	err = guardFault(func() error {
		var cerr error
		rep, cerr = d.check(opts)
		return cerr
	})
	return rep, err
}

// dirView is a log directory mapped for checking.
type dirView struct {
	fs     vfs.FS
	dir    string
	list   dirList
	broken []string // files set aside by Repair (Open ignores them)
	segs   []Segment
	files  []vfs.File
}

func loadDir(fs vfs.FS, dir string) (*dirView, error) {
	list, err := listDir(fs, dir)
	if err != nil {
		return nil, err
	}
	d := &dirView{fs: fs, dir: dir, list: list}
	names, err := fs.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if strings.Contains(name, format.SegmentSuffix+BrokenSuffix) && !strings.HasSuffix(name, format.TempSuffix) {
			d.broken = append(d.broken, name)
		}
	}
	if d.segs, d.files, err = mapSegments(fs, dir, list); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *dirView) close() {
	for i := range d.files {
		closeSeg(d.files[i], d.segs[i].Index)
	}
	d.files, d.segs = nil, nil
}

// checker holds one Verify pass over a dirView.
type checker struct {
	d    *dirView
	rep  *Report
	res  *Result // Analyze's result; nil when Open would fail
	opts ScanOptions
	segs []segCheck
	// first is the lowest entry index that exists in what Open recovers
	// (or Repair keeps); 0 means Purged.Index+1.
	first uint64
	done  int64
	all   int64
}

// segCheck is what the walk learned about one segment.
type segCheck struct {
	hdr      format.SegmentHeader
	seed     uint32
	hdrOK    bool
	rebuilt  *format.SegmentHeader // the damaged header, rebuilt and proven
	resize   bool                  // the file's size is not its header's
	resizeAt int64                 // offset of that problem
	limit    int64                 // where its records must end (or may end, for the last)
	openEnd  bool                  // no valid next segment says where its records end
	sc       *scan                 // nil when not scanned or replay failed
	failed   bool                  // a problem was found in this segment
	leftover bool
}

func (d *dirView) check(opts ScanOptions) (*Report, error) {
	rep := &Report{Dir: d.dir, Quick: opts.Quick}
	for _, name := range append(append([]string{}, d.list.temps...), d.list.orphan...) {
		rep.Leftovers = append(rep.Leftovers, filepath.Join(d.dir, name))
	}
	res, aerr := Analyze(d.segs)
	if aerr == nil {
		aerr = checkOrphans(d.fs, d.dir, d.list, res)
	}
	if aerr != nil {
		var ce *format.CorruptError
		if !errors.As(aerr, &ce) {
			return nil, aerr
		}
		rep.OpenErr, res = ce, nil
	} else {
		for _, i := range res.Remove {
			rep.Leftovers = append(rep.Leftovers, d.segs[i].Path)
			if d.segs[i].Index != nil {
				rep.Leftovers = append(rep.Leftovers, d.segs[i].Index.Path())
			}
		}
		rep.State, rep.Durable, rep.Torn = res.State, res.Durable, res.Torn
	}
	c := &checker{d: d, rep: rep, res: res, opts: opts, segs: make([]segCheck, len(d.segs))}
	if res != nil {
		c.first = res.First
	}
	for _, s := range d.segs {
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

func (c *checker) problem(kind ProblemKind, path string, off int64, idx uint64, f string, args ...any) {
	c.rep.Problems = append(c.rep.Problems, Problem{Kind: kind, Err: format.Corruptf(path, off, idx, f, args...)})
}

func (c *checker) progress(n int64) {
	c.done += n
	if c.opts.Progress != nil {
		c.opts.Progress(c.done, c.all)
	}
}

// quick reports what Analyze established, reading nothing more.
func (c *checker) quick() {
	if c.res == nil {
		for _, s := range c.d.segs {
			sr := SegmentReport{ID: s.ID, Path: s.Path, Size: int64(len(s.Data)), Index: IndexUnknown}
			if h, _, err := format.ReadSegmentHeader(s.Data); err == nil {
				sr.StartPos, sr.PrevEnd = h.StartPos, h.PrevEnd
			}
			c.rep.Segments = append(c.rep.Segments, sr)
		}
		c.progress(c.all)
		return
	}
	for i, st := range c.res.Segments {
		s := c.d.segs[i]
		sr := SegmentReport{
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

// walk reads every record of every segment in log order. When Analyze
// succeeded it checks the segments Open keeps, up to where Open appends;
// otherwise it checks every segment as far as it can, to find every
// problem and the first one.
func (c *checker) walk() {
	segs := c.d.segs
	n := len(segs)
	if c.res != nil {
		n = len(c.res.Segments)
	}
	hdrs := make([]format.SegmentHeader, 0, n)
	for i := range n {
		c.header(i, hdrs)
		if c.segs[i].hdrOK {
			hdrs = append(hdrs, c.segs[i].hdr)
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
	if c.res == nil {
		c.coverage(n)
	}
}

// header checks segment i's header and its place in the chain.
func (c *checker) header(i int, prevHdrs []format.SegmentHeader) {
	segs, w := c.d.segs, &c.segs[i]
	seg := segs[i]
	if i > 0 && seg.ID != segs[i-1].ID+1 {
		c.problem(ProblemSegment, seg.Path, 0, 0, "segment %d missing between %d and %d", segs[i-1].ID+1, segs[i-1].ID, seg.ID)
		w.failed = true
	}
	h, seed, err := format.ReadSegmentHeader(seg.Data)
	if err == nil && h.ID != seg.ID {
		err = fmt.Errorf("segment header names segment %d; the file is segment %d", h.ID, seg.ID)
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
		if c.res == nil && i == len(segs)-1 && len(prevHdrs) == i && creationCrash(seg, prevHdrs) {
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
	if i > 0 && c.segs[i-1].hdrOK {
		p := c.segs[i-1].hdr
		if h.StartPos != p.StartPos+p.FileSize {
			c.problem(ProblemSegment, seg.Path, 24, 0, "start position %d does not follow segment %d (%d + %d)", h.StartPos, segs[i-1].ID, p.StartPos, p.FileSize)
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
	segs := c.d.segs
	seg := segs[i]
	uid, err := logIdentity(segs)
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
	case i > 0 && c.segs[i-1].hdrOK && segs[i-1].ID+1 == seg.ID:
		p, ps := c.segs[i-1].hdr, segs[i-1]
		sc, err := scanSegment(ps.Path, ps.Data, c.segs[i-1].seed, int64(len(ps.Data)), false)
		if err != nil {
			return h, 0, false
		}
		h.StartPos, h.PrevEnd, h.PrevCRC = p.StartPos+p.FileSize, uint64(sc.end), sc.prev
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
	segs, w := c.d.segs, &c.segs[i]
	w.limit = int64(len(segs[i].Data))
	if c.res != nil && i == n-1 {
		w.limit = c.res.Segments[i].End
		return
	}
	w.openEnd = i+1 >= len(segs) || !c.segs[i+1].hdrOK || segs[i+1].ID != segs[i].ID+1
	if !w.openEnd {
		pe := int64(c.segs[i+1].hdr.PrevEnd)
		if pe < format.SegmentHeaderSize || pe > w.limit || pe%format.Align != 0 {
			c.problem(ProblemSegment, segs[i+1].Path, 32, 0, "previous segment end %d outside %s (%d bytes)", pe, segs[i].Path, w.limit)
			c.segs[i+1].failed, w.openEnd = true, true
			return
		}
		w.limit = pe
	}
}

// scanOne reads segment i's records and checks its index.
func (c *checker) scanOne(i, n int) {
	seg, w := c.d.segs[i], &c.segs[i]
	sr := SegmentReport{ID: seg.ID, Path: seg.Path, Size: int64(len(seg.Data)), Index: IndexUnknown}
	defer func() { c.rep.Segments = append(c.rep.Segments, sr) }()
	if !w.hdrOK {
		return
	}
	sr.StartPos, sr.PrevEnd, sr.Scanned = w.hdr.StartPos, w.hdr.PrevEnd, true
	sc, err := scanSegment(seg.Path, seg.Data, w.seed, w.limit, true)
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
	sr.End, sr.Records = sc.end, countRecords(seg.Data, sc.end)
	c.rep.Records += sr.Records
	if sc.count > 0 {
		sr.First, sr.Last = sc.base, sc.base+sc.count-1
	}
	last := i == n-1
	switch {
	case !sc.hasState:
		if c.res == nil && last {
			break // Analyze decides about the last segment; its error is added later
		}
		c.problem(ProblemRecord, seg.Path, format.SegmentHeaderSize, 0, "no valid State snapshot: %v", sc.stop)
		w.failed = true
	case sc.end < w.limit && (c.res != nil || (!last && !w.openEnd)):
		why := "bytes"
		if sc.stop != nil {
			why = sc.stop.Error()
		}
		c.problem(ProblemRecord, seg.Path, sc.end, sc.state.Last.Index+1, "invalid record (%s) where the records must go on to offset %d", why, w.limit)
		w.failed = true
	case sc.end < w.limit && c.res == nil:
		// Where the records must end is not known (the last segment, or
		// the next header is damaged). The stop is damage when valid
		// records follow it in this segment (so it is not the end) and
		// something written later vouches that the log was durable past it.
		pos := w.hdr.StartPos + uint64(sc.end)
		ev := resync(seg.Data, sc.end+format.Align, int64(len(seg.Data)), w.hdr.StartPos)
		if d := c.vouchedAfter(i, sc.end); ev.records > 0 && d > pos {
			c.problem(ProblemRecord, seg.Path, sc.end, sc.state.Last.Index+1,
				"invalid record (%v) before the durable watermark: records written later vouch that the log was durable to position %d, this is position %d", sc.stop, d, pos)
			w.failed = true
		}
	}
	if i > 0 && sc.hasState {
		c.snapshotMatches(i)
	}
	sr.Index = c.checkIndex(i, n)
}

// vouchedAfter returns the largest durable position that anything after
// offset end of segment i vouches for: valid records (tried at every
// aligned offset) and complete index headers of the later segments.
func (c *checker) vouchedAfter(i int, end int64) uint64 {
	segs := c.d.segs
	var d uint64
	for j := i; j < len(segs); j++ {
		start, from := unknownPos, int64(format.SegmentHeaderSize)
		if c.segs[j].hdrOK {
			start = c.segs[j].hdr.StartPos
			if j > i {
				d = max(d, indexEvidence(segs[j]))
			}
		}
		if j == i {
			from = end + format.Align
		}
		d = max(d, resync(segs[j].Data, from, int64(len(segs[j].Data)), start).durable)
	}
	return d
}

// snapshotMatches checks that segment i's State snapshot is the state its
// predecessor's records replay to (the writer snapshots its live state
// when it rotates).
func (c *checker) snapshotMatches(i int) {
	p := c.segs[i-1]
	if p.sc == nil || p.failed || p.sc.end != p.limit {
		return
	}
	seg := c.d.segs[i]
	r, err := format.ReadRecord(seg.Data, format.SegmentHeaderSize)
	if err != nil {
		return
	}
	st, err := format.State(r.Body)
	if err != nil {
		return
	}
	if !st.Equal(p.sc.state) {
		c.problem(ProblemRecord, seg.Path, format.SegmentHeaderSize, 0,
			"State snapshot {%s} disagrees with the records of segment %d, which replay to {%s}",
			DescribeState(&st), c.d.segs[i-1].ID, DescribeState(&p.sc.state))
		c.segs[i].failed = true
	}
}

// checkIndex compares segment i's index file with its scan. Only an index
// that Open trusts can be a problem; any other is rebuilt on open.
func (c *checker) checkIndex(i, n int) IndexStatus {
	seg, w := c.d.segs[i], &c.segs[i]
	trusted := c.res != nil && !c.res.Segments[i].RebuildIndex
	if seg.Index == nil {
		return IndexMissing
	}
	if w.failed {
		return IndexUnknown
	}
	if !trusted {
		if c.res == nil {
			return IndexUnknown
		}
		return IndexRebuild
	}
	sc := w.sc
	h, err := seg.Index.Header()
	if err != nil {
		return IndexRebuild // unreachable: Analyze trusted it
	}
	x := seg.Index
	bad := func(off int64, idx uint64, f string, args ...any) IndexStatus {
		c.problem(ProblemIndex, x.Path(), off, idx, f, args...)
		return IndexWrong
	}
	base, _ := span(sc.base, sc.count)
	hbase, _ := span(h.Base, h.Count)
	switch {
	case h.ValidEnd != sc.end:
		return bad(32, 0, "index header says the records end at %d; they end at %d", h.ValidEnd, sc.end)
	case h.Count != sc.count || hbase != base:
		return bad(16, 0, "index header says entries %d+%d; the segment holds %d+%d", hbase, h.Count, base, sc.count)
	case h.StateOff != sc.stateOff:
		return bad(40, 0, "index header says the last State record is at %d; it is at %d", h.StateOff, sc.stateOff)
	}
	for k := range int(sc.count) {
		want := int64(sc.slots[k]) * format.Align
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
		if c.segs[i].failed || c.segs[i].sc == nil || c.segs[i].leftover {
			return
		}
	}
	if n == 0 || c.segs[n-1].leftover {
		return
	}
	last := c.segs[n-1].sc
	st := last.state
	want := max(last.first, st.Purged.Index+1)
	if st.Last.Index < want {
		return
	}
	if st.Purged.IsZero() && c.d.segs[0].ID != 1 {
		// Only a purge deletes segments.
		c.problem(ProblemSegment, c.d.segs[0].Path, 0, 0, "segments 1..%d missing in a log that was never purged", c.d.segs[0].ID-1)
		c.segs[0].failed = true
		return
	}
	runs := BuildRuns(n, func(i int) (uint64, uint64) { return c.segs[i].sc.base, c.segs[i].sc.count })
	for k, r := range runs {
		sc := c.segs[r.Seg].sc
		end := sc.base + sc.count
		if k+1 < len(runs) {
			end = min(end, runs[k+1].First)
		}
		if r.First > want {
			break
		}
		want = max(want, end)
		if want > st.Last.Index {
			return
		}
	}
	// The state says entries exist that no segment holds: the first
	// segment's snapshot already refers to them, so no prefix of the log
	// is whole.
	c.problem(ProblemSegment, c.d.segs[0].Path, format.SegmentHeaderSize, want,
		"entries %d..%d are in no segment (state: purged %v, last %v)", want, st.Last.Index, st.Purged, st.Last)
	c.segs[0].failed = true
}

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
	case c.res != nil && c.res.Clean && !c.rebuilds():
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
func (c *checker) rebuilds() bool {
	for _, st := range c.res.Segments {
		if st.RebuildIndex {
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
		path := filepath.Join(c.d.dir, name)
		var l Lost
		if err := readBroken(c.d.fs, path, &l); err != nil {
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
	start := unknownPos
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
	for i, s := range c.d.segs {
		if s.Path == path || (s.Index != nil && s.Index.Path() == path) {
			if p.Kind == ProblemIndex || p.Kind == ProblemVote {
				return i, 1 << 62 // they sort after the segment's records
			}
			return i, p.Err.Offset
		}
	}
	return len(c.d.segs), p.Err.Offset
}

func (c *checker) sortProblems() {
	slices.SortStableFunc(c.rep.Problems, func(a, b Problem) int {
		sa, oa := c.position(a)
		sb, ob := c.position(b)
		return cmp.Or(cmp.Compare(sa, sb), cmp.Compare(oa, ob))
	})
}

// planCut sets Report.Cut at the first problem that is not an index
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
	if i >= len(c.d.segs) {
		i, off = len(c.d.segs)-1, 0
	}
	seg, w := c.d.segs[i], &c.segs[i]
	cut := &Cut{Problem: *first, Segment: seg.ID, Path: seg.Path, Offset: off}
	rep.Cut = cut
	if w.resize && first.Kind == ProblemSegment && off == w.resizeAt {
		cut.Resize, cut.End, cut.Size = true, int64(len(seg.Data)), int64(w.hdr.FileSize)
		cut.Kept = rep.State
		if w.sc != nil {
			cut.Kept, cut.first = w.sc.state, w.sc.first
		}
		return
	}
	if w.rebuilt != nil && first.Kind == ProblemSegment && off == 0 {
		cut.Header, cut.End = w.rebuilt, lastNonzero(seg.Data, 0)
		if w.sc != nil {
			cut.Kept, cut.first = w.sc.state, w.sc.first
		}
		return
	}
	if off <= format.SegmentHeaderSize || !w.hdrOK {
		cut.Whole, cut.Offset = true, 0
	}
	cut.End = lastNonzero(seg.Data, cut.Offset)
	// The state that survives: replay up to the cut.
	if !cut.Whole {
		if sc, err := scanSegment(seg.Path, seg.Data, w.seed, off, false); err == nil && sc.hasState && sc.end == off {
			cut.Kept, cut.first = sc.state, sc.first
		} else {
			cut.Whole, cut.Offset = true, 0
		}
	}
	if cut.Whole {
		cut.Kept, cut.first = raftstate.State{}, 0
		if i > 0 && c.segs[i-1].sc != nil {
			cut.Kept, cut.first = c.segs[i-1].sc.state, c.segs[i-1].sc.first
		}
	}
	// What lies beyond: every record that still checks out.
	lost := &cut.Lost
	lost.First = ^uint64(0)
	for j := i; j < len(c.d.segs); j++ {
		s := c.d.segs[j]
		from := int64(format.SegmentHeaderSize)
		if j == i && !cut.Whole {
			from = cut.Offset
		}
		end := lastNonzero(s.Data, from)
		if j == i {
			end = cut.End
		}
		start := unknownPos
		if c.segs[j].hdrOK {
			start = c.segs[j].hdr.StartPos
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
	if c.res == nil {
		// Open fails: report what Repair keeps.
		rep.State, c.first = cut.Kept, cut.first
	}
}

// salvage reads every record that checks out at an aligned offset in
// data[from:limit] and adds what it finds to l.
func salvage(data []byte, from, limit int64, startPos uint64, l *Lost) {
	limit = min(limit, int64(len(data)))
	for off := format.AlignUp(from); off+format.FrameSize <= limit; off += format.Align {
		if !format.Type(data[off]).Valid() {
			continue
		}
		r, err := format.ReadRecord(data[:limit], off)
		if err != nil || (startPos != unknownPos && r.Durable > startPos+uint64(off)) {
			continue
		}
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
		off += r.Size - format.Align
	}
}

// newerVote reports whether v is ahead of cur: a move the log's rules
// allow that changes it.
func newerVote(cur, v raftstate.Vote) bool {
	return v != cur && raftstate.CheckVote(cur, v) == nil
}

// lastNonzero returns the offset after the last nonzero byte of data at
// or after from, rounded up to a word (from when there is none).
func lastNonzero(data []byte, from int64) int64 {
	const chunk = 4096
	end := int64(len(data))
	for end-from >= chunk && format.IsZero(data[end-chunk:end]) {
		end -= chunk
	}
	for end > from {
		k := max(from, (end-1)&^(format.Align-1))
		if !format.IsZero(data[k:end]) {
			return min(format.AlignUp(end), int64(len(data)))
		}
		end = k
	}
	return from
}

// countRecords counts the records of data from the header to end, which
// a scan has already checked.
func countRecords(data []byte, end int64) int {
	n := 0
	for off := int64(format.SegmentHeaderSize); off+format.FrameSize <= end; n++ {
		off += format.RecordSize(int(le.Uint32(data[off+4:])))
	}
	return n
}
