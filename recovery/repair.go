package recovery

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logdir"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// BrokenSuffix is appended to the name of a segment file whose bytes
// Repair cut off or moved aside. Open ignores such files.
const BrokenSuffix = ".broken"

// RepairReport is what Repair found and did.
type RepairReport struct {
	Before *VerifyReport // Verify's report before anything was changed
	After  *VerifyReport // Verify's report after the repair
	// Cuts are the cuts made, in order: usually one; more when a cut
	// uncovers another problem further back (each cut is earlier).
	Cuts []Cut
	// Broken lists the files written beside the segments:
	// <segment>.broken holds a segment's written bytes as they were before
	// the repair, at their original offsets (the cut bytes are those from
	// the cut's Offset on); a segment removed whole is renamed to it. A
	// second .broken of the same segment gets a numbered suffix.
	Broken []string
	// RemovedIndexes lists index files deleted so that the next Open
	// rebuilds them from their segments.
	RemovedIndexes []string
	// Resized lists segment files whose size was not the one their
	// headers record and was restored.
	Resized []string
	// Rewritten lists segment files whose damaged header was rebuilt
	// exactly and written back (no data lost).
	Rewritten []string
	// Lost is what the cuts removed (merged over every cut).
	Lost Lost
	// VoteRestored is set when a record beyond a cut held a newer vote
	// than the state that survived it: Repair wrote that vote back so that
	// the node's term never goes backwards (a Raft node must never forget
	// a vote it cast).
	VoteRestored *raftstate.Vote
	// Created names a segment Repair created to hold the restored vote:
	// when the cuts left no segment, or no room in the last one.
	Created string
}

// Changed reports whether Repair changed anything on disk.
func (r *RepairReport) Changed() bool {
	return len(r.Cuts) > 0 || len(r.RemovedIndexes) > 0 || len(r.Resized) > 0 || len(r.Rewritten) > 0 || r.VoteRestored != nil
}

// Repair makes the log in dir open again after corruption, at the price
// of the data at and after the first problem. It never runs implicitly
// (Open never repairs). It takes the directory lock (exclusively, like a
// Log), runs Verify, and when the log is corrupt:
//
//   - cuts the log at the first problem in log order: the segments after
//     the damaged one are renamed to <segment>.broken; the damaged segment
//     is saved to <segment>.broken and its bytes from the cut on are
//     zeroed (a damaged header or State snapshot takes the whole segment);
//   - writes back a damaged segment header that Verify rebuilt exactly
//     (proven by the chain link in the segment's first record);
//   - restores the size of a segment file that is not the one its header
//     records (a short one is extended with zeros);
//   - deletes index files that disagree with their segments;
//   - writes back the newest vote found beyond the cut when it is ahead of
//     the surviving state's vote;
//
// and checks again, until Verify finds no problem. Every file it changes
// is synced before the next step, and each step can be redone, so a crash
// during Repair, or a Repair that failed, is recovered by running it
// again. Afterwards Open succeeds; RepairReport.Lost says which entries
// are gone (the Raft layer must
// fetch them again from the other nodes).
//
// A log that is not corrupt (a clean log, or one whose torn tail Open
// cuts by itself) is left untouched.
func Repair(dir string) (*RepairReport, error) { return RepairWith(dir, ScanOptions{}) }

// RepairWith is Repair with options (Quick is ignored: Repair always
// reads everything).
func RepairWith(dir string, opts ScanOptions) (*RepairReport, error) {
	fs, ro := opts.fileSystems()
	return repair(fs, ro, dir, opts)
}

// repairer carries out one Repair through the file-system seam: fs for
// every change, ro for Verify's reading (the same FS under the crash
// simulator).
type repairer struct {
	fs, ro vfs.FS
	dir    string
	rr     *RepairReport
}

