package format_test

import (
	"bytes"
	"errors"
	"flag"
	"math/rand/v2"
	"testing"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
)

var seed = flag.Uint64("seed", 0, "seed of TestReadEntryMutations (0: random)")

// entryRecord returns data holding, at off, the record of entry id with
// payload p, followed by tail zero bytes.
func entryRecord(off int64, id raftstate.LogID, p []byte, tail int) []byte {
	n := format.EntryHeadSize + len(p)
	data := make([]byte, off+format.RecordSize(n)+int64(tail))
	rec := data[off:]
	format.PutEntryHead(rec[format.FrameSize:], id)
	copy(rec[format.FrameSize+format.EntryHeadSize:], p)
	format.PutFrame(rec[:format.RecordSize(n)], format.TypeEntry, n, 77, 0xabcd)
	return data
}

// agree fails t unless ReadEntry and EntryAt's full check (ReadRecord, then
// the body) come to the same verdict and, on success, the same entry.
func agree(t *testing.T, data []byte, off int64, i uint64) bool {
	t.Helper()
	id, p, ok := format.ReadEntry(data, off, i)
	wid, wp, ce := format.EntryAtSlow("seg", data, off, i)
	if ok != (ce == nil) {
		t.Fatalf("ReadEntry(off %d, entry %d) ok=%v, EntryAt: %v\n% x", off, i, ok, ce, data)
	}
	if ok && (id != wid || !bytes.Equal(p, wp) || len(p) != len(wp)) {
		t.Fatalf("ReadEntry(off %d, entry %d) = %v %x, EntryAt %v %x", off, i, id, p, wid, wp)
	}
	return ok
}

func TestReadEntryValid(t *testing.T) {
	for size := range 20 { // every padding length
		p := bytes.Repeat([]byte{0xa5}, size)
		id := raftstate.LogID{Term: 3, Index: 9}
		data := entryRecord(16, id, p, 5)
		got, gp, ok := format.ReadEntry(data, 16, 9)
		if !ok || got != id || !bytes.Equal(gp, p) {
			t.Fatalf("size %d: ReadEntry = %v %x %v, want %v %x", size, got, gp, ok, id, p)
		}
		agree(t, data, 16, 9)
		// EntryAt takes the fast path and returns the same.
		eid, ep, ce := format.EntryAt("seg", data, 16, 9)
		if ce != nil || eid != id || !bytes.Equal(ep, p) {
			t.Fatalf("size %d: EntryAt = %v %x %v", size, eid, ep, ce)
		}
	}
}

// TestReadEntryRefuses: each way a record can fail EntryAt fails ReadEntry,
// and EntryAt (which falls back to its full check) still reports it.
func TestReadEntryRefuses(t *testing.T) {
	id := raftstate.LogID{Term: 3, Index: 9}
	p := []byte("payload") // 7 bytes: one byte of padding
	const off = 8
	recSize := int(format.RecordSize(format.EntryHeadSize + len(p)))
	refit := func(b []byte) { // recompute the CRC over edited bytes
		n := int(le32(b[off+4:]))
		format.PutFrame(b[off:off+recSize], format.Type(b[off]), n, 77, 0xabcd)
	}
	cases := []struct {
		name  string
		i     uint64
		off   int64
		edit  func(b []byte)
		trunc int // bytes cut off the end of data
	}{
		{name: "wrong index", i: 10},
		{name: "negative offset", i: 9, off: -8},
		{name: "offset past the end", i: 9, off: 1 << 20},
		{name: "frame past the end", i: 9, trunc: recSize - 10},
		{name: "body past the end", i: 9, trunc: 8 + 4}, // the tail, then 4 bytes
		{name: "checksum", i: 9, edit: func(b []byte) { b[off+format.FrameSize+20] ^= 1 }},
		{name: "stored checksum", i: 9, edit: func(b []byte) { b[off+20] ^= 1 }},
		{name: "durable", i: 9, edit: func(b []byte) { b[off+8] ^= 1 }},
		{name: "prev", i: 9, edit: func(b []byte) { b[off+16] ^= 1 }},
		{name: "padding", i: 9, edit: func(b []byte) { b[off+recSize-1] = 1 }}, // not under the CRC
		{name: "reserved byte", i: 9, edit: func(b []byte) { b[off+2] = 1 }},
		{name: "vote record", i: 9, edit: func(b []byte) { b[off] = byte(format.TypeVote); refit(b) }},
		{name: "unknown type", i: 9, edit: func(b []byte) { b[off] = 99 }},
		{name: "zero frame", i: 9, edit: func(b []byte) { clear(b[off : off+format.FrameSize]) }},
		{name: "short body", i: 9, edit: func(b []byte) {
			// A valid record whose body is too short for an entry head.
			clear(b[off:])
			format.PutFrame(b[off:off+format.FrameSize+16], format.TypeEntry, 15, 77, 0xabcd)
		}},
		{name: "huge length", i: 9, edit: func(b []byte) { b[off+7] = 0xff }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := entryRecord(off, id, p, 8)
			if tc.edit != nil {
				tc.edit(data)
			}
			data = data[:len(data)-tc.trunc]
			at := int64(off)
			if tc.off != 0 {
				at = tc.off
			}
			if agree(t, data, at, tc.i) {
				t.Fatal("accepted")
			}
			if _, _, ce := format.EntryAt("seg", data, at, tc.i); !errors.Is(ce, format.ErrCorrupt) {
				t.Fatalf("EntryAt: %v, want a corrupt error", ce)
			}
		})
	}
}

// TestReadEntryMutations flips random bits of valid records (or sets
// random bytes, recomputing the CRC so that the checks behind it are
// reached) and holds ReadEntry to EntryAt's full check on each.
func TestReadEntryMutations(t *testing.T) {
	s := *seed
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("seed %d (-seed to repeat)", s)
	rng := rand.New(rand.NewPCG(s, 1))
	accepted := 0
	for range 20000 {
		size := rng.IntN(40)
		p := make([]byte, size)
		for k := range p {
			p[k] = byte(rng.Uint32())
		}
		id := raftstate.LogID{Term: rng.Uint64N(4), Index: 1 + rng.Uint64N(4)}
		off := int64(8 * rng.IntN(3))
		data := entryRecord(off, id, p, rng.IntN(9))
		for range rng.IntN(3) {
			k := rng.IntN(len(data))
			data[k] ^= 1 << rng.IntN(8)
		}
		if rng.IntN(2) == 0 {
			n := int(le32(data[off+4:]))
			if rs := format.RecordSize(n); n <= 64 && off+rs <= int64(len(data)) {
				format.PutFrame(data[off:off+rs], format.Type(data[off]), n, 77, 0xabcd)
			}
		}
		if agree(t, data[:len(data)-rng.IntN(3)], off, 1+rng.Uint64N(4)) {
			accepted++
		}
	}
	if accepted == 0 {
		t.Fatal("no mutated record was accepted: the test checks only refusals")
	}
}

// FuzzReadEntry: ReadEntry never panics and agrees with EntryAt's full
// check on any bytes.
func FuzzReadEntry(f *testing.F) {
	f.Add(entryRecord(0, raftstate.LogID{Term: 1, Index: 1}, []byte("abc"), 0), int64(0), uint64(1))
	f.Add(entryRecord(8, raftstate.LogID{Term: 2, Index: 5}, make([]byte, 8), 3), int64(8), uint64(5))
	f.Add([]byte{}, int64(0), uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, off int64, i uint64) {
		agree(t, data, off, i)
	})
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
