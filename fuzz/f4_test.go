package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftlog/raftlog/index"
	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// F4: injected corruption of durable bytes. Each seed builds a fully
// synced log (closed cleanly, or synced and then lost to a power loss that
// keeps everything), then injects one fault per copy into bytes that were
// durable: a bit flip, a random byte, a zeroed 512-byte sector, a zeroed
// 4 KiB page, a page copied from elsewhere (misdirected write) or an
// earlier version of the page (lost write), into record bytes, segment
// headers or index files. Open must return ErrCorrupt, or a later Get
// must; the log must never come back short or with wrong bytes (I4, I8).
//
// A fault is vouched for when a valid record's durable watermark lies
// beyond the first damaged byte, or the index of its segment is sealed
// complete past it. Damage that is not vouched for (the last flushed
// batch, with nothing durable after it) cannot be told from a torn write:
// when the log comes back short there, it counts as ambiguous, not as a
// violation. Outcomes: detected (ErrCorrupt), repaired (index damage,
// the log is intact), latent (the log is intact: the damaged bytes are
// never read, e.g. a superseded record in a cleanly closed segment),
// ambiguous, violation.
func TestF4Corruption(t *testing.T) {
	fam := newFamily(t, "F4")
	fam.run("injections", 5000, func(seed uint64) error { return f4Seed(fam, seed) })
}

const f4PerBase = 20

type f4Segment struct {
	path     string
	startPos uint64
	end      int64 // after the last chained record
	sealed   int64 // offset below which a complete index vouches (0: none)
}

type f4Base struct {
	snap     *crashfs.Snapshot
	old      *crashfs.FS // an earlier durable state, for lost writes
	segs     []f4Segment
	idxs     []string
	recs     []f4Record // every chained record, for the watermarks
	expected int        // the oracle step the log must come back at
}

type f4Record struct {
	seg      int
	off, end int64
	durable  uint64
	typ      format.Type
}

func f4Seed(fam *family, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 4))
	b, o, err := f4Build(rng)
	if err != nil {
		fam.baseFailure(seed, err)
		return nil
	}
	for range f4PerBase {
		img := b.snap.Image(b.snap.KeepAll())
		desc, class, vouched, ok := f4Inject(rng, b, img)
		if !ok {
			continue
		}
		fam.add("injections", 1)
		if trace {
			dumpImage(img.Snapshot().Image(crashfs.Plan{}))
		}
		outcome, err := f4Outcome(o, b.expected, img, class, vouched)
		if err != nil {
			fam.violation(seed, "%s: %v", desc, err)
			continue
		}
		fam.add(outcome, 1)
	}
	return nil
}

// f4Build runs a random workload to a fully durable end.
func f4Build(rng *rand.Rand) (*f4Base, *Oracle, error) {
	d, err := newDriver(crashfs.New(), NewOracle())
	if err != nil {
		return nil, nil, err
	}
	defer d.abandon()
	g := NewGen(rng, d.o)
	b := &f4Base{}
	nops := 10 + rng.IntN(60)
	for i := range nops {
		op := g.Next()
		if op.Kind == Flush {
			op.Kind = Sync // deterministic durable watermarks: replays match
		}
		if err := d.do(op); err != nil {
			return nil, nil, err
		}
		if i == nops/2 {
			if err := d.do(Op{Kind: Sync}); err != nil {
				return nil, nil, err
			}
			s := d.fs.Snapshot()
			b.old = s.Image(s.DropAll())
		}
	}
	switch rng.IntN(3) {
	case 0:
		if err := d.l.Close(); err != nil {
			return nil, nil, fmt.Errorf("close: %w", err)
		}
		d.l = nil
	case 1:
		// Synced with nothing after: the last batch is vouched for by
		// nothing (damage there is ambiguous).
		if err := d.do(Op{Kind: Sync}); err != nil {
			return nil, nil, err
		}
	default:
		// Synced, then one more record and sync: it vouches for the rest.
		for _, op := range []Op{{Kind: Sync}, {Kind: Commit, ID: d.o.State().Committed}, {Kind: Sync}} {
			if err := d.do(op); err != nil {
				return nil, nil, err
			}
		}
	}
	b.snap = d.fs.Snapshot()
	b.expected = d.o.Steps()
	if err := checkImage(d.o, b.snap.Image(b.snap.KeepAll()), b.expected); err != nil {
		return nil, nil, fmt.Errorf("the uncorrupted log: %w", err)
	}
	if err := b.layout(b.snap.Image(b.snap.KeepAll())); err != nil {
		return nil, nil, err
	}
	return b, d.o, nil
}