func repair(fs, ro vfs.FS, dir string, opts ScanOptions) (*RepairReport, error) {
	opts.Quick = false
	lk, err := lockDir(fs, dir, true)
	if err != nil {
		return nil, err
	}
	defer lk.Close()

	r := &repairer{fs: fs, ro: ro, dir: dir, rr: &RepairReport{Lost: Lost{First: ^uint64(0)}}}
	rr := r.rr
	// What an earlier Repair that failed or was killed left undone is
	// judged by what the disk holds: its namespace changes (a deleted
	// index, a renamed segment) and its writes become durable, and pages
	// whose write-back failed are read from the disk again.
	if err := r.syncDir(); err != nil {
		return rr, err
	}
	if err := r.evictSegments(); err != nil {
		return rr, err
	}
	var newest raftstate.Vote
	var prev *Problem
	for step := 0; ; step++ {
		rep, err := verifyDir(ro, dir, opts)
		if err != nil {
			return rr, err
		}
		if step == 0 {
			rr.Before = rep
		}
		rr.After = rep
		if newerVote(newest, rep.BrokenVote) {
			newest = rep.BrokenVote
		}
		if onlyVoteProblems(rep) {
			break
		}
		p := rep.Problems[0]
		if rep.Cut != nil {
			p = rep.Cut.Problem
		}
		if prev != nil && prev.Err.Path == p.Err.Path && prev.Err.Offset == p.Err.Offset && prev.Kind == p.Kind {
			return rr, fmt.Errorf("recovery: repair of %s made no progress: %w", dir, p.Err)
		}
		if step > 2*len(rep.Segments)+len(rep.Problems)+8 {
			return rr, fmt.Errorf("recovery: repair of %s does not converge: %w", dir, p.Err)
		}
		prev = &p
		if c := rep.Cut; c != nil {
			if err := cutKeepsStart(rep, c); err != nil {
				return rr, err
			}
			if newerVote(newest, c.Lost.NewestVote) {
				newest = c.Lost.NewestVote
			}
			if err := r.applyCut(c); err != nil {
				return rr, err
			}
			rr.Cuts = append(rr.Cuts, *c)
			if !c.Resize && !c.HeaderRebuilt {
				rr.Lost.merge(c.Lost)
			}
			continue
		}
		for _, p := range rep.Problems {
			if p.Kind == ProblemIndex {
				if err := r.removeIndex(p.Err.Path); err != nil {
					return rr, err
				}
			}
		}
		if err := r.syncDir(); err != nil {
			return rr, err
		}
	}
	if rr.Lost.First == ^uint64(0) {
		rr.Lost.First = 0
	}
	if newerVote(rr.After.State.Vote, newest) && onlyVoteProblems(rr.After) {
		if err := r.restoreVote(newest); err != nil {
			return rr, err
		}
		rep, err := verifyDir(ro, dir, opts)
		if err != nil {
			return rr, err
		}
		rr.After = rep
	}
	return rr, nil
}

// ErrPurgeBeyondCut: Repair refuses a cut that would drop the Purge record
// which deleted the log's first segments. The records kept before the cut
// would then describe a log that starts past what they say was purged,
// which recovery rejects, so the next step would cut the whole log: the
// live entries before the damage would go too. Nothing is changed by the
// step refused; restore the node from another replica (or, by hand, move
// the segments from the damaged one on aside).
var ErrPurgeBeyondCut = errors.New("recovery: the cut would drop the purge that deleted the log's first segments")

// cutKeepsStart checks that the log c keeps still accounts for its first
// segment: a log never purged starts at segment 1, and a purged one's
// first segment holds the entry after the purge point.
func cutKeepsStart(rep *VerifyReport, c *Cut) error {
	if len(rep.Segments) == 0 || c.Whole && c.Segment == rep.Segments[0].ID {
		return nil // nothing before the cut is kept
	}
	first := rep.Segments[0]
	kept := c.Kept
	if kept.Purged.IsZero() && first.ID != 1 ||
		!kept.Purged.IsZero() && first.First > kept.Purged.Index+1 {
		return fmt.Errorf("%w: %s: the log starts at this segment, %d %d (entry %d) but what survives the cut at %s+%d says purged %v; nothing changed by this step",
			ErrPurgeBeyondCut, first.Path, first.ID, first.First, c.Path, c.Offset, kept.Purged)
	}
	return nil
}

