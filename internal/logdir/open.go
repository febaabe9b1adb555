package logdir

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/vfs"
)

// RecoveredSegment is a segment that survived recovery, mapped, with its
// index file mapped and consistent with its SegmentPlan. Whoever holds it
// closes File and Index.
//
// The last segment's index is open (not complete) when recovery rebuilt
// it, and still sealed complete when it was trusted (SlotsUnchecked): then
// whoever writes to the segment first proves the slots (rebuilding them
// when they fail) and marks the index open, synced, before anything new
// is written. Until then the seal on disk still vouches for the segment.
type RecoveredSegment struct {
	SegmentPlan
	Path  string
	File  vfs.File
	Data  []byte
	Index *index.File
}

// Recovered is a recovered log directory, ready to append to.
type Recovered struct {
	Plan     *Plan
	Segments []*RecoveredSegment // in ID order; the last one is where appends go
}

// Close unmaps and closes every file in r.
func (r *Recovered) Close() {
	for _, s := range r.Segments {
		closeSeg(s.File, s.Index)
	}
}

// Open recovers the log in dir (what mmaplog.Open runs): it maps every
// segment and index (Load), decides what they hold (Dir.Plan), and only
// when the log is sound carries the plan out (apply). On corruption it
// returns a *format.CorruptError and has changed nothing on disk. logger
// receives the torn tail cut and the crash leftovers deleted.
func Open(fs vfs.FS, dir string, logger *slog.Logger) (*Recovered, error) {
	d, err := Load(fs, dir)
	if err != nil {
		return nil, err
	}
	var p *Plan
	if err := guardFault(func() error {
		var perr error
		p, perr = d.Plan()
		return perr
	}); err != nil {
		d.Close()
		return nil, err
	}
	return d.apply(p, logger)
}

// apply carries out p on d and hands the surviving files to the caller,
// in this order:
//
//  1. log the torn tail it cuts: the cut is leaving the tail behind the
//     append position, where the record chain makes it unreadable (step 3
//     zeroes it);
//  2. removeLeftovers: delete crash leftovers (segments past a torn cut or
//     never created, their indexes, preparation files, orphan indexes);
//  3. adopt each surviving segment: make rebuilt segments durable and
//     rewrite their indexes (the last one's open, not complete), zero the
//     last one's tail;
//  4. sync the directory when a name changed.
//
// A failing step does not stop the later ones; apply returns the first
// failure, with every file closed.
func (d *Dir) apply(p *Plan, logger *slog.Logger) (*Recovered, error) {
	a := &applier{d: d}
	if t := p.Torn; t != nil {
		logger.Warn("mmaplog: cut torn tail", "file", t.Path, "offset", t.Offset, "bytes", t.Bytes,
			"records", t.Records, "entries", t.Entries, "found", fmt.Sprint(t.Reason))
	}
	a.removeLeftovers(p, logger)
	r := &Recovered{Plan: p}
	for i := range p.Segments {
		r.Segments = append(r.Segments, a.adopt(i, &p.Segments[i], i == len(p.Segments)-1))
	}
	if a.dirDirty {
		a.keep(d.FS.SyncDir(d.Path))
	}
	d.Close() // what was not handed on
	if a.err != nil {
		r.Close()
		return nil, fmt.Errorf("recovery of %s: %w", d.Path, a.err)
	}
	return r, nil
}

// applier carries out a Plan on a Dir (see Dir.apply).
type applier struct {
	d        *Dir
	dirDirty bool  // a name changed: the directory must be synced
	err      error // the first failure
}

func (a *applier) keep(err error) {
	if err != nil && a.err == nil {
		a.err = err
	}
}