// layout reads the segments' record chains and index headers.
func (b *f4Base) layout(img *crashfs.FS) error {
	for _, p := range img.Files() {
		switch {
		case strings.HasSuffix(p, format.IndexSuffix):
			b.idxs = append(b.idxs, p)
		case strings.HasSuffix(p, format.SegmentSuffix):
			data, _ := img.ReadFile(p)
			h, prev, err := format.ReadSegmentHeader(data)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			s := f4Segment{path: p, startPos: h.StartPos, end: format.SegmentHeaderSize}
			for {
				r, err := format.ReadRecord(data, s.end)
				if err != nil || r.Prev != prev {
					break
				}
				b.recs = append(b.recs, f4Record{seg: len(b.segs), off: s.end, end: s.end + r.Size, durable: r.Durable, typ: r.Type})
				prev = r.CRC
				s.end += r.Size
			}
			if x, err := index.Open(img, strings.TrimSuffix(p, format.SegmentSuffix)+format.IndexSuffix); err == nil {
				if h, err := x.Header(); err == nil && h.Complete {
					s.sealed = h.ValidEnd
				}
				_ = x.Close()
			}
			b.segs = append(b.segs, s)
		}
	}
	return nil
}

// vouched reports whether the byte at off of segment k was proven
// durable, and by what: the durable watermark of a record that the damage
// [lo, hi) of that segment left intact, or the segment's sealed index.
func (b *f4Base) vouched(k int, off, lo, hi int64) (bool, string) {
	s := &b.segs[k]
	var durable uint64
	for _, r := range b.recs {
		if r.seg != k || r.end <= lo || r.off >= hi {
			durable = max(durable, r.durable)
		}
	}
	switch {
	case s.startPos+uint64(off) < durable:
		return true, "by watermark"
	case off < s.sealed:
		return true, "by sealed index"
	}
	return false, "not vouched"
}

var f4Kinds = []string{"bitflip", "byte", "zero-sector", "zero-page", "misdirected-page", "stale-page"}

