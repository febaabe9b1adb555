package mmaplog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/raftlog/raftlog/index"
)

// DefaultVerifyRate is the default VerifyOptions.Rate and
// VerifierOptions.Rate: 64 MiB/s, one default-sized segment a second.
const DefaultVerifyRate = 64 << 20

// VerifyOptions configures Log.Verify. The zero value means defaults.
type VerifyOptions struct {
	// Rate is the most bytes per second Verify reads from the disk
	// (segment and index bytes alike), paced in reads of 256 KiB.
	// Default DefaultVerifyRate; negative: as fast as the disk goes.
	Rate int64
	// OnProblem, when set, is called once for each problem found, on the
	// verifying goroutine, after the segment holding it was checked.
	OnProblem func(*CorruptError)

	// clock paces the reads; nil means the real one (tests set it
	// through export_test.go).
	clock clock
}

// VerifierOptions configures the background verifier (Options.Verify).
// The zero value means no background verifier.
type VerifierOptions struct {
	// Interval is the pause between the end of one verification pass over
	// the sealed segments and the start of the next; the first pass starts
	// one Interval after Open. 0: no background verifier. An hour or a
	// day is typical: a pass over a 10 GiB log at the default rate takes
	// under three minutes.
	Interval time.Duration
	// Rate and OnProblem: as in VerifyOptions. OnProblem must not call
	// Close (Close waits for the verifier to stop).
	Rate      int64
	OnProblem func(*CorruptError)
}

func (o VerifierOptions) validate() error {
	if o.Interval < 0 {
		return fmt.Errorf("%w: Verify.Interval %v is negative", ErrInvalidOptions, o.Interval)
	}
	return nil
}

// VerifyReport is the outcome of one Verify pass.
type VerifyReport struct {
	Segments int // sealed segments checked
	Skipped  int // sealed segments purged (or their index resealed) while being checked: not judged
	// Unproven counts sealed indexes whose slots do not match their seal
	// (a crash tore the seal before this Open) and that no read has used
	// yet: the log rebuilds them from the records on first use, as Open
	// would, so they are not damage. Their slots are not compared.
	Unproven int
	Records  int   // records checked
	Entries  int   // entry records checked (including ones a Truncate later removed)
	Bytes    int64 // bytes read from the disk
	// Problems lists the damage found, in log order: the file, the offset
	// in it, the entry when known, and what is wrong.
	Problems []*CorruptError
	// Digests holds the digest of the live entries of each checked
	// segment without problems, computed from the bytes read from the
	// disk (see SegmentDigests).
	Digests []SegmentDigest
}