// onlyVoteProblems reports whether rep has no problem but a vote to write
// back.
func onlyVoteProblems(rep *VerifyReport) bool {
	for _, p := range rep.Problems {
		if p.Kind != ProblemVote {
			return false
		}
	}
	return true
}

func (l *Lost) merge(o Lost) {
	if !o.Empty() {
		l.First, l.Last = min(l.First, o.First), max(l.Last, o.Last)
	}
	l.Entries += o.Entries
	l.Records += o.Records
	l.Bytes += o.Bytes
	if newerVote(l.NewestVote, o.NewestVote) {
		l.NewestVote = o.NewestVote
	}
}

// applyCut carries out one cut. The bytes it cuts from a segment are
// saved first, while the later segments still vouch for them (so that a
// failure or a crash from here on leaves a log that Repair cuts at the
// same place, and that vote salvage reads); then the later segments go,
// highest ID first, each rename durable before the next (so that no crash
// leaves a gap in the IDs, even on a file system that reorders renames:
// a gap at the front would open as the start of a purged log); then the
// cut segment's index and its bytes from the cut on.
func (r *repairer) applyCut(c *Cut) error {
	if c.HeaderRebuilt {
		if err := r.rewriteHeader(c.Path, *c.header, c.End); err != nil {
			return err
		}
		r.rr.Rewritten = append(r.rr.Rewritten, c.Path)
		return r.syncDir()
	}
	if c.Resize {
		if err := r.resizeFile(c.Path, c.End, c.Size); err != nil {
			return err
		}
		r.rr.Resized = append(r.rr.Resized, c.Path)
		return r.syncDir()
	}
	list, err := logdir.List(r.fs, r.dir)
	if err != nil {
		return engineError(err)
	}
	if !c.Whole && c.End > c.Offset {
		if err := r.saveCut(c); err != nil {
			return err
		}
	}
	for k := len(list.SegmentIDs) - 1; k >= 0; k-- {
		id := list.SegmentIDs[k]
		if id > c.Segment || (id == c.Segment && c.Whole) {
			if err := r.moveAside(id); err != nil {
				return err
			}
			if err := r.syncDir(); err != nil {
				return err
			}
		}
	}
	if !c.Whole {
		if err := r.cutSegment(c); err != nil {
			return err
		}
	}
	if err := r.unsealBeyond(r.cutPosition(c)); err != nil {
		return err
	}
	return r.syncDir()
}

// readHeader reads the header of segment id (ok false when unreadable).
func (r *repairer) readHeader(id uint64) (format.SegmentHeader, bool) {
	f, err := r.ro.Open(filepath.Join(r.dir, format.SegmentName(id)))
	if err != nil {
		return format.SegmentHeader{}, false
	}
	defer func() { _ = f.Close() }()
	b := make([]byte, format.SegmentHeaderSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		return format.SegmentHeader{}, false
	}
	h, _, err := format.ReadSegmentHeader(b)
	return h, err == nil
}

// cutPosition is the global position where c cuts the log: a sealed index
// that vouches beyond it vouches for bytes the cut removed. When the cut
// segment's header is unreadable it is the end of the segment before it
// (0 when that is unreadable too: every seal then goes).
func (r *repairer) cutPosition(c *Cut) uint64 {
	if h, ok := r.readHeader(c.Segment); ok && !c.Whole {
		return h.StartPos + uint64(c.Offset)
	}
	if c.Segment > 1 {
		if h, ok := r.readHeader(c.Segment - 1); ok {
			return h.StartPos + h.FileSize
		}
	}
	return 0
}

