package fuzz

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/mmaplog"
)

// F8: files from elsewhere. Each seed runs one random workload on two
// logs of the same shape (the same operations, IDs and payload lengths,
// other payload bytes: log A and its twin B) to a fully durable end
// (closed cleanly, or synced), so that their segment headers are byte for
// byte the same. Then, once per copy of A's image, a file-level fault:
//
//   - foreign: a segment with its index, a segment alone or an index
//     alone, copied from B to the same place in A (a segment with its
//     index only when A has another segment: B's only segment and index
//     are B's whole log, which nothing can tell from A's);
//   - misplaced: a segment with its index copied over another segment of
//     A, two segments swapped, or an index copied to another segment;
//   - missing: the last segment deleted, emptied or cut to 63 bytes, when
//     the sealed index of the segment before it proves that it existed.
//
// Open must return ErrCorrupt, or a later Get must (detected), or the log
// must come back exactly as it was (intact: an index that is rebuilt or
// still points at the right records). Data of another log or another
// place returned as A's entries, a shorter or different log, and any
// other error are violations (I4, I8).
func TestF8ForeignFiles(t *testing.T) {
	fam := newFamily(t, "F8")
	for _, k := range []string{"injections", "foreign", "misplaced", "missing", "detected", "intact"} {
		fam.add(k, 0)
	}
	fam.run("injections", 300, func(seed uint64) error { return f8Seed(fam, seed) })
}

const f8PerBase = 16

func f8Seed(fam *family, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 8))
	a, b, o, err := f8Build(rng)
	if err != nil {
		fam.baseFailure(seed, err)
		return nil
	}
	for range f8PerBase {
		img := a.snap.Image(a.snap.KeepAll())
		class, desc, ok := f8Inject(rng, a, b, img)
		if !ok {
			continue
		}
		fam.add("injections", 1)
		fam.add(class, 1)
		outcome, err := f8Outcome(o, a.expected, img)
		if err != nil {
			fam.violation(seed, "%s %s: %v", class, desc, err)
			continue
		}
		fam.add(outcome, 1)
	}
	return nil
}

// f8Build runs a random workload on log A and the same workload with
// other payload bytes on its twin B, both to the same fully durable end.
func f8Build(rng *rand.Rand) (a, b *f4Base, o *Oracle, err error) {
	da, err := newDriver(crashfs.New(), NewOracle())
	if err != nil {
		return nil, nil, nil, err
	}
	defer da.abandon()
	g := NewGen(rng, da.o)
	if rng.IntN(2) == 0 {
		g.MaxPayload, g.BatchScale = 256, 4 // many entries per segment
	}
	closed := rng.IntN(2) == 0
	nops := 10 + rng.IntN(60)
	var ops []Op // A's, for the twin
	run := func(d *driver, next func() (Op, bool)) (*f4Base, error) {
		for {
			op, ok := next()
			if !ok {
				break
			}
			if err := d.do(op); err != nil {
				return nil, err
			}
		}
		if closed {
			if err := d.l.Close(); err != nil {
				return nil, fmt.Errorf("close: %w", err)
			}
			d.l = nil
		} else if err := d.do(Op{Kind: Sync}); err != nil {
			return nil, err
		}
		base := &f4Base{snap: d.fs.Snapshot(), expected: d.o.Steps()}
		if err := checkImage(d.o, base.snap.Image(base.snap.KeepAll()), base.expected); err != nil {
			return nil, fmt.Errorf("the undamaged log: %w", err)
		}
		return base, base.layout(base.snap.Image(base.snap.KeepAll()))
	}
	a, err = run(da, func() (Op, bool) {
		if len(ops) == nops {
			return Op{}, false
		}
		op := g.Next() // drawn for A's state, so one at a time
		if op.Kind == Flush {
			op.Kind = Sync // deterministic durable watermarks: the twin matches
		}
		ops = append(ops, op)
		return op, true
	})
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := newDriver(crashfs.New(), NewOracle())
	if err != nil {
		return nil, nil, nil, err
	}
	defer db.abandon()
	twin := f8Twin(ops, rng)
	if b, err = run(db, func() (Op, bool) {
		if len(twin) == 0 {
			return Op{}, false
		}
		op := twin[0]
		twin = twin[1:]
		return op, true
	}); err != nil {
		return nil, nil, nil, fmt.Errorf("twin: %w", err)
	}
	return a, b, da.o, nil
}

// f8Twin returns ops with every payload and user-data blob replaced by
// other bytes of the same length.
func f8Twin(ops []Op, rng *rand.Rand) []Op {
	other := func(p []byte) []byte {
		if p == nil {
			return nil
		}
		q := make([]byte, len(p))
		for i := range q {
			q[i] = p[i] ^ byte(1+rng.IntN(255))
		}
		return q
	}
	out := make([]Op, len(ops))
	for i, op := range ops {
		out[i] = op
		switch op.Kind {
		case Append:
			es := make([]mmaplog.Entry, len(op.Entries))
			for j, e := range op.Entries {
				es[j] = mmaplog.Entry{ID: e.ID, Payload: other(e.Payload)}
			}
			out[i].Entries = es
		case UserData:
			out[i].Data = other(op.Data)
		}
	}
	return out
}