// Verify re-reads every sealed segment (one whose index was sealed
// complete, which the log never writes again; not the open one) and its
// index from the disk, and checks them against each other and against what
// the log holds in memory. It reads through a separate read-only file
// descriptor with pread, at most opts.Rate bytes per second, and drops the
// cached pages of each range first (madvise(MADV_DONTNEED) on the log's
// own mapping, then posix_fadvise(DONTNEED); Linux only), so that what it
// reads comes from the disk, not from the page cache.
//
// It checks the segment header (identity, position, size, and that it
// continues the previous segment's chain), every record's framing,
// checksum and chain link from the header's seed up to the sealed end, the
// chain value and last State record there, the index header against the
// one the log sealed, the slots' checksum, and every slot against the
// record of its entry. Damage is reported in the VerifyReport, counted in
// Stats.Verify, logged at Error level through Options.Logger and passed to
// opts.OnProblem; the log itself is not failed (a later Get of a damaged
// entry returns a *CorruptError, and the next Open refuses the log when
// the damage is to data it needs; see raftlog verify and repair).
//
// What it cannot see: damage to the open segment, and bytes held dirty or
// mapped by another process (their pages stay cached); on other systems
// than Linux, or where the file system cannot drop pages, it reads the
// page cache, which shows what the disk held when the pages were last
// read. After it ran, the log's reads of the segment come from the disk
// again (a minor cost, once).
//
// Verify holds the log's readers' lock only to take the list of segments
// and while dropping one 256 KiB range from the cache: writers never wait
// on it for longer than a read of a record. A segment purged while it is
// checked is skipped (VerifyReport.Skipped) without a problem. A Close
// during the pass makes Verify return ErrClosed; ctx ends it early with
// ctx.Err(). Both return the partial report. Other errors are I/O
// failures outside the data (opening a file); a read that fails is a
// problem of the file at that offset.
func (l *Log) Verify(ctx context.Context, opts VerifyOptions) (VerifyReport, error) {
	if opts.Rate == 0 {
		opts.Rate = DefaultVerifyRate
	}
	if opts.clock == nil {
		opts.clock = realClock{}
	}
	var rep VerifyReport
	targets, err := l.sealedSegments()
	if err != nil {
		return rep, err
	}
	c := &checker{l: l, ctx: ctx, pace: newPacer(opts.Rate, opts.clock)}
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		res, err := c.segment(t)
		rep.Bytes += res.bytes
		l.ver.checked(0, res.bytes)
		if errors.Is(err, errGone) || (err == nil && (l.segmentGone(t.seg) || t.seg.sealed.Load() != t.sealed)) {
			rep.Skipped++ // purged, or its index resealed, meanwhile
			continue
		}
		if err != nil {
			return rep, err
		}
		rep.Segments++
		if res.unproven {
			rep.Unproven++
		}
		rep.Records += res.records
		rep.Entries += res.entries
		l.ver.checked(1, 0)
		for _, ce := range res.problems {
			rep.Problems = append(rep.Problems, ce)
			l.ver.report(ce, opts.OnProblem)
		}
		if len(res.problems) == 0 && res.digestOK {
			d := res.digest
			t.seg.digest.Store(&d)
			rep.Digests = append(rep.Digests, SegmentDigest{Segment: t.seg.id, Digest: d})
		}
	}
	l.ver.passed(len(rep.Problems))
	return rep, nil
}

// verifyTarget is one sealed segment to check, as the log saw it when the
// pass started.
type verifyTarget struct {
	seg    *segment
	sealed *index.Header // seg.sealed when the pass started
	hdr    index.Header  // the header it was sealed with (*sealed)
	prev   *index.Header // the previous segment's seal (nil: none, or purged)
	// lo..hi are its live entries (lo > hi: none), for the digest.
	lo, hi uint64
}

// sealedSegments lists the sealed segments in ID order.
func (l *Log) sealedSegments() ([]verifyTarget, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	var out []verifyTarget
	for i, s := range l.segs {
		h := s.sealed.Load()
		if h == nil {
			continue
		}
		t := verifyTarget{seg: s, sealed: h, hdr: *h}
		if i > 0 && l.segs[i-1].id+1 == s.id {
			t.prev = l.segs[i-1].sealed.Load()
		}
		t.lo, t.hi = l.liveRange(i, h.Base, h.Count)
		out = append(out, t)
	}
	return out, nil
}

// liveRange returns the live entries segment pos holds, given its base
// and count: those of its run, clipped to [first, Last]. lo > hi when
// there are none. Call with mu read-locked.
func (l *Log) liveRange(pos int, base, count uint64) (lo, hi uint64) {
	for k, r := range l.runs {
		if r.Seg != pos || count == 0 {
			continue
		}
		lo, hi = max(r.First, l.firstIndex()), min(base+count-1, l.state.Last.Index)
		if k+1 < len(l.runs) {
			hi = min(hi, l.runs[k+1].First-1)
		}
		if lo <= hi {
			return lo, hi
		}
		break
	}
	return 1, 0
}

// segmentGone reports whether s was purged and removed, or closed.
func (l *Log) segmentGone(s *segment) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return s.gone
}
