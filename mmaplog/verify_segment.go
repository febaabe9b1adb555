package mmaplog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/checksum"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// verifyChunk is the unit of the verifier's reads, cache drops and pacing.
const verifyChunk = 256 << 10

// verifyWindow is how many bytes of a segment the verifier holds at a
// time (more while one record is larger).
const verifyWindow = 4 * verifyChunk

// errGone: the segment being verified was purged and removed.
var errGone = errors.New("mmaplog: segment removed while verified")

// checker is one Verify pass: its pacing and its buffers, reused from one
// segment to the next.
type checker struct {
	l    *Log
	ctx  context.Context
	pace *pacer
	win  []byte   // the segment window
	raw  []byte   // the index slots as read from the disk
	want []uint32 // the slots as the records say (offset / 8)
}

// segResult is what checking one segment found.
type segResult struct {
	records, entries int
	bytes            int64
	problems         []*CorruptError
	digest           Digest // of the live entries, from the disk bytes
	digestOK         bool
	unproven         bool // the index's slots fail their seal, not yet used (see index)
}

func (r *segResult) bad(path string, off int64, idx uint64, f string, args ...any) {
	r.problems = append(r.problems, format.Corruptf(path, off, idx, f, args...))
}

// readError is a failed read of a file: a problem of that file, not an
// error of the pass.
type readError struct {
	path string
	off  int64
	err  error
}

func (e *readError) Error() string { return fmt.Sprintf("read %s at %d: %v", e.path, e.off, e.err) }

// diskFile reads one file of a segment from the disk: through its own
// read-only descriptor, paced, each range dropped from the cache first.
type diskFile struct {
	c    *checker
	f    vfs.File
	res  *segResult
	path string
	drop func(off, n int64) error // errGone or ErrClosed when it cannot
}