var f8Kinds = []string{"foreign-both", "foreign-segment", "foreign-index", "misplaced-copy", "misplaced-swap", "misplaced-index", "missing-delete", "missing-empty", "missing-cut"}

// f8Inject applies one file-level fault to img (a copy of A). It returns
// the class (foreign, misplaced, missing), a description, and false when
// the drawn fault does not apply to this base or changes nothing.
func f8Inject(rng *rand.Rand, a, b *f4Base, img *crashfs.FS) (string, string, bool) {
	kind := f8Kinds[rng.IntN(len(f8Kinds))]
	class, _, _ := strings.Cut(kind, "-")
	n := len(a.segs)
	if n == 0 {
		return "", "", false
	}
	idxOf := func(seg string) string {
		return strings.TrimSuffix(seg, format.SegmentSuffix) + format.IndexSuffix
	}
	read := func(fs *crashfs.FS, p string) ([]byte, bool) { return fs.ReadFile(p) }
	put := func(dst string, data []byte, ok bool) bool {
		if !ok {
			return false
		}
		if old, had := img.ReadFile(dst); had && bytes.Equal(old, data) {
			return false
		}
		img.WriteFile(dst, data)
		return true
	}
	k := rng.IntN(n)
	seg := a.segs[k].path
	changed := false
	var desc string
	switch kind {
	case "foreign-both", "foreign-segment", "foreign-index":
		if kind == "foreign-both" && n < 2 {
			return "", "", false // the twin's whole log: nothing of A is left to tell
		}
		bimg := b.snap.Image(b.snap.KeepAll())
		desc = fmt.Sprintf("%s from the twin log", filepath.Base(seg))
		if kind != "foreign-index" {
			data, ok := read(bimg, seg)
			changed = put(seg, data, ok)
		}
		if kind != "foreign-segment" {
			data, ok := read(bimg, idxOf(seg))
			changed = put(idxOf(seg), data, ok) || changed
			desc = strings.Replace(desc, ".seg", ".seg/.idx", 1)
		}
		if kind == "foreign-index" {
			desc = fmt.Sprintf("%s from the twin log", filepath.Base(idxOf(seg)))
		}
	case "misplaced-copy", "misplaced-swap", "misplaced-index":
		if n < 2 {
			return "", "", false
		}
		j := (k + 1 + rng.IntN(n-1)) % n
		src := a.segs[j].path
		sd, sok := img.ReadFile(src)
		si, siok := img.ReadFile(idxOf(src))
		dd, dok := img.ReadFile(seg)
		di, diok := img.ReadFile(idxOf(seg))
		switch kind {
		case "misplaced-copy":
			desc = fmt.Sprintf("%s and its index copied over %s", filepath.Base(src), filepath.Base(seg))
			changed = put(seg, sd, sok)
			changed = put(idxOf(seg), si, siok) || changed
		case "misplaced-swap":
			desc = fmt.Sprintf("%s and %s swapped, with their indexes", filepath.Base(src), filepath.Base(seg))
			changed = put(seg, sd, sok)
			changed = put(src, dd, dok) || changed
			changed = put(idxOf(seg), si, siok) || changed
			changed = put(idxOf(src), di, diok) || changed
		default:
			desc = fmt.Sprintf("index of %s copied over the index of %s", filepath.Base(src), filepath.Base(seg))
			changed = put(idxOf(seg), si, siok)
		}
	default: // missing
		last := a.segs[n-1]
		if n < 2 || a.segs[n-2].sealed == 0 {
			return "", "", false // nothing proves the last segment existed
		}
		seg = last.path
		data, _ := img.ReadFile(seg)
		switch kind {
		case "missing-delete":
			desc = fmt.Sprintf("last segment %s deleted", filepath.Base(seg))
			changed = img.RemoveFile(seg)
		case "missing-empty":
			desc = fmt.Sprintf("last segment %s emptied", filepath.Base(seg))
			changed = put(seg, []byte{}, true)
		default:
			desc = fmt.Sprintf("last segment %s cut to 63 bytes", filepath.Base(seg))
			changed = put(seg, data[:min(63, len(data))], true)
		}
	}
	return class, desc, changed
}

// f8Outcome classifies what the log made of the damaged image; an error
// is a violation.
func f8Outcome(o *Oracle, step int, img *crashfs.FS) (string, error) {
	detected, mismatch, err := openDamaged(o, step, img)
	switch {
	case err != nil:
		return "", err
	case detected:
		return "detected", nil
	case mismatch == nil:
		return "intact", nil
	}
	return "", fmt.Errorf("accepted: %w", mismatch)
}
