package recovery

import (
	"fmt"
	"path/filepath"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/vfs"
)

// mapSegments opens and maps every segment in list and its index (nil
// when missing or unmappable). A segment whose index is not sealed
// complete may hold pages that a failed write-back left clean in the page
// cache but missing from the disk: such a segment is evicted before it is
// mapped (vfs.File.Evict), so that what recovery reads, and later calls
// durable, is what the disk holds. A sealed segment was durable before its
// seal was written, so its cached bytes are its disk bytes.
//
// On error nothing is left open. The caller closes files[i] and
// segs[i].Index.
func mapSegments(fs vfs.FS, dir string, list dirList) ([]segmentFile, []vfs.File, error) {
	segs := make([]segmentFile, 0, len(list.segIDs))
	files := make([]vfs.File, 0, len(list.segIDs))
	fail := func(err error) ([]segmentFile, []vfs.File, error) {
		for i := range files {
			closeSeg(files[i], segs[i].Index)
		}
		return nil, nil, err
	}
	for _, id := range list.segIDs {
		path := filepath.Join(dir, format.SegmentName(id))
		var x *index.File
		if xf, err := index.Open(fs, filepath.Join(dir, format.IndexName(id))); err == nil {
			x = xf
		}
		f, err := fs.Open(path)
		if err != nil {
			closeSeg(nil, x)
			return fail(fmt.Errorf("mmaplog: open segment: %w", err))
		}
		if !sealed(x) {
			if err := f.Evict(); err != nil {
				closeSeg(f, x)
				return fail(fmt.Errorf("mmaplog: read segment %s from the disk: %w", path, err))
			}
		}
		data, err := f.Map()
		if err != nil {
			closeSeg(f, x)
			return fail(fmt.Errorf("mmaplog: map segment %s: %w", path, err))
		}
		if pf, ok := f.(vfs.Prefaulter); ok && sealed(x) {
			// A sealed segment is read by header and by lookups, never
			// scanned: without read-ahead a cold touch reads a page, not
			// the megabytes read-ahead would (2-9 ms each, measured).
			_ = pf.Advise(true)
		}
		files = append(files, f)
		segs = append(segs, segmentFile{ID: id, Path: path, Data: data, Index: x})
	}
	return segs, files, nil
}

// sealed reports whether x is a readable index sealed complete.
func sealed(x *index.File) bool {
	if x == nil {
		return false
	}
	h, err := x.Header()
	return err == nil && h.Complete
}

// orphanEvidence is the largest position that the complete index of a
// segment file no longer present vouches for (0 when none does): an index
// whose segment was deleted or never renamed into place. A purge removes
// the segment file before its index, so an orphan below the log is a
// leftover; one that vouches past the log's end proves data was lost.
func orphanEvidence(fs vfs.FS, dir string, list dirList) (vouched uint64, path string) {
	for _, name := range list.orphan {
		p := filepath.Join(dir, name)
		x, err := index.Open(fs, p)
		if err != nil {
			continue
		}
		if h, err := x.Header(); err == nil && h.Complete && h.Vouched > vouched {
			vouched, path = h.Vouched, p
		}
		_ = x.Close()
	}
	return vouched, path
}

// checkOrphans fails with a *format.CorruptError when an orphan index
// vouches for more of the log than res keeps.
func checkOrphans(fs vfs.FS, dir string, list dirList, res *Result) error {
	v, p := orphanEvidence(fs, dir, list)
	if end := res.end(); v > end {
		return format.Corruptf(p, 0, 0, "index of a missing segment was sealed when the log was durable to position %d, but the log's segments end at %d: a segment file was lost", v, end)
	}
	return nil
}

// end is the global position after the last record that recovery keeps.
func (r *Result) end() uint64 {
	if len(r.Segments) == 0 {
		return 0
	}
	last := &r.Segments[len(r.Segments)-1]
	return last.Header.StartPos + uint64(last.End)
}
