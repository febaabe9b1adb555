package recovery

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logdir"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// The file operations of Repair: saving, zeroing, resizing and writing
// segments through the seam, each synced before the next step.

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

// copyFile writes src's first n bytes to dst (see writeTemp).
func (r *repairer) copyFile(dst string, src vfs.File, n int64) error {
	err := r.writeTemp(dst, n, func(f vfs.File) error {
		buf := make([]byte, min(n, 1<<20))
		for off := int64(0); off < n; {
			k := min(int64(len(buf)), n-off)
			if _, err := src.ReadAt(buf[:k], off); err != nil {
				return err
			}
			if _, err := f.WriteAt(buf[:k], off); err != nil {
				return err
			}
			off += k
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recovery: save %s: %w", dst, err)
	}
	return nil
}

// writeTemp creates dst with n bytes that fill writes, through a
// temporary file synced before it gets its name. On failure the temporary
// file is deleted (Open deletes one a crash leaves).
func (r *repairer) writeTemp(dst string, n int64, fill func(f vfs.File) error) error {
	tmp := dst + format.TempSuffix
	_ = logdir.RemoveIfExists(r.fs, tmp) // a crashed earlier attempt
	f, err := r.fs.Create(tmp, n)
	if err != nil {
		return err
	}
	if err = fill(f); err == nil {
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
	}
	return err
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
	err := r.writeTemp(path, size, func(f vfs.File) error {
		_, err := f.WriteAt(b, 0)
		return err
	})
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