// f4Inject damages img once. It returns a description, the target class
// ("data", "header", "index"), whether the damage is vouched for, and
// false when the drawn fault would change nothing.
func f4Inject(rng *rand.Rand, b *f4Base, img *crashfs.FS) (string, string, bool, bool) {
	kind := f4Kinds[rng.IntN(len(f4Kinds))]
	var (
		path    string
		class   string
		lo, hi  int64 // the region the target byte is drawn from
		seg     *f4Segment
		segNo   int
		vouched = true
		by      = "index file"
	)
	if r := rng.IntN(100); r < 25 && len(b.idxs) > 0 {
		class, path = "index", b.idxs[rng.IntN(len(b.idxs))]
		data, _ := img.ReadFile(path)
		n := int64(index.HeaderSize)
		if len(data) >= 32 {
			n += 4 * int64(min(uint64(len(data)), le64(data[24:])))
		}
		lo, hi = 0, min(n, int64(len(data)))
	} else {
		segNo = rng.IntN(len(b.segs))
		seg = &b.segs[segNo]
		path = seg.path
		if r < 40 {
			class, lo, hi = "header", 0, format.SegmentHeaderSize
		} else {
			class, lo, hi = "data", format.SegmentHeaderSize, seg.end
		}
	}
	if hi <= lo {
		return "", "", false, false
	}
	target := lo + rng.Int64N(hi-lo)
	var first, last int64 = -1, -1 // the first and last bytes changed
	var other []byte
	if kind == "misdirected-page" {
		src := b.segs[rng.IntN(len(b.segs))].path
		other, _ = img.ReadFile(src)
		if len(other) >= crashfs.PageSize {
			p := rng.IntN(len(other) / crashfs.PageSize)
			other = other[p*crashfs.PageSize : (p+1)*crashfs.PageSize]
		}
	}
	if kind == "stale-page" {
		other, _ = b.old.ReadFile(path)
		p := target / crashfs.PageSize * crashfs.PageSize
		if int64(len(other)) < p+crashfs.PageSize {
			return "", "", false, false
		}
		other = other[p : p+crashfs.PageSize]
	}
	img.Mutate(path, func(data []byte) {
		orig := bytes.Clone(data)
		switch kind {
		case "bitflip":
			data[target] ^= 1 << rng.IntN(8)
		case "byte":
			data[target] = byte(rng.Uint32())
		case "zero-sector":
			s := target &^ (crashfs.SectorSize - 1)
			clear(data[s:min(s+crashfs.SectorSize, int64(len(data)))])
		case "zero-page":
			p := target &^ (crashfs.PageSize - 1)
			clear(data[p:min(p+crashfs.PageSize, int64(len(data)))])
		case "misdirected-page", "stale-page":
			p := target &^ (crashfs.PageSize - 1)
			copy(data[p:], other)
		}
		for i := range data {
			if data[i] != orig[i] {
				if first < 0 {
					first = int64(i)
				}
				last = int64(i)
			}
		}
	})
	if first < 0 {
		return "", "", false, false // nothing changed
	}
	if seg != nil {
		if first >= seg.end {
			return "", "", false, false // only bytes past the records: not durable data
		}
		vouched, by = b.vouched(segNo, first, first, last+1)
	}
	return fmt.Sprintf("%s at %s+%d (first changed byte %d, %s, %s)", kind, filepath.Base(path), target, first, class, by), class, vouched, true
}

// f4Outcome classifies what the log made of the damage; an error is a
// violation.
func f4Outcome(o *Oracle, step int, img *crashfs.FS, class string, vouched bool) (string, error) {
	detected, mismatch, err := openDamaged(o, step, img)
	switch {
	case err != nil:
		return "violation", err
	case detected:
		return "detected", nil
	case mismatch == nil && class == "index":
		return "repaired", nil
	case mismatch == nil:
		return "latent", nil
	case !vouched:
		return "ambiguous", nil
	}
	return "violation", fmt.Errorf("undetected: %w", mismatch)
}

// openDamaged opens the damaged image img and checks it against o at
// step: detected when Open or a read reports ErrCorrupt; otherwise
// mismatch is what Check found wrong (nil: the log is intact), and err an
// Open or read that failed without ErrCorrupt.
func openDamaged(o *Oracle, step int, img *crashfs.FS) (detected bool, mismatch, err error) {
	l, err := mmaplog.Open(logDir, options(img))
	if err != nil {
		if errors.Is(err, mmaplog.ErrCorrupt) {
			return true, nil, nil
		}
		return false, nil, fmt.Errorf("Open failed without ErrCorrupt: %w", err)
	}
	defer l.Close()
	_, err = o.Check(l, step)
	switch {
	case err == nil:
		return false, nil, nil
	case errors.Is(err, mmaplog.ErrCorrupt):
		return true, nil, nil
	case errors.Is(err, ErrMismatch):
		return false, err, nil
	}
	return false, nil, fmt.Errorf("a read failed without ErrCorrupt: %w", err)
}

// dumpImage writes every segment's records to stderr (FUZZ_TRACE).
func dumpImage(img *crashfs.FS) {
	for _, p := range img.Files() {
		if strings.HasSuffix(p, format.SegmentSuffix) {
			data, _ := img.ReadFile(p)
			if err := recovery.DumpSegment(os.Stderr, p, data); err != nil {
				fmt.Fprintln(os.Stderr, p, err)
			}
		}
		if strings.HasSuffix(p, format.IndexSuffix) {
			if x, err := index.Open(img, p); err == nil {
				h, err := x.Header()
				fmt.Fprintf(os.Stderr, "index %s: %+v %v\n", p, h, err)
				_ = x.Close()
			}
		}
	}
}

func le64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}