// unsealBeyond deletes the index of every remaining segment whose seal
// vouches for a position past pos (Open rebuilds them from their
// segments): what they vouched for is gone with the cut.
func (r *repairer) unsealBeyond(pos uint64) error {
	list, err := logdir.List(r.fs, r.dir)
	if err != nil {
		return engineError(err)
	}
	for _, id := range list.SegmentIDs {
		path := filepath.Join(r.dir, format.IndexName(id))
		x, err := index.Open(r.ro, path)
		if err != nil {
			continue
		}
		h, herr := x.Header()
		_ = x.Close()
		if herr != nil || !h.Complete || h.Vouched <= pos {
			continue
		}
		if err := r.removeIndex(path); err != nil {
			return err
		}
	}
	return nil
}

// moveAside renames segment id to <segment>.broken and deletes its index.
func (r *repairer) moveAside(id uint64) error {
	src := filepath.Join(r.dir, format.SegmentName(id))
	dst, err := r.brokenName(src)
	if err != nil {
		return err
	}
	if err := r.fs.Rename(src, dst); err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	r.rr.Broken = append(r.rr.Broken, dst)
	return r.removeIndex(filepath.Join(r.dir, format.IndexName(id)))
}

// removeIndex deletes an index file (Open rebuilds it) and reports it.
func (r *repairer) removeIndex(path string) error {
	if err := logdir.RemoveIfExists(r.fs, path); err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	if !slices.Contains(r.rr.RemovedIndexes, path) {
		r.rr.RemovedIndexes = append(r.rr.RemovedIndexes, path)
	}
	return nil
}

// saveCut saves the cut segment's written bytes to <segment>.broken.
func (r *repairer) saveCut(c *Cut) error {
	f, err := r.fs.Open(c.Path)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	defer func() { _ = f.Close() }()
	return r.saveBroken(f, c.Path, c.End)
}

// cutSegment zeroes the segment's bytes from the cut on (saved by
// saveCut) and deletes its index.
func (r *repairer) cutSegment(c *Cut) error {
	if c.End > c.Offset {
		f, err := r.fs.Open(c.Path)
		if err != nil {
			return fmt.Errorf("recovery: %w", err)
		}
		err = zeroRange(f, c.Offset, c.End)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("recovery: %w", cerr)
		}
		if err != nil {
			return err
		}
	}
	return r.removeIndex(filepath.Join(r.dir, format.IndexName(c.Segment)))
}

// saveBroken copies f's first n bytes to the next free <path>.broken and
// makes its name durable: the copy exists before the bytes go.
func (r *repairer) saveBroken(f vfs.File, path string, n int64) error {
	dst, err := r.brokenName(path)
	if err != nil {
		return err
	}
	if err := r.copyFile(dst, f, n); err != nil {
		return err
	}
	r.rr.Broken = append(r.rr.Broken, dst)
	return r.syncDir()
}

// brokenName returns the first free name among path.broken,
// path.broken.2, path.broken.3, ...
func (r *repairer) brokenName(path string) (string, error) {
	names, err := r.fs.ReadDir(r.dir)
	if err != nil {
		return "", fmt.Errorf("recovery: %w", err)
	}
	for n := 1; n < 1000; n++ {
		name := path + BrokenSuffix
		if n > 1 {
			name = fmt.Sprintf("%s%s.%d", path, BrokenSuffix, n)
		}
		if !slices.Contains(names, filepath.Base(name)) {
			return name, nil
		}
	}
	return "", fmt.Errorf("recovery: too many %s files for %s", BrokenSuffix, path)
}

