package mmaplog

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// Digest summarizes entries First..Last so that two replicas can compare
// them without shipping them: logs holding the same entries over the same
// range have equal Digests whatever their segment sizes. Sum is the
// CRC-64/ECMA over, per entry in index order, term (u64), index (u64) and
// the CRC-32C of the payload (u32), little-endian; see docs/FORMAT.md.
type Digest = raftstate.Digest

// SegmentDigest is the digest of the live entries of one sealed segment.
type SegmentDigest struct {
	Segment uint64 // segment ID (its file's number)
	Digest         // its live entries; the zero Digest when it holds none
}

// Digest returns the digest of the entries [from, to] as Get reads them
// (through the mapping: what the page cache holds). Every record's
// checksum is checked on the way, as by Get: a damaged one is a
// *CorruptError. A range that is not all in [FirstIndex, LastIndex] is
// ErrNotFound. It takes the readers' lock for one entry at a time.
//
// Two nodes' digests are comparable only over the same range, so compare
// a range both hold: below both nodes' last (committed) index and above
// both first indexes.
func (l *Log) Digest(from, to uint64) (Digest, error) {
	var d Digest
	if to < from {
		return d, fmt.Errorf("%w: empty range [%d, %d]", ErrNotFound, from, to)
	}
	for i := from; ; i++ {
		if err := l.digestEntry(&d, i); err != nil {
			return Digest{}, err
		}
		if i == to {
			return d, nil
		}
	}
}

func (l *Log) digestEntry(d *Digest, i uint64) (err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	defer vfs.CatchFault(debug.SetPanicOnFault(true), &err, ErrFailed)
	id, payload, err := l.entryAt(i)
	if err != nil {
		return err
	}
	d.Add(id, payload)
	return nil
}

// SegmentDigests returns, for each sealed segment in ID order (not the
// open one), the digest of its live entries: those readers get from it,
// between FirstIndex and LastIndex, the ones a later segment supersedes
// left out. A digest is computed once per segment and range, by the
// verifier from the bytes it read from the disk or here through the
// mapping; after a purge or truncation narrows a segment's range it is
// computed again. A segment purged (or truncated) during the call is
// left out.
//
// Segment boundaries differ between nodes: to compare two nodes, compare
// Digest over a range both hold, or per-segment digests over ranges they
// share.
func (l *Log) SegmentDigests() ([]SegmentDigest, error) {
	targets, err := l.sealedSegments()
	if err != nil {
		return nil, err
	}
	out := make([]SegmentDigest, 0, len(targets))
	for _, t := range targets {
		d, err := l.segmentDigest(t)
		if errors.Is(err, ErrNotFound) {
			continue // purged (or truncated) meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, SegmentDigest{Segment: t.seg.id, Digest: d})
	}
	return out, nil
}

// segmentDigest returns the digest of t's live entries, from the cache
// when it covers the same range.
func (l *Log) segmentDigest(t verifyTarget) (Digest, error) {
	if t.lo > t.hi {
		return Digest{}, nil
	}
	if c := t.seg.digest.Load(); c != nil && c.First == t.lo && c.Last == t.hi {
		return *c, nil
	}
	d, err := l.Digest(t.lo, t.hi)
	if err != nil {
		return Digest{}, err
	}
	t.seg.digest.Store(&d)
	return d, nil
}
