package logdir

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/vfs"
)

// Listing is what a log directory holds, by name.
type Listing struct {
	SegmentIDs []uint64 // segment files, in ID order
	Temps      []string // *.tmp: leftovers of segment preparation
	Orphans    []string // index files without a segment
}

// List reads dir's names into a Listing.
func List(fs vfs.FS, dir string) (Listing, error) {
	var l Listing
	names, err := fs.ReadDir(dir)
	if err != nil {
		return l, fmt.Errorf("read directory %s: %w", dir, err)
	}
	idx := map[uint64]bool{}
	for _, name := range names {
		if strings.HasSuffix(name, format.TempSuffix) {
			l.Temps = append(l.Temps, name)
			continue
		}
		if id, ok := format.ParseSegmentName(name); ok {
			l.SegmentIDs = append(l.SegmentIDs, id)
			continue
		}
		if num, ok := strings.CutSuffix(name, format.IndexSuffix); ok {
			if id, ok := format.ParseSegmentName(num + format.SegmentSuffix); ok {
				idx[id] = true
			}
		}
	}
	slices.Sort(l.SegmentIDs)
	for id := range idx {
		if _, found := slices.BinarySearch(l.SegmentIDs, id); !found {
			l.Orphans = append(l.Orphans, format.IndexName(id))
		}
	}
	return l, nil
}

// SegmentFile is one segment file as found on disk, mapped, with its
// index file.
type SegmentFile struct {
	ID    uint64
	Path  string
	Data  []byte      // the whole file, mapped (nil for an empty file)
	Index *index.File // nil when the index file is missing or unreadable
}

// Dir is a log directory with every segment and index file mapped: what
// Analyze reads. Close releases it.
type Dir struct {
	FS       vfs.FS
	Path     string
	Listing  Listing
	Segments []SegmentFile // in ID order
	files    []vfs.File    // files[i] holds Segments[i]; nil once handed on
}