// copyFile writes src's first n bytes to dst through a temporary file
// (which Open deletes should a crash leave it), synced before it gets its
// name.
func (r *repairer) copyFile(dst string, src vfs.File, n int64) error {
	tmp := dst + format.TempSuffix
	_ = logdir.RemoveIfExists(r.fs, tmp) // a crashed earlier attempt
	f, err := r.fs.Create(tmp, n)
	if err != nil {
		return fmt.Errorf("recovery: save %s: %w", dst, err)
	}
	buf := make([]byte, min(n, 1<<20))
	for off := int64(0); off < n && err == nil; {
		k := min(int64(len(buf)), n-off)
		if _, err = src.ReadAt(buf[:k], off); err == nil {
			_, err = f.WriteAt(buf[:k], off)
		}
		off += k
	}
	if err == nil {
		err = f.Datasync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.fs.Rename(tmp, dst)
	}
	if err != nil {
		_ = r.fs.Remove(tmp)
		return fmt.Errorf("recovery: save %s: %w", dst, err)
	}
	return nil
}

// zeroRange writes zeros over [lo, hi) of f and syncs it. The file keeps
// its size and its blocks (a later write through a mapping must not need
// new space).
func zeroRange(f vfs.File, lo, hi int64) error {
	zeros := make([]byte, min(hi-lo, 1<<20))
	for off := lo; off < hi; {
		n := min(int64(len(zeros)), hi-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return fmt.Errorf("recovery: zero %s at %d: %w", f.Name(), off, err)
		}
		off += n
	}
	if err := f.Datasync(); err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	return nil
}

// rewriteHeader saves the segment to <segment>.broken and writes h over
// its damaged header.
func (r *repairer) rewriteHeader(path string, h format.SegmentHeader, end int64) error {
	f, err := r.fs.Open(path)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	defer func() { _ = f.Close() }()
	if err := r.saveBroken(f, path, max(end, format.SegmentHeaderSize)); err != nil {
		return err
	}
	b := make([]byte, format.SegmentHeaderSize)
	format.PutSegmentHeader(b, h)
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("recovery: rewrite header of %s: %w", path, err)
	}
	if err := f.Datasync(); err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	return nil
}

// resizeFile changes path from size have to want: growing it with
// allocated zeros, or saving it to <segment>.broken and shortening it.
func (r *repairer) resizeFile(path string, have, want int64) error {
	f, err := r.fs.Open(path)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	defer func() { _ = f.Close() }()
	if want < have {
		if err := r.saveBroken(f, path, have); err != nil {
			return err
		}
	}
	err = f.Resize(want)
	if err == nil {
		err = f.Datasync()
	}
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	return nil
}

// restoreVote writes v after the last record of the log; when the last
// segment has no room, into a new segment after it holding a State
// snapshot with v; when no segment is left, into a new first segment
// holding only the vote.
func (r *repairer) restoreVote(v raftstate.Vote) error {
	d, err := loadDir(r.ro, r.dir)
	if err != nil {
		return err
	}
	var res *logdir.Plan
	err = guardFault(func() error {
		var aerr error
		res, aerr = logdir.Analyze(d.Segments)
		return engineError(aerr)
	})
	if err != nil {
		d.Close()
		return err
	}
	if len(res.Segments) == 0 {
		d.Close()
		return r.createVoteSegment(v)
	}
	last := res.Segments[len(res.Segments)-1]
	path := d.Segments[len(res.Segments)-1].Path
	size := int64(len(d.Segments[len(res.Segments)-1].Data))
	d.Close()
	rec := make([]byte, format.RecordSize(format.VoteBodySize))
	if last.End+int64(len(rec)) > size {
		// No room for the record: it goes to the next segment, after the
		// State snapshot of what the log holds.
		h := format.SegmentHeader{
			ID: last.ID + 1, StartPos: last.Header.StartPos + uint64(size), PrevEnd: uint64(last.End),
			LogUID: last.Header.LogUID, PrevCRC: last.Prev,
		}
		return r.writeStateSegment(h, &res.State, res.First, v, true)
	}
	f, err := r.fs.Open(path)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	defer func() { _ = f.Close() }()
	// Everything before the record must be durable before the record says so.
	if err := f.Datasync(); err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	format.PutVote(rec[format.FrameSize:], v)
	format.PutFrame(rec, format.TypeVote, format.VoteBodySize, last.Header.StartPos+uint64(last.End), last.Prev)
	if _, err := f.WriteAt(rec, last.End); err != nil {
		return fmt.Errorf("recovery: restore vote in %s: %w", path, err)
	}
	if err := f.Datasync(); err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	if err := r.removeIndex(filepath.Join(r.dir, format.IndexName(last.ID))); err != nil {
		return err
	}
	r.rr.VoteRestored = &v
	return r.syncDir()
}

