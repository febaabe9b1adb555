package format

import "errors"

// ErrStale: a well-formed record whose chain value does not match its
// predecessor: bytes left from before a cut, or from another log or
// another place in this one, never part of this chain.
var ErrStale = errors.New("record: chain mismatch (stale bytes)")

// Chain reads a segment's records in order, following the CRC chain: the
// one reader behind recovery's scan, Verify, Walk and Dump.
//
//	c := format.NewChain(data, format.SegmentHeaderSize, seed)
//	for r, off, ok := c.Next(); ok; r, off, ok = c.Next() { ... }
//	// c.End() is where the valid records end, c.Err() why (ErrUnwritten
//	// for a zero tail).
type Chain struct {
	data []byte
	off  int64
	prev uint32
	err  error
}

// NewChain starts reading data at off, where the chain value (the CRC of
// the record before, or the header's CRC) is prev.
func NewChain(data []byte, off int64, prev uint32) *Chain {
	return &Chain{data: data, off: off, prev: prev}
}

// Next returns the record at the current offset and its offset, and moves
// past it. At the first bytes that are not a valid record chained to the
// previous one (or at the end of the data) it returns ok false, and Err
// says why; the chain then stays there.
func (c *Chain) Next() (r Record, off int64, ok bool) {
	if c.err != nil {
		return Record{}, c.off, false
	}
	r, err := ReadRecord(c.data, c.off)
	if err == nil && r.Prev != c.prev {
		err = ErrStale
	}
	if err != nil {
		c.err = err
		return Record{}, c.off, false
	}
	off = c.off
	c.prev, c.off = r.CRC, c.off+r.Size
	return r, off, true
}

// End is the offset after the last valid record read.
func (c *Chain) End() int64 { return c.off }

// Prev is the chain value at End: the CRC of the last valid record.
func (c *Chain) Prev() uint32 { return c.prev }

// Err is why Next stopped (nil before it did).
func (c *Chain) Err() error { return c.err }

// UnknownPos is the start position to pass to Resync for a segment whose
// header is unreadable: candidates are then not filtered by position.
const UnknownPos = ^uint64(0)

// maxResyncFactor bounds the checksum work of a resync to this many times
// the scanned length, so that no input makes it quadratic.
const maxResyncFactor = 4

// Resync calls fn for every valid record (checksum and framing; the chain
// is not known here) found at an aligned offset of data[from:limit],
// trying every offset and skipping over each record found: the one
// scanner behind recovery's evidence search and Verify's salvage. A
// record says how far the log was durable when it was written, and no
// record can vouch beyond its own position: when startPos (the segment's
// global start) is known, candidates claiming more are ignored.
func Resync(data []byte, from, limit int64, startPos uint64, fn func(off int64, r Record)) {
	limit = min(limit, int64(len(data)))
	data = data[:limit]
	budget := maxResyncFactor * (limit - from)
	for off := AlignUp(from); off+FrameSize <= limit && budget > 0; off += Align {
		t := Type(data[off])
		if !t.Valid() || data[off+1]|data[off+2]|data[off+3] != 0 {
			continue
		}
		if startPos != UnknownPos && le.Uint64(data[off+8:]) > startPos+uint64(off) {
			continue
		}
		n := int64(le.Uint32(data[off+4:]))
		if off+RecordSize(int(n)) > limit {
			continue // ReadRecord rejects it without checksumming
		}
		budget -= n
		r, err := ReadRecord(data, off)
		if err != nil {
			continue
		}
		fn(off, r)
		off += r.Size - Align
	}
}