// read fills p with the file's bytes at off.
func (d *diskFile) read(p []byte, off int64) error {
	for len(p) > 0 {
		n := min(len(p), verifyChunk)
		if err := d.drop(off, int64(n)); err != nil {
			return err
		}
		if err := d.c.pace.wait(d.c.ctx, int64(n)); err != nil {
			return err
		}
		k, err := d.f.ReadAt(p[:n], off)
		d.res.bytes += int64(k)
		if err != nil {
			return &readError{path: d.path, off: off + int64(k), err: err}
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// dropCached drops the cached pages of [off, off+n) of s's segment file
// (or of its index, when idx), its mapping included, under the readers'
// lock so that nothing unmaps it meanwhile.
func (l *Log) dropCached(s *segment, idx bool, off, n int64) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	if s.gone {
		return errGone
	}
	if idx {
		_ = s.idx.DropCache(off, n) // a hint
	} else if d, ok := s.file.(vfs.CacheDropper); ok {
		_ = d.DropCache(off, n)
	}
	return nil
}

// open opens path of segment s read-only; a file missing because s was
// purged meanwhile is errGone.
func (c *checker) open(s *segment, path string, res *segResult, idx bool) (*diskFile, error) {
	f, err := vfs.OpenReadOnly(c.l.fs, path)
	if err != nil {
		if c.l.segmentGone(s) {
			return nil, errGone
		}
		return nil, fmt.Errorf("mmaplog: verify: open %s: %w", path, err)
	}
	return &diskFile{c: c, f: f, res: res, path: path,
		drop: func(off, n int64) error { return c.l.dropCached(s, idx, off, n) }}, nil
}

// slotsUnproven reports whether s's index was trusted on Open on its
// header alone and no lookup has checked its slots yet (see slotCheck).
func (s *segment) slotsUnproven() bool {
	return s.slots.unchecked && s.slots.state.Load() == slotsUnchecked
}

// indexPath is the path of s's index file (s.idx.Path is the temporary
// name it was created under when s was prepared in the background).
func (s *segment) indexPath() string {
	return filepath.Join(filepath.Dir(s.path), format.IndexName(s.id))
}

// segment checks one sealed segment and its index. Damage goes into the
// result; the error is errGone, ErrClosed, the context's, or a failure to
// open a file.
func (c *checker) segment(t verifyTarget) (res segResult, err error) {
	s := t.seg
	seg, err := c.open(s, s.path, &res, false)
	if err != nil {
		return res, err
	}
	defer func() { _ = seg.f.Close() }()
	idx, err := c.open(s, s.indexPath(), &res, true)
	if err != nil {
		return res, err
	}
	defer func() { _ = idx.f.Close() }()
	if size, err := seg.f.Size(); err != nil {
		return res, fmt.Errorf("mmaplog: verify: %s: %w", s.path, err)
	} else if size != int64(len(s.data)) {
		res.bad(s.path, min(size, int64(len(s.data))), 0, "file is %d bytes; the log mapped %d (reads past the end fault)", size, len(s.data))
	}
	// The index first: its slots say which record of each index is the
	// live one, which the digest needs while the records stream by.
	slotsOK, err := c.index(idx, t, &res)
	if err == nil {
		err = c.records(seg, t, slotsOK, &res)
	}
	var re *readError
	if errors.As(err, &re) {
		res.bad(re.path, re.off, 0, "read from the disk failed: %v", re.err)
		return res, nil
	}
	return res, err
}

// index reads the index header and slots from the disk and compares them
// with the seal the log holds. It reports whether the slots can be used.
func (c *checker) index(d *diskFile, t verifyTarget, res *segResult) (bool, error) {
	var hb [index.HeaderSize]byte
	if err := d.read(hb[:], 0); err != nil {
		return false, err
	}
	h, err := index.DecodeHeader(hb[:], d.path)
	if err != nil {
		res.bad(d.path, 0, 0, "%v", err)
		return false, nil
	}
	if h != t.hdr {
		res.bad(d.path, 0, 0, "index header on disk %s differs from the seal %s", headerText(h), headerText(t.hdr))
		return false, nil
	}
	n := int(h.Count) * index.SlotSize
	if cap(c.raw) < n {
		c.raw = make([]byte, n)
	}
	c.raw = c.raw[:n]
	if err := d.read(c.raw, index.HeaderSize); err != nil {
		return false, err
	}
	if checksum.Sum(c.raw) != h.SlotsCRC {
		if t.seg.slotsUnproven() {
			// A seal torn by a crash before this Open, which no read has
			// used yet: the log rebuilds the slots on first use (as
			// recovery.Verify says), so it is no damage.
			res.unproven = true
			return false, nil
		}
		res.bad(d.path, index.HeaderSize, 0, "slots [0, %d) do not match the checksum they were sealed with", h.Count)
		return false, nil
	}
	return true, nil
}

func headerText(h index.Header) string {
	return fmt.Sprintf("{segment %d, log %016x, entries %d+%d, end %d, state at %d, end chain %08x, complete %v, vouched %d, slots %08x}",
		h.SegmentID, h.LogUID, h.Base, h.Count, h.ValidEnd, h.StateOff, h.EndCRC, h.Complete, h.Vouched, h.SlotsCRC)
}

// slot returns disk slot k (record offset / 8).
func (c *checker) slot(k uint64) uint32 { return le32(c.raw[k*index.SlotSize:]) }

func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// records reads the segment's header and records up to the sealed end
// from the disk, following the chain from the header's seed, and checks
// what the seal says about them.
func (c *checker) records(d *diskFile, t verifyTarget, slotsOK bool, res *segResult) error {
	s, h, l := t.seg, t.hdr, c.l
	var hb [format.SegmentHeaderSize]byte
	if err := d.read(hb[:], 0); err != nil {
		return err
	}
	sh, seed, err := format.ReadSegmentHeader(hb[:])
	if err != nil {
		res.bad(s.path, 0, 0, "%v", err)
		return nil
	}
	if sh.ID != s.id || sh.LogUID != l.uid || sh.StartPos != s.startPos || sh.FileSize != uint64(len(s.data)) {
		res.bad(s.path, 0, 0, "segment header says segment %d of log %016x at %d, %d bytes; this is segment %d of log %016x at %d, %d bytes",
			sh.ID, sh.LogUID, sh.StartPos, sh.FileSize, s.id, l.uid, s.startPos, len(s.data))
	}
	if p := t.prev; p != nil && (sh.PrevEnd != uint64(p.ValidEnd) || sh.PrevCRC != p.EndCRC) {
		res.bad(s.path, 0, 0, "segment header continues from offset %d, chain %08x; segment %d ends at %d, chain %08x",
			sh.PrevEnd, sh.PrevCRC, p.SegmentID, p.ValidEnd, p.EndCRC)
	}
	r := recordCheck{c: c, t: t, slotsOK: slotsOK, res: res, stateOff: -1}
	end, prev, err := r.walk(d, seed)
	if err != nil || end < 0 {
		return err // end < 0: the records stop short; reported
	}
	if prev != h.EndCRC {
		res.bad(s.path, end, 0, "chain value at the sealed end is %08x; the seal says %08x", prev, h.EndCRC)
	}
	if r.stateOff != h.StateOff {
		res.bad(s.path, r.stateOff, 0, "last State record at %d; the seal says %d", r.stateOff, h.StateOff)
	}
	if r.count != h.Count || (r.count > 0 && r.base != h.Base) {
		res.bad(s.indexPath(), 0, r.base, "the records hold entries %d+%d; the seal says %d+%d", r.base, r.count, h.Base, h.Count)
	} else if slotsOK {
		r.compareSlots(s.indexPath())
	}
	res.digestOK = slotsOK && len(res.problems) == 0 &&
		(t.lo > t.hi || (res.digest.First == t.lo && res.digest.Last == t.hi && res.digest.Entries == t.hi-t.lo+1))
	return nil
}

// recordCheck replays a segment's records as they stream by.
type recordCheck struct {
	c        *checker
	t        verifyTarget
	slotsOK  bool
	res      *segResult
	base     uint64
	count    uint64
	stateOff int64
}

// walk reads the records in windows of the segment, from the header to
// the sealed end. It returns where they end and the chain value there, or
// end -1 when they stop short (a problem was reported).
func (r *recordCheck) walk(d *diskFile, seed uint32) (int64, uint32, error) {
	c, end, path := r.c, r.t.hdr.ValidEnd, r.t.seg.path
	pos, prev := int64(format.SegmentHeaderSize), seed
	winOff := pos // file offset of c.win[0]
	c.win = c.win[:0]
	need := int64(0) // bytes the record at pos needs, when it did not fit
	for pos < end {
		// Slide the window to pos and fill it.
		keep := copy(c.win, c.win[pos-winOff:])
		c.win, winOff = c.win[:keep], pos
		want := min(max(verifyWindow, need), end-winOff)
		if int64(cap(c.win)) < want {
			c.win = append(make([]byte, 0, want), c.win...)
		}
		have := int64(len(c.win))
		c.win = c.win[:want]
		if err := d.read(c.win[have:], winOff+have); err != nil {
			return 0, 0, err
		}
		ch := format.NewChain(c.win, 0, prev)
		for {
			rec, off, ok := ch.Next()
			if !ok {
				break
			}
			if !r.record(winOff+off, rec) {
				return -1, 0, nil
			}
		}
		pos, prev = winOff+ch.End(), ch.Prev()
		if pos >= end {
			break
		}
		rel := pos - winOff
		need = format.FrameSize
		if int64(len(c.win))-rel >= format.FrameSize {
			need = format.RecordSize(int(le32(c.win[rel+4:])))
		}
		if winOff+int64(len(c.win)) == end || rel+need <= int64(len(c.win)) || pos+need > end {
			// Not cut by the window: the records stop here.
			r.res.bad(path, pos, r.nextEntry(c.win[rel:]), "records stop at %d before the sealed end %d: %v", pos, end, ch.Err())
			return -1, 0, nil
		}
	}
	return pos, prev, nil
}

// nextEntry is the index of the entry the bytes b should hold when they
// look like an entry record (0 otherwise), for reports.
func (r *recordCheck) nextEntry(b []byte) uint64 {
	switch {
	case len(b) == 0 || format.Type(b[0]) != format.TypeEntry:
		return 0
	case r.base != 0:
		return r.base + r.count
	}
	return r.t.hdr.Base
}

// record checks one record at off and replays it. false: stop.
func (r *recordCheck) record(off int64, rec format.Record) bool {
	res, path := r.res, r.t.seg.path
	res.records++
	switch rec.Type {
	case format.TypeState:
		r.stateOff = off
	case format.TypeEntry:
		id, err := format.EntryID(rec.Body)
		if err != nil {
			res.bad(path, off, 0, "%v", err)
			return false
		}
		res.entries++
		if r.base == 0 {
			r.base = id.Index
		}
		if id.Index != r.base+r.count {
			res.bad(path, off, id.Index, "entry %d out of place after entries %d+%d", id.Index, r.base, r.count)
			return false
		}
		r.c.want = append(r.c.want[:r.count], uint32(off/format.Align))
		r.count++
		r.digest(off, id, rec.Body[format.EntryHeadSize:])
	case format.TypeTruncate:
		first, _, err := format.Truncate(rec.Body)
		if err != nil {
			res.bad(path, off, 0, "%v", err)
			return false
		}
		r.base, r.count = raftstate.TruncateSpan(r.base, r.count, first)
	}
	return true
}

// digest adds entry id to the segment's digest when its record is the
// live one (the index points at it) and it is in the live range.
func (r *recordCheck) digest(off int64, id LogID, payload []byte) {
	h, t := r.t.hdr, r.t
	if !r.slotsOK || id.Index < t.lo || id.Index > t.hi || id.Index < h.Base || id.Index-h.Base >= h.Count {
		return
	}
	if r.c.slot(id.Index-h.Base) == uint32(off/format.Align) {
		r.res.digest.Add(id, payload)
	}
}

// compareSlots compares the disk slots with the records' offsets.
func (r *recordCheck) compareSlots(path string) {
	bad, first := 0, uint64(0)
	for k := range r.count {
		if r.c.slot(k) != r.c.want[k] {
			if bad == 0 {
				first = k
			}
			bad++
		}
	}
	if bad > 0 {
		r.res.bad(path, index.HeaderSize+int64(first)*index.SlotSize, r.base+first,
			"slot %d points at offset %d; the entry's record is at %d (%d wrong slots)",
			first, int64(r.c.slot(first))*format.Align, int64(r.c.want[first])*format.Align, bad)
	}
}
