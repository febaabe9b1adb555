package recovery

import (
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
// It refuses (ErrPurgeBeyondCut) a cut that would drop the purge which
// deleted the log's first segments, changing nothing in that step. It
// checks again, until Verify finds no problem. Every file it changes
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
	// The first kept segment that holds entries must hold the first live
	// one; a first segment that holds none (only its snapshot, say) does
	// not account for live entries that earlier, deleted segments held.
	held := uint64(0)
	for _, sg := range rep.Segments {
		if sg.ID > c.Segment {
			break
		}
		if sg.First != 0 {
			held = sg.First
			break
		}
	}
	live := kept.Last.Index > kept.Purged.Index
	if kept.Purged.IsZero() && first.ID != 1 ||
		!kept.Purged.IsZero() && first.First > kept.Purged.Index+1 ||
		!kept.Purged.IsZero() && live && (held == 0 || held > kept.Purged.Index+1) {
		return fmt.Errorf("%w: %s: the log starts at segment %d (entry %d) but what survives the cut at %s+%d says purged %v; nothing changed by this step",
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