// createVoteSegment writes segment 1 holding a State snapshot with only v,
// under a new log identity (every segment of the old one was cut).
func (r *repairer) createVoteSegment(v raftstate.Vote) error {
	uid, err := newLogUID()
	if err != nil {
		return err
	}
	return r.writeStateSegment(format.SegmentHeader{ID: 1, LogUID: uid}, &raftstate.State{Vote: v}, 0, v, false)
}

// writeStateSegment creates the segment of header h (its FileSize set
// here) holding a State snapshot of st (first: its lowest existing index,
// 0 for Purged.Index+1), then, when voteRecord, a Vote record of v,
// through a temporary file synced before it gets its name, and reports it
// as created to restore v.
func (r *repairer) writeStateSegment(h format.SegmentHeader, st *raftstate.State, first uint64, v raftstate.Vote, voteRecord bool) error {
	n := format.StateSize(st)
	end := format.SegmentHeaderSize + format.RecordSize(n)
	size := end
	if voteRecord {
		size += format.RecordSize(format.VoteBodySize)
	}
	size = format.PageAlign(size)
	h.FileSize = uint64(size)
	b := make([]byte, size)
	seed := format.PutSegmentHeader(b, h)
	rec := b[format.SegmentHeaderSize:end]
	format.PutStateFirst(rec[format.FrameSize:], st, first)
	prev := format.PutFrame(rec, format.TypeState, n, 0, seed)
	if voteRecord {
		rec = b[end : end+format.RecordSize(format.VoteBodySize)]
		format.PutVote(rec[format.FrameSize:], v)
		format.PutFrame(rec, format.TypeVote, format.VoteBodySize, h.StartPos+uint64(end), prev)
	}
	path := filepath.Join(r.dir, format.SegmentName(h.ID))
	if f, err := r.ro.Open(path); err == nil {
		_ = f.Close()
		return fmt.Errorf("recovery: %s exists", path)
	}
	tmp := path + format.TempSuffix
	_ = logdir.RemoveIfExists(r.fs, tmp)
	f, err := r.fs.Create(tmp, size)
	if err == nil {
		_, err = f.WriteAt(b, 0)
		if err == nil {
			err = f.Datasync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = r.fs.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("recovery: create %s: %w", path, err)
	}
	r.rr.Created, r.rr.VoteRestored = path, &v
	return r.syncDir()
}

// newLogUID draws a new log identity: random and never 0.
func newLogUID() (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("recovery: draw a log identity: %w", err)
		}
		if v := binary.LittleEndian.Uint64(b[:]); v != 0 {
			return v, nil
		}
	}
}

// evictSegments syncs every segment file and drops from the page cache
// the pages of it whose write-back failed (vfs.File.Evict), so that
// recovery reads what the disk holds even where a sealed index would let
// it trust the cache: a segment Repair wrote to is sealed no more only
// once its index is deleted, after the write.
func (r *repairer) evictSegments() error {
	list, err := logdir.List(r.fs, r.dir)
	if err != nil {
		return engineError(err)
	}
	for _, id := range list.SegmentIDs {
		path := filepath.Join(r.dir, format.SegmentName(id))
		f, err := r.fs.Open(path)
		if err != nil {
			return fmt.Errorf("recovery: %w", err)
		}
		err = f.Evict()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("recovery: read %s from the disk: %w", path, err)
		}
	}
	return nil
}

func (r *repairer) syncDir() error {
	if err := r.fs.SyncDir(r.dir); err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	return nil
}