// Load lists dir and maps every segment and its index (nil when missing
// or unmappable). A segment whose index is not sealed complete may hold
// pages that a failed write-back left clean in the page cache but missing
// from the disk: such a segment is evicted before it is mapped
// (vfs.File.Evict), so that what recovery reads, and later calls durable,
// is what the disk holds. A sealed segment was durable before its seal was
// written, so its cached bytes are its disk bytes.
//
// It opens every file first, each starting the read of its header page,
// and only then maps the segments and reads the index headers: on a cold
// cache the header reads, and the inode reads of the opens, are then in
// flight together instead of one after the other.
//
// On error nothing is left open.
func Load(fs vfs.FS, dir string) (*Dir, error) {
	list, err := List(fs, dir)
	if err != nil {
		return nil, err
	}
	d := &Dir{FS: fs, Path: dir, Listing: list}
	n := len(list.SegmentIDs)
	d.Segments = make([]SegmentFile, n)
	d.files = make([]vfs.File, n)
	errs := make([]error, n)
	par := vfs.IsConcurrent(fs)
	forEach(n, par, func(i int) { errs[i] = d.openSegment(i) })
	// The last segment first: its tail, which Analyze reads next, is then
	// on its way while the others are mapped.
	forEach(n, par, func(k int) {
		if i := n - 1 - k; errs[i] == nil {
			errs[i] = guardFault(func() error { return d.mapSegment(i, k == 0) })
		}
	})
	for _, err := range errs {
		if err != nil { // the first in segment order, as a serial Load
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// loadWorkers is how many segments Load opens, and then maps, at once on
// a file system that allows it: system calls (open, mmap, madvise) and
// waits for inodes and pages in flight, which goroutines overlap. A page
// fault stalls its thread without the Go scheduler knowing, so the header
// reads are started (posix_fadvise) by the opens, not by the faults.
const loadWorkers = 16

// forEach runs fn(0..n-1): on loadWorkers goroutines when parallel, else
// in order on this one (the crash simulator: the order of its calls is
// what its crash points enumerate).
func forEach(n int, parallel bool, fn func(i int)) {
	if !parallel || n < 2 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, loadWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// openSegment opens segment i of d and its index (left nil when missing
// or unmappable), each starting to read its header page.
func (d *Dir) openSegment(i int) error {
	id := d.Listing.SegmentIDs[i]
	seg := &d.Segments[i]
	seg.ID, seg.Path = id, filepath.Join(d.Path, format.SegmentName(id))
	if x, err := index.Open(d.FS, filepath.Join(d.Path, format.IndexName(id))); err == nil {
		seg.Index = x
	}
	f, err := d.FS.Open(seg.Path)
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	d.files[i] = f
	if r, ok := f.(vfs.ReadAheader); ok {
		_ = r.WillNeed(0, format.SegmentHeaderSize) // Analyze reads it
	}
	return nil
}

// mapSegment maps segment i of d, opened by openSegment, evicting it first
// when its index is not sealed. last: it is the last segment, whose
// closing State record Analyze reads when the index is sealed.
func (d *Dir) mapSegment(i int, last bool) error {
	seg, f := &d.Segments[i], d.files[i]
	h, sealed := sealedHeader(seg.Index)
	if !sealed {
		if err := f.Evict(); err != nil {
			return fmt.Errorf("read segment %s from the disk: %w", seg.Path, err)
		}
	}
	data, err := f.Map()
	if err != nil {
		return fmt.Errorf("map segment %s: %w", seg.Path, err)
	}
	seg.Data = data
	if !sealed {
		return nil
	}
	if pf, ok := f.(vfs.Prefaulter); ok {
		// A sealed segment is read by header and by lookups, never
		// scanned: without read-ahead a cold touch reads a page, not the
		// megabytes read-ahead would (2-9 ms each, measured).
		_ = pf.Advise(true)
	}
	if r, ok := f.(vfs.ReadAheader); ok && last && h.StateOff < h.ValidEnd {
		_ = r.WillNeed(h.StateOff, h.ValidEnd-h.StateOff+format.FrameSize)
	}
	return nil
}

// Close unmaps and closes every file d still holds.
func (d *Dir) Close() {
	for i := range d.files {
		closeSeg(d.files[i], d.Segments[i].Index)
		d.files[i], d.Segments[i].Index = nil, nil
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

// Plan runs Analyze on d's segments and checks the orphan index files
// against its result: what Open would do to d, decided without writing.
// Damage to data proven durable is a *format.CorruptError.
func (d *Dir) Plan() (*Plan, error) {
	p, err := Analyze(d.Segments)
	if err != nil {
		return nil, err
	}
	if err := d.checkOrphans(p); err != nil {
		return nil, err
	}
	return p, nil
}

// sealedHeader returns x's header and whether x is a readable index
// sealed complete.
func sealedHeader(x *index.File) (index.Header, bool) {
	if x == nil {
		return index.Header{}, false
	}
	h, err := x.Header()
	return h, err == nil && h.Complete
}

// orphanEvidence is the largest position that the complete index of a
// segment file no longer present vouches for (0 when none does): an index
// whose segment was deleted or never renamed into place. A purge removes
// the segment file before its index, so an orphan below the log is a
// leftover; one that vouches past the log's end proves data was lost.
func (d *Dir) orphanEvidence() (vouched uint64, path string) {
	for _, name := range d.Listing.Orphans {
		p := filepath.Join(d.Path, name)
		x, err := index.Open(d.FS, p)
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
// vouches for more of the log than p keeps.
func (d *Dir) checkOrphans(p *Plan) error {
	v, path := d.orphanEvidence()
	if end := p.end(); v > end {
		return format.Corruptf(path, 0, 0, "index of a missing segment was sealed when the log was durable to position %d, but the log's segments end at %d: a segment file was lost", v, end)
	}
	return nil
}

// RemoveIfExists deletes path; a path that does not exist is no error.
func RemoveIfExists(fs vfs.FS, path string) error {
	if err := fs.Remove(path); err != nil && !errors.Is(err, errNotExist) {
		return err
	}
	return nil
}
