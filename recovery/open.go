package recovery

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/vfs"
)

// OpenSegment is a surviving segment, mapped, with its index mapped and
// consistent with SegmentState.
type OpenSegment struct {
	SegmentState
	Path  string
	File  vfs.File
	Data  []byte
	Index *index.File
}

// Opened is a recovered log directory, ready to append to.
type Opened struct {
	Result   *Result
	Segments []*OpenSegment // in ID order; the last one is where appends go
}

// Close unmaps and closes every file in o.
func (o *Opened) Close() {
	for _, s := range o.Segments {
		closeSeg(s.File, s.Index)
	}
}

func closeSeg(f vfs.File, x *index.File) {
	if x != nil {
		_ = x.Close()
	}
	if f != nil {
		_ = f.Close()
	}
}

// dirList is what a log directory holds.
type dirList struct {
	segIDs []uint64
	temps  []string // leftovers of segment preparation
	orphan []string // index files without a segment
}

func listDir(fs vfs.FS, dir string) (dirList, error) {
	var l dirList
	names, err := fs.ReadDir(dir)
	if err != nil {
		return l, fmt.Errorf("mmaplog: read directory %s: %w", dir, err)
	}
	idx := map[uint64]bool{}
	for _, name := range names {
		if strings.HasSuffix(name, format.TempSuffix) {
			l.temps = append(l.temps, name)
			continue
		}
		if id, ok := format.ParseSegmentName(name); ok {
			l.segIDs = append(l.segIDs, id)
			continue
		}
		if num, ok := strings.CutSuffix(name, format.IndexSuffix); ok {
			if id, ok := format.ParseSegmentName(num + format.SegmentSuffix); ok {
				idx[id] = true
			}
		}
	}
	slices.Sort(l.segIDs)
	for id := range idx {
		if _, found := slices.BinarySearch(l.segIDs, id); !found {
			l.orphan = append(l.orphan, format.IndexName(id))
		}
	}
	return l, nil
}

// Open recovers the log in dir: it maps every segment and index, runs
// analyze, and only when the log is sound applies the result: deletes crash
// leftovers, cuts a torn tail (by leaving it behind the append position;
// the record chain makes it unreadable), rebuilds stale indexes, makes the
// surviving bytes durable and marks the last index as open. On corruption
// it returns a *format.CorruptError and has changed nothing on disk.
func Open(fs vfs.FS, dir string, log *slog.Logger) (*Opened, error) {
	list, err := listDir(fs, dir)
	if err != nil {
		return nil, err
	}
	segs, files, err := mapSegments(fs, dir, list)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Opened, error) {
		for i := range files {
			closeSeg(files[i], segs[i].Index)
		}
		return nil, err
	}
	var res *Result
	if err := guardFault(func() error {
		var aerr error
		res, aerr = analyze(segs)
		return aerr
	}); err != nil {
		return fail(err)
	}
	if err := checkOrphans(fs, dir, list, res); err != nil {
		return fail(err)
	}
	o, err := apply(fs, dir, log, list, segs, files, res)
	if err != nil {
		return nil, err
	}
	return o, nil
}

func apply(fs vfs.FS, dir string, log *slog.Logger, list dirList, segs []segmentFile, files []vfs.File, res *Result) (*Opened, error) {
	o := &Opened{Result: res}
	removed := map[int]bool{}
	for _, i := range res.Remove {
		removed[i] = true
	}
	dirDirty := false
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if t := res.Torn; t != nil {
		log.Warn("mmaplog: cut torn tail", "file", t.Path, "offset", t.Offset, "bytes", t.Bytes,
			"records", t.Records, "entries", t.Entries, "found", fmt.Sprint(t.Reason))
	}
	// Delete crash leftovers first: segments past a torn cut or never
	// created, their indexes, preparation files and orphan indexes.
	// Highest ID first: a crash part way leaves a contiguous run of
	// segments, never a gap.
	for i := len(segs) - 1; i >= 0; i-- {
		if !removed[i] {
			continue
		}
		log.Warn("mmaplog: removing segment left by a crash", "file", segs[i].Path)
		closeSeg(files[i], segs[i].Index)
		files[i], segs[i].Index = nil, nil
		keep(removeIfExists(fs, segs[i].Path))
		keep(removeIfExists(fs, filepath.Join(dir, format.IndexName(segs[i].ID))))
		dirDirty = true
	}
	for _, name := range append(list.temps, list.orphan...) {
		keep(removeIfExists(fs, filepath.Join(dir, name)))
		dirDirty = true
	}
	for i := range res.Segments {
		st := res.Segments[i]
		s := &OpenSegment{SegmentState: st, Path: segs[i].Path, File: files[i], Data: segs[i].Data, Index: segs[i].Index}
		files[i], segs[i].Index = nil, nil
		o.Segments = append(o.Segments, s)
		last := i == len(res.Segments)-1
		if st.RebuildIndex {
			// The bytes read are trusted from now on: make them durable,
			// and the names of the files holding them (a kill -9 can leave
			// renames not yet fsynced), before any index or new record
			// says so.
			dirDirty = true
			keep(s.File.Msync(0, st.End))
			created, err := rebuildIndex(fs, dir, s, !last)
			keep(err)
			dirDirty = dirDirty || created
		}
		if last && st.RebuildIndex {
			// What lies after the end (a torn tail, stale records behind an
			// earlier cut) must read as zeros before anything is appended:
			// the writer leaves a record's padding untouched, and nonzero
			// padding makes the record unreadable.
			keep(zeroTail(s))
		}
		if last && s.Index != nil {
			// Mark the last index open (not complete) before anything new
			// can become durable: a crash from here on rescans it.
			if h, err := s.Index.Header(); err != nil || h.Complete {
				h.SegmentID, h.Complete = st.ID, false
				if err != nil {
					h = index.Header{SegmentID: st.ID, LogUID: st.Header.LogUID, Base: st.Base, Count: st.Count, ValidEnd: st.End, StateOff: st.StateOff, EndCRC: st.Prev}
				}
				s.Index.SetHeader(h)
				keep(s.Index.SyncHeader())
			}
		}
	}
	if dirDirty {
		keep(fs.SyncDir(dir))
	}
	for i := range files {
		closeSeg(files[i], segs[i].Index)
	}
	if firstErr != nil {
		o.Close()
		return nil, fmt.Errorf("mmaplog: recovery of %s: %w", dir, firstErr)
	}
	return o, nil
}

// zeroTail zeroes s's bytes from its end to the last nonzero byte and
// makes them durable.
func zeroTail(s *OpenSegment) error {
	var z int64
	err := guardFault(func() error {
		z = lastNonzero(s.Data, s.End)
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
func rebuildIndex(fs vfs.FS, dir string, s *OpenSegment, complete bool) (bool, error) {
	path := filepath.Join(dir, format.IndexName(s.ID))
	need := max(index.SlotsFor(int64(len(s.Data))), len(s.Slots))
	created := false
	if s.Index == nil || s.Index.Slots() < need {
		if s.Index != nil {
			_ = s.Index.Close()
			s.Index = nil
		}
		if err := removeIfExists(fs, path); err != nil {
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

func removeIfExists(fs vfs.FS, path string) error {
	if err := fs.Remove(path); err != nil && !isNotExist(err) {
		return err
	}
	return nil
}

func isNotExist(err error) bool {
	return errors.Is(err, errNotExist)
}
