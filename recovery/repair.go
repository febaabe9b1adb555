package recovery

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// BrokenSuffix is appended to the name of a segment file whose bytes
// Repair cut off or moved aside. Open ignores such files.
const BrokenSuffix = ".broken"

// RepairReport is what Repair found and did.
type RepairReport struct {
	Before *Report // Verify's report before anything was changed
	After  *Report // Verify's report after the repair
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
	// Created names a segment Repair created to hold the restored vote
	// when the cuts left no segment.
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
// during Repair is recovered by running it again. Afterwards Open
// succeeds; Report.Lost says which entries are gone (the Raft layer must
// fetch them again from the other nodes).
//
// A log that is not corrupt (a clean log, or one whose torn tail Open
// cuts by itself) is left untouched.
func Repair(dir string) (*RepairReport, error) { return RepairWith(dir, ScanOptions{}) }

// RepairWith is Repair with options (Quick is ignored: Repair always
// reads everything).
func RepairWith(dir string, opts ScanOptions) (*RepairReport, error) {
	opts.Quick = false
	lk, err := lockDir(dir, true)
	if err != nil {
		return nil, err
	}
	defer lk.Close()

	rr := &RepairReport{Lost: Lost{First: ^uint64(0)}}
	var newest raftstate.Vote
	var prev *Problem
	for step := 0; ; step++ {
		rep, err := verifyDir(dir, opts)
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
			if newerVote(newest, c.Lost.NewestVote) {
				newest = c.Lost.NewestVote
			}
			if err := applyCut(dir, c, rr); err != nil {
				return rr, err
			}
			rr.Cuts = append(rr.Cuts, *c)
			if !c.Resize && c.Header == nil {
				rr.Lost.merge(c.Lost)
			}
			continue
		}
		for _, p := range rep.Problems {
			if p.Kind == ProblemIndex {
				if err := crashPoint("remove index"); err != nil {
					return rr, err
				}
				if err := removeFile(p.Err.Path); err != nil {
					return rr, err
				}
				rr.RemovedIndexes = append(rr.RemovedIndexes, p.Err.Path)
			}
		}
		if err := syncDir(dir); err != nil {
			return rr, err
		}
	}
	if rr.Lost.First == ^uint64(0) {
		rr.Lost.First = 0
	}
	if newerVote(rr.After.State.Vote, newest) && onlyVoteProblems(rr.After) {
		if err := restoreVote(dir, newest, rr); err != nil {
			return rr, err
		}
		rep, err := verifyDir(dir, opts)
		if err != nil {
			return rr, err
		}
		rr.After = rep
	}
	return rr, nil
}

// onlyVoteProblems reports whether rep has no problem but a vote to write
// back.
func onlyVoteProblems(rep *Report) bool {
	for _, p := range rep.Problems {
		if p.Kind != ProblemVote {
			return false
		}
	}
	return true
}

// crashPoint is called before each change Repair makes; a test sets
// crashHook to stop Repair there, as a crash would.
func crashPoint(step string) error {
	if crashHook != nil {
		return crashHook(step)
	}
	return nil
}

var crashHook func(step string) error

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

// applyCut carries out one cut: later segments first (highest ID first, so
// that a crash never leaves a gap in the IDs), then the cut segment.
func applyCut(dir string, c *Cut, rr *RepairReport) error {
	if err := crashPoint("cut"); err != nil {
		return err
	}
	if c.Header != nil {
		if err := rewriteHeader(c.Path, *c.Header, c.End, rr); err != nil {
			return err
		}
		rr.Rewritten = append(rr.Rewritten, c.Path)
		return syncDir(dir)
	}
	if c.Resize {
		if err := resizeFile(c.Path, c.End, c.Size, rr); err != nil {
			return err
		}
		rr.Resized = append(rr.Resized, c.Path)
		return syncDir(dir)
	}
	list, err := listDir(vfs.OS, dir)
	if err != nil {
		return err
	}
	for k := len(list.segIDs) - 1; k >= 0; k-- {
		id := list.segIDs[k]
		if id > c.Segment || (id == c.Segment && c.Whole) {
			if err := moveAside(dir, id, rr); err != nil {
				return err
			}
		}
	}
	if !c.Whole {
		if err := cutSegment(dir, c, rr); err != nil {
			return err
		}
	}
	if err := unsealBeyond(dir, cutPosition(dir, c), rr); err != nil {
		return err
	}
	return syncDir(dir)
}

