package recovery

import (
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logdir"
)

// WalkItem is one step of Walk: a record, or the place where a segment's
// records stop.
type WalkItem struct {
	Segment uint64 // segment ID
	Path    string
	// StartPos, PrevEnd and FileSize are the segment header's fields
	// (docs/FORMAT.md); zero when the header is damaged (see Stop).
	StartPos, PrevEnd, FileSize uint64
	Offset                      int64
	Seq                         int // record number within the segment, from 0
	// Record is the record at Offset, decoded; its Payload aliases a
	// read-only mapping and is valid only during the call. Nil when the
	// records stop at Offset.
	Record *Record
	// Stop says why the records stop at Offset: ErrUnwritten at the
	// ordinary end (zeros), or the damage found (a bad header stops the
	// segment at offset 0).
	Stop error
	// Done and Total are the bytes walked so far and in all, for progress.
	Done, Total int64
}

// Walk calls fn for every record of every segment of dir in log order,
// following each segment's checksum chain from its header to the first
// bytes that are not a valid chained record, and once more there (Record
// nil, Stop set). It shows the records as they are on disk, including ones
// a later Truncate record removed and a torn tail Open would cut. Like
// Verify it takes the directory's shared lock and maps the files
// read-only. It returns fn's first error, or an I/O error.
func Walk(dir string, fn func(WalkItem) error) error {
	return readDir(dir, func(d *dirView) error { return walkDir(d, fn) })
}

func walkDir(d *dirView, fn func(WalkItem) error) error {
	var total int64
	for _, s := range d.Segments {
		total += int64(len(s.Data))
	}
	var done int64
	for _, s := range d.Segments {
		if err := walkSegment(s, done, total, fn); err != nil {
			return err
		}
		done += int64(len(s.Data))
	}
	return nil
}

func walkSegment(s logdir.SegmentFile, done, total int64, fn func(WalkItem) error) error {
	it := WalkItem{Segment: s.ID, Path: s.Path, Total: total, Done: done}
	h, prev, err := format.ReadSegmentHeader(s.Data)
	if err != nil {
		it.Stop = err
		return fn(it)
	}
	it.StartPos, it.PrevEnd, it.FileSize = h.StartPos, h.PrevEnd, h.FileSize
	c := format.NewChain(s.Data, format.SegmentHeaderSize, prev)
	for n := 0; ; n++ {
		r, off, ok := c.Next()
		it.Offset, it.Seq, it.Done = off, n, done+off
		if !ok {
			it.Record, it.Stop = nil, c.Err()
			return fn(it)
		}
		rec := decodeRecord(r)
		it.Record = &rec
		if err := fn(it); err != nil {
			return err
		}
	}
}