// removeLeftovers deletes the segments p removes, with their indexes,
// highest ID first (a crash part way leaves a contiguous run of segments,
// never a gap), then the preparation files and orphan indexes.
func (a *applier) removeLeftovers(p *Plan, logger *slog.Logger) {
	d := a.d
	removed := map[int]bool{}
	for _, i := range p.Remove {
		removed[i] = true
	}
	for i := len(d.Segments) - 1; i >= 0; i-- {
		if !removed[i] {
			continue
		}
		seg := &d.Segments[i]
		logger.Warn("mmaplog: removing segment left by a crash", "file", seg.Path)
		closeSeg(d.files[i], seg.Index)
		d.files[i], seg.Index = nil, nil
		a.keep(RemoveIfExists(d.FS, seg.Path))
		a.keep(RemoveIfExists(d.FS, filepath.Join(d.Path, format.IndexName(seg.ID))))
		a.dirDirty = true
	}
	for _, name := range append(d.Listing.Temps, d.Listing.Orphans...) {
		a.keep(RemoveIfExists(d.FS, filepath.Join(d.Path, name)))
		a.dirDirty = true
	}
}

// adopt takes surviving segment i, planned as sp, over from the Dir: when
// its index is rebuilt, its bytes are made durable and its index file
// rewritten (and, for the last segment, what lies after its end zeroed).
func (a *applier) adopt(i int, sp *SegmentPlan, last bool) *RecoveredSegment {
	d := a.d
	s := &RecoveredSegment{SegmentPlan: *sp, Path: d.Segments[i].Path, File: d.files[i], Data: d.Segments[i].Data, Index: d.Segments[i].Index}
	d.files[i], d.Segments[i].Index = nil, nil
	if s.RebuildIndex {
		// The bytes read are trusted from now on: make them durable, and
		// the names of the files holding them (a kill -9 can leave renames
		// not yet fsynced), before any index or new record says so.
		a.dirDirty = true
		a.keep(s.File.Msync(0, s.End))
		created, err := rebuildIndex(d.FS, d.Path, s, !last)
		a.keep(err)
		a.dirDirty = a.dirDirty || created
	}
	if last && s.RebuildIndex {
		// What lies after the end (a torn tail, stale records behind an
		// earlier cut) must read as zeros before anything is appended: the
		// writer leaves a record's padding untouched, and nonzero padding
		// makes the record unreadable.
		a.keep(zeroTail(s))
	}
	return s
}

// zeroTail zeroes s's bytes from its end to the last nonzero byte and
// makes them durable.
func zeroTail(s *RecoveredSegment) error {
	var z int64
	err := guardFault(func() error {
		z = LastNonzero(s.Data, s.End)
		clear(s.Data[s.End:z])
		return nil
	})
	if err != nil || z == s.End {
		return err
	}
	return s.File.Msync(s.End, z-s.End)
}

// rebuildIndex writes s.Slots into s's index file, creating a new file
// when the old one is missing, damaged or too small. It reports whether a
// file was created.
func rebuildIndex(fs vfs.FS, dir string, s *RecoveredSegment, complete bool) (bool, error) {
	path := filepath.Join(dir, format.IndexName(s.ID))
	need := max(index.SlotsFor(int64(len(s.Data))), len(s.Slots))
	created := false
	if s.Index == nil || s.Index.Slots() < need {
		if s.Index != nil {
			_ = s.Index.Close()
			s.Index = nil
		}
		if err := RemoveIfExists(fs, path); err != nil {
			return false, err
		}
		x, err := index.Create(fs, path, need)
		if err != nil {
			return false, err
		}
		s.Index, created = x, true
	}
	for i, v := range s.Slots {
		s.Index.Set(i, int64(v)*format.Align)
	}
	h := index.Header{
		SegmentID: s.ID, LogUID: s.Header.LogUID, Base: s.Base, Count: s.Count,
		ValidEnd: s.End, StateOff: s.StateOff, EndCRC: s.Prev, Complete: complete,
	}
	if complete {
		// Only this segment's own bytes were made durable (above).
		h.Vouched = s.Header.StartPos + uint64(s.End)
	}
	s.Index.SetHeader(h)
	s.Slots = nil
	return created, s.Index.Sync(int(s.Count))
}