// cutPosition is the global position where c cuts the log: a sealed index
// that vouches beyond it vouches for bytes the cut removed. When the cut
// segment's header is unreadable it is the end of the segment before it
// (0 when that is unreadable too: every seal then goes).
func cutPosition(dir string, c *Cut) uint64 {
	read := func(id uint64) (format.SegmentHeader, bool) {
		b := make([]byte, format.SegmentHeaderSize)
		f, err := os.Open(filepath.Join(dir, format.SegmentName(id)))
		if err != nil {
			return format.SegmentHeader{}, false
		}
		defer f.Close()
		if _, err := f.ReadAt(b, 0); err != nil {
			return format.SegmentHeader{}, false
		}
		h, _, err := format.ReadSegmentHeader(b)
		return h, err == nil
	}
	if h, ok := read(c.Segment); ok && !c.Whole {
		return h.StartPos + uint64(c.Offset)
	}
	if c.Segment > 1 {
		if h, ok := read(c.Segment - 1); ok {
			return h.StartPos + h.FileSize
		}
	}
	return 0
}

// unsealBeyond deletes the index of every remaining segment whose seal
// vouches for a position past pos (Open rebuilds them from their
// segments): what they vouched for is gone with the cut.
func unsealBeyond(dir string, pos uint64, rr *RepairReport) error {
	list, err := listDir(vfs.OS, dir)
	if err != nil {
		return err
	}
	for _, id := range list.segIDs {
		path := filepath.Join(dir, format.IndexName(id))
		x, err := index.Open(readOnly, path)
		if err != nil {
			continue
		}
		h, herr := x.Header()
		_ = x.Close()
		if herr != nil || !h.Complete || h.Vouched <= pos {
			continue
		}
		if err := crashPoint("unseal index"); err != nil {
			return err
		}
		if err := removeFile(path); err != nil {
			return err
		}
		rr.RemovedIndexes = append(rr.RemovedIndexes, path)
	}
	return nil
}

// moveAside renames segment id to <segment>.broken and deletes its index.
func moveAside(dir string, id uint64, rr *RepairReport) error {
	if err := crashPoint("move aside"); err != nil {
		return err
	}
	src := filepath.Join(dir, format.SegmentName(id))
	dst, err := brokenName(src)
	if err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	rr.Broken = append(rr.Broken, dst)
	idx := filepath.Join(dir, format.IndexName(id))
	if err := removeFile(idx); err != nil {
		return err
	}
	rr.RemovedIndexes = append(rr.RemovedIndexes, idx)
	return nil
}

// cutSegment saves the segment's written bytes to <segment>.broken, then
// zeroes them from the cut on and deletes the segment's index.
func cutSegment(dir string, c *Cut, rr *RepairReport) error {
	f, err := os.OpenFile(c.Path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	defer f.Close()
	if c.End > c.Offset {
		dst, err := brokenName(c.Path)
		if err != nil {
			return err
		}
		if err := copyToFile(dst, io.NewSectionReader(f, 0, c.End)); err != nil {
			return err
		}
		rr.Broken = append(rr.Broken, dst)
		// The copy's name must be durable before the bytes go.
		if err := syncDir(dir); err != nil {
			return err
		}
		if err := crashPoint("zero"); err != nil {
			return err
		}
		if err := zeroRange(f, c.Offset, c.End); err != nil {
			return err
		}
	}
	if err := crashPoint("remove cut index"); err != nil {
		return err
	}
	idx := filepath.Join(dir, format.IndexName(c.Segment))
	if err := removeFile(idx); err != nil {
		return err
	}
	rr.RemovedIndexes = append(rr.RemovedIndexes, idx)
	return nil
}

// brokenName returns the first free name among path.broken,
// path.broken.2, path.broken.3, ...
func brokenName(path string) (string, error) {
	for n := 1; n < 1000; n++ {
		name := path + BrokenSuffix
		if n > 1 {
			name = fmt.Sprintf("%s%s.%d", path, BrokenSuffix, n)
		}
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			return name, nil
		} else if err != nil {
			return "", fmt.Errorf("recovery: %w", err)
		}
	}
	return "", fmt.Errorf("recovery: too many %s files for %s", BrokenSuffix, path)
}

// copyToFile writes r to dst through a temporary file (which Open deletes
// should a crash leave it), synced before it gets its name.
func copyToFile(dst string, r io.Reader) error {
	tmp := dst + format.TempSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("recovery: save %s: %w", dst, err)
	}
	return nil
}

// zeroRange writes zeros over [lo, hi) of f and syncs it. The file keeps
// its size and its blocks (a later write through a mapping must not need
// new space).
func zeroRange(f *os.File, lo, hi int64) error {
	zeros := make([]byte, min(hi-lo, 1<<20))
	for off := lo; off < hi; {
		n := min(int64(len(zeros)), hi-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return fmt.Errorf("recovery: zero %s at %d: %w", f.Name(), off, err)
		}
		off += n
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("recovery: fdatasync %s: %w", f.Name(), err)
	}
	return nil
}

