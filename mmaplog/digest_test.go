package mmaplog_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// writeEntries appends entries 1..n with sizes drawn from seed, changing
// entry flip's payload by one byte when flip is nonzero, and syncs.
func writeEntries(t *testing.T, l *mmaplog.Log, n uint64, seed uint64, flip uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	for i := uint64(1); i <= n; i++ {
		e := ent(1+i/100, i, 10+r.IntN(1500))
		if i == flip {
			e.Payload[len(e.Payload)-1] ^= 1
		}
		logtest.MustAppend(t, l, e)
	}
	logtest.MustSync(t, l)
}

func mustDigest(t *testing.T, l *mmaplog.Log, from, to uint64) mmaplog.Digest {
	t.Helper()
	d, err := l.Digest(from, to)
	if err != nil {
		t.Fatalf("Digest(%d, %d): %v", from, to, err)
	}
	return d
}

// Two logs holding the same entries in segments of different sizes have
// the same digests over every range; one changed payload byte changes
// every digest covering it and no other.
func TestDigestsCompareReplicas(t *testing.T) {
	const n = 600
	a := logtest.MustOpen(t, t.TempDir(), mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize, Logger: quiet})
	b := logtest.MustOpen(t, t.TempDir(), mmaplog.Options{SegmentSize: 4 * mmaplog.MinSegmentSize, Logger: quiet})
	c := logtest.MustOpen(t, t.TempDir(), mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize, Logger: quiet})
	writeEntries(t, a, n, 7, 0)
	writeEntries(t, b, n, 7, 0)
	writeEntries(t, c, n, 7, 300)

	da := mustDigest(t, a, 1, n)
	if da.First != 1 || da.Last != n || da.Entries != n || da.Sum == 0 {
		t.Fatalf("Digest(1, %d) = %v", n, da)
	}
	if db := mustDigest(t, b, 1, n); db != da {
		t.Fatalf("same entries, other segment size: %v vs %v", db, da)
	}
	if dc := mustDigest(t, c, 1, n); dc == da {
		t.Fatalf("one payload byte differs, digests equal: %v", dc)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		from := 1 + r.Uint64N(n)
		to := from + r.Uint64N(n-from+1)
		da, db, dc := mustDigest(t, a, from, to), mustDigest(t, b, from, to), mustDigest(t, c, from, to)
		if da != db {
			t.Fatalf("[%d, %d]: %v vs %v", from, to, da, db)
		}
		if covers := from <= 300 && 300 <= to; (da != dc) != covers {
			t.Fatalf("[%d, %d] (covers 300: %v): %v vs changed log %v", from, to, covers, da, dc)
		}
	}

	// Per-segment digests: contiguous ranges over the sealed entries, each
	// equal to the range digest of the other log; the segment holding 300
	// differs in the changed log.
	segsA, err := a.SegmentDigests()
	if err != nil {
		t.Fatal(err)
	}
	segsB, err := b.SegmentDigests()
	if err != nil {
		t.Fatal(err)
	}
	if len(segsA) < 5 || len(segsB) == 0 || len(segsB) >= len(segsA) {
		t.Fatalf("%d and %d sealed segments", len(segsA), len(segsB))
	}
	next := uint64(1)
	for _, sd := range segsA {
		if sd.First != next || sd.Entries != sd.Last-sd.First+1 {
			t.Fatalf("segment %d digest %v: want it to start at %d", sd.Segment, sd.Digest, next)
		}
		next = sd.Last + 1
		if db := mustDigest(t, b, sd.First, sd.Last); db != sd.Digest {
			t.Fatalf("segment %d: %v; the other log over the same range: %v", sd.Segment, sd.Digest, db)
		}
		if dc := mustDigest(t, c, sd.First, sd.Last); (dc != sd.Digest) != (sd.First <= 300 && 300 <= sd.Last) {
			t.Fatalf("segment %d %v vs the changed log %v", sd.Segment, sd.Digest, dc)
		}
	}
	segsC, err := c.SegmentDigests()
	if err != nil {
		t.Fatal(err)
	}
	differ := 0
	for i := range segsC {
		if segsC[i] != segsA[i] {
			differ++
		}
	}
	if len(segsC) != len(segsA) || differ != 1 {
		t.Fatalf("changed log: %d of %d segment digests differ, want 1", differ, len(segsC))
	}

	// The verifier computes the same digests from the disk bytes.
	rep := mustVerify(t, a, unlimited)
	if len(rep.Digests) != len(segsA) {
		t.Fatalf("verifier: %d digests, want %d", len(rep.Digests), len(segsA))
	}
	for i := range segsA {
		if rep.Digests[i] != segsA[i] {
			t.Fatalf("verifier %v, mapping %v", rep.Digests[i], segsA[i])
		}
	}
}