// rewriteHeader saves the segment to <segment>.broken and writes h over
// its damaged header.
func rewriteHeader(path string, h format.SegmentHeader, end int64, rr *RepairReport) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	defer f.Close()
	dst, err := brokenName(path)
	if err != nil {
		return err
	}
	if err := copyToFile(dst, io.NewSectionReader(f, 0, max(end, format.SegmentHeaderSize))); err != nil {
		return err
	}
	rr.Broken = append(rr.Broken, dst)
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	b := make([]byte, format.SegmentHeaderSize)
	format.PutSegmentHeader(b, h)
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("recovery: rewrite header of %s: %w", path, err)
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("recovery: fdatasync %s: %w", path, err)
	}
	return nil
}

// resizeFile changes path from size have to want: growing it with
// allocated zeros, or saving it to <segment>.broken and shortening it.
func resizeFile(path string, have, want int64, rr *RepairReport) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	defer f.Close()
	if want < have {
		dst, berr := brokenName(path)
		if berr != nil {
			return berr
		}
		if err := copyToFile(dst, io.NewSectionReader(f, 0, have)); err != nil {
			return err
		}
		rr.Broken = append(rr.Broken, dst)
		if err := syncDir(filepath.Dir(path)); err != nil {
			return err
		}
		err = f.Truncate(want)
	} else {
		err = unix.Fallocate(int(f.Fd()), 0, have, want-have)
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
			err = f.Truncate(want)
		}
	}
	if err == nil {
		err = unix.Fdatasync(int(f.Fd()))
	}
	if err != nil {
		return fmt.Errorf("recovery: resize %s to %d bytes: %w", path, want, err)
	}
	return nil
}

// restoreVote writes v after the last record of the log, or, when no
// segment is left, into a new first segment holding only the vote.
func restoreVote(dir string, v raftstate.Vote, rr *RepairReport) error {
	d, err := loadDir(readOnly, dir)
	if err != nil {
		return err
	}
	var res *Result
	err = guardFault(func() error {
		var aerr error
		res, aerr = Analyze(d.segs)
		return aerr
	})
	if err != nil {
		d.close()
		return err
	}
	if len(res.Segments) == 0 {
		d.close()
		return createVoteSegment(dir, v, rr)
	}
	last := res.Segments[len(res.Segments)-1]
	path := d.segs[len(res.Segments)-1].Path
	size := int64(len(d.segs[len(res.Segments)-1].Data))
	d.close()
	rec := make([]byte, format.RecordSize(format.VoteBodySize))
	if last.End+int64(len(rec)) > size {
		return fmt.Errorf("recovery: no room in %s to restore vote %v", path, v)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	defer f.Close()
	// Everything before the record must be durable before the record says so.
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("recovery: fdatasync %s: %w", path, err)
	}
	if err := crashPoint("restore vote"); err != nil {
		return err
	}
	format.PutVote(rec[format.FrameSize:], v)
	format.PutFrame(rec, format.TypeVote, format.VoteBodySize, last.Header.StartPos+uint64(last.End), last.Prev)
	if _, err := f.WriteAt(rec, last.End); err != nil {
		return fmt.Errorf("recovery: restore vote in %s: %w", path, err)
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("recovery: fdatasync %s: %w", path, err)
	}
	idx := filepath.Join(dir, format.IndexName(last.ID))
	if err := removeFile(idx); err != nil {
		return err
	}
	if !slices.Contains(rr.RemovedIndexes, idx) {
		rr.RemovedIndexes = append(rr.RemovedIndexes, idx)
	}
	rr.VoteRestored = &v
	return syncDir(dir)
}

// createVoteSegment writes segment 1 holding a State snapshot with only v.
func createVoteSegment(dir string, v raftstate.Vote, rr *RepairReport) error {
	st := raftstate.State{Vote: v}
	n := format.StateSize(&st)
	size := (format.SegmentHeaderSize + format.RecordSize(n) + 4095) &^ 4095
	b := make([]byte, size)
	seed := format.PutSegmentHeader(b, format.SegmentHeader{ID: 1, FileSize: uint64(size)})
	rec := b[format.SegmentHeaderSize : format.SegmentHeaderSize+format.RecordSize(n)]
	format.PutState(rec[format.FrameSize:], &st)
	format.PutFrame(rec, format.TypeState, n, 0, seed)
	if err := crashPoint("create vote segment"); err != nil {
		return err
	}
	path := filepath.Join(dir, format.SegmentName(1))
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("recovery: %s exists", path)
	}
	if err := copyToFile(path, bytes.NewReader(b)); err != nil {
		return err
	}
	rr.Created, rr.VoteRestored = path, &v
	return syncDir(dir)
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("recovery: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	if err := vfs.OS.SyncDir(dir); err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	return nil
}