// A purge or a truncation that narrows a segment's live range narrows
// its digest; the digests stay those of the entries readers get.
func TestSegmentDigestsFollowPurgeAndTruncate(t *testing.T) {
	l := logtest.MustOpen(t, t.TempDir(), smallOpts())
	writeEntries(t, l, 500, 3, 0)
	before, err := l.SegmentDigests()
	if err != nil {
		t.Fatal(err)
	}
	first := before[0]
	cut := first.First + (first.Last-first.First)/2
	if err := l.Purge(lid(1, cut)); err != nil {
		t.Fatal(err)
	}
	// Truncate into the third sealed segment: the segments after it hold
	// no live entry any more.
	third := before[2]
	keep := third.First + 3
	if err := l.Truncate(keep + 1); err != nil {
		t.Fatal(err)
	}
	after, err := l.SegmentDigests()
	if err != nil {
		t.Fatal(err)
	}
	if after[0].First != cut+1 || after[0].Last != first.Last || after[0].Digest != mustDigest(t, l, cut+1, first.Last) {
		t.Fatalf("after Purge(%d): first segment digest %v", cut, after[0].Digest)
	}
	if after[1] != before[1] {
		t.Fatalf("untouched segment: %v, before %v", after[1], before[1])
	}
	if after[2].Last != keep || after[2].Digest != mustDigest(t, l, third.First, keep) {
		t.Fatalf("after Truncate(%d): third segment digest %v", keep+1, after[2].Digest)
	}
	for _, sd := range after[3:] {
		if sd.Digest != (mmaplog.Digest{}) {
			t.Fatalf("segment %d after the truncation point: %v, want no entries", sd.Segment, sd.Digest)
		}
	}
}

func TestDigestErrors(t *testing.T) {
	l := logtest.MustOpen(t, t.TempDir(), smallOpts())
	writeEntries(t, l, 100, 1, 0)
	if err := l.Purge(lid(1, 10)); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]uint64{{5, 3}, {0, 20}, {5, 20}, {50, 101}, {200, 300}} {
		if _, err := l.Digest(r[0], r[1]); !errors.Is(err, mmaplog.ErrNotFound) {
			t.Errorf("Digest(%d, %d): %v, want ErrNotFound", r[0], r[1], err)
		}
	}
	if d := mustDigest(t, l, 11, 11); d.Entries != 1 || d.First != 11 || d.Last != 11 {
		t.Errorf("Digest(11, 11) = %v", d)
	}
	logtest.MustClose(t, l)
	if _, err := l.Digest(11, 20); !errors.Is(err, mmaplog.ErrClosed) {
		t.Errorf("Digest after Close: %v", err)
	}
	if _, err := l.SegmentDigests(); !errors.Is(err, mmaplog.ErrClosed) {
		t.Errorf("SegmentDigests after Close: %v", err)
	}
}

// Dump prints the digest of every sealed segment after its records.
func TestDumpDigests(t *testing.T) {
	l := logtest.MustOpen(t, t.TempDir(), smallOpts())
	writeEntries(t, l, 300, 5, 0)
	segs, err := l.SegmentDigests()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := l.Dump(&out); err != nil {
		t.Fatal(err)
	}
	for _, sd := range segs {
		if line := "  digest " + sd.String() + "\n"; !strings.Contains(out.String(), line) {
			t.Fatalf("Dump lacks %q:\n%s", line, out.String())
		}
	}
	if got := strings.Count(out.String(), "  digest "); got != len(segs) {
		t.Fatalf("Dump has %d digest lines for %d sealed segments", got, len(segs))
	}
}
