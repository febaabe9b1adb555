package hashiraft

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// codecCases are raft.Logs that must round-trip exactly (after the
// documented AppendedAt normalization, which these already satisfy).
func codecCases() map[string]raft.Log {
	east := time.FixedZone("", 5*3600+1800)
	west := time.FixedZone("", -7*3600)
	return map[string]raft.Log{
		"zero":            {},
		"nil-data":        {Index: 1, Term: 1, Type: raft.LogNoop},
		"empty-data":      {Index: 2, Term: 1, Data: []byte{}},
		"data":            {Index: 3, Term: 2, Type: raft.LogCommand, Data: []byte("hello")},
		"empty-ext":       {Index: 4, Term: 2, Data: []byte("x"), Extensions: []byte{}},
		"ext":             {Index: 5, Term: 3, Data: []byte("x"), Extensions: []byte{0, 1, 2}},
		"ext-no-data":     {Index: 6, Term: 3, Extensions: []byte("ext")},
		"utc":             {Index: 7, Term: 3, Data: []byte("d"), AppendedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)},
		"fixed-east":      {Index: 8, Term: 4, AppendedAt: time.Date(2024, 5, 6, 7, 8, 9, 1, east)},
		"fixed-west":      {Index: 9, Term: 4, AppendedAt: time.Date(1969, 12, 31, 23, 59, 59, 999999999, west)},
		"local":           {Index: 10, Term: 4, AppendedAt: time.Unix(1700000000, 42)},
		"epoch":           {Index: 11, Term: 5, AppendedAt: time.Unix(0, 0).UTC()},
		"far-past":        {Index: 12, Term: 5, AppendedAt: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)},
		"far-future":      {Index: 13, Term: 5, AppendedAt: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		"configuration":   {Index: 14, Term: 6, Type: raft.LogConfiguration, Data: bytes.Repeat([]byte{7}, 1000)},
		"unknown-type":    {Index: 15, Term: 6, Type: 200, Data: []byte{}},
		"max-ids":         {Index: math.MaxUint64, Term: math.MaxUint64, Data: []byte("m")},
		"all-fields":      {Index: 16, Term: 7, Type: raft.LogBarrier, Data: []byte{0}, Extensions: []byte{1}, AppendedAt: time.Date(2030, 1, 2, 3, 4, 5, 6, east)},
		"big-ext":         {Index: 17, Term: 7, Extensions: bytes.Repeat([]byte{9}, 300), Data: bytes.Repeat([]byte{8}, 70000)},
		"nil-data-w-time": {Index: 18, Term: 7, AppendedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for name, want := range codecCases() {
		t.Run(name, func(t *testing.T) {
			p := appendLog(nil, &want)
			if len(p) > encodedSizeBound(&want) {
				t.Errorf("encoded %d bytes, bound %d", len(p), encodedSizeBound(&want))
			}
			var got raft.Log
			if err := decodeLog(want.Index, want.Term, p, &got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			want.AppendedAt = normalizeTime(want.AppendedAt)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
			}
			if again := appendLog(nil, &got); !bytes.Equal(again, p) {
				t.Fatalf("re-encode differs:\n got %x\nwant %x", again, p)
			}
		})
	}
}

// TestCodecNormalizesTime pins the documented AppendedAt normalizations.
func TestCodecNormalizesTime(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	now := time.Now() // carries a monotonic reading and time.Local
	cases := []struct {
		name     string
		in, want time.Time
	}{
		{"monotonic-dropped", now, now.Round(0)},
		{"zero-in-zone", time.Time{}.In(ny), time.Time{}},
		{"named-zone-to-fixed", time.Date(2024, 7, 1, 12, 0, 0, 0, ny), time.Date(2024, 7, 1, 12, 0, 0, 0, time.FixedZone("", -4*3600))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := raft.Log{Index: 1, Term: 1, AppendedAt: c.in}
			var got raft.Log
			if err := decodeLog(1, 1, appendLog(nil, &in), &got); err != nil {
				t.Fatal(err)
			}
			if !got.AppendedAt.Equal(c.in) {
				t.Errorf("instant changed: got %v, want %v", got.AppendedAt, c.in)
			}
			if c.name == "named-zone-to-fixed" {
				if _, off := got.AppendedAt.Zone(); off != -4*3600 {
					t.Errorf("offset %d, want %d", off, -4*3600)
				}
				return
			}
			if !reflect.DeepEqual(got.AppendedAt, c.want) {
				t.Errorf("got %#v, want %#v", got.AppendedAt, c.want)
			}
		})
	}
}

// normalizeTime applies the AppendedAt normalizations documented in doc.go.
func normalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	t = t.Round(0)
	if t.Location() == time.UTC {
		return t.UTC()
	}
	_, off := t.Zone()
	if local := t.In(time.Local); func() bool { _, lo := local.Zone(); return lo == off }() {
		return local
	}
	return t.In(time.FixedZone("", off))
}

func TestCodecDecodedSlicesDoNotOverlap(t *testing.T) {
	in := raft.Log{Index: 1, Term: 1, Data: []byte("data"), Extensions: []byte("ext")}
	var got raft.Log
	if err := decodeLog(1, 1, appendLog(nil, &in), &got); err != nil {
		t.Fatal(err)
	}
	got.Extensions = append(got.Extensions, 'X', 'Y', 'Z', 'W')
	if string(got.Data) != "data" {
		t.Fatalf("appending to Extensions overwrote Data: %q", got.Data)
	}
}

func TestCodecRejects(t *testing.T) {
	valid := appendLog(nil, &raft.Log{Index: 1, Term: 1, Data: []byte("d"), Extensions: []byte("e"),
		AppendedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	cases := map[string]func([]byte) []byte{
		"empty":           func([]byte) []byte { return nil },
		"short":           func(b []byte) []byte { return b[:2] },
		"version-0":       func(b []byte) []byte { b[0] = 0; return b },
		"version-2":       func(b []byte) []byte { b[0] = 2; return b },
		"unknown-flag":    func(b []byte) []byte { b[2] |= 0x80; return b },
		"utc-without-tim": func([]byte) []byte { return []byte{payloadV1, 0, flagTimeUTC} },
		"ext-too-long":    func([]byte) []byte { return []byte{payloadV1, 0, flagExtensions, 5, 1} },
		"ext-overlong":    func([]byte) []byte { return []byte{payloadV1, 0, flagExtensions, 0x80, 0x00} },
		"time-truncated":  func([]byte) []byte { return []byte{payloadV1, 0, flagTime | flagTimeUTC, 2} },
		"nsec-too-big": func([]byte) []byte {
			return []byte{payloadV1, 0, flagTime | flagTimeUTC, 2, 0x80, 0x94, 0xeb, 0xdc, 0x03}
		},
		"zero-time": func([]byte) []byte {
			return appendZigzag([]byte{payloadV1, 0, flagTime | flagTimeUTC}, -62135596800, 0)
		},
		"no-zone":        func([]byte) []byte { return []byte{payloadV1, 0, flagTime, 2, 0} },
		"zone-too-big":   func([]byte) []byte { return appendZigzag([]byte{payloadV1, 0, flagTime, 2, 0}, 1<<40) },
		"data-after-nil": func([]byte) []byte { return []byte{payloadV1, 0, flagDataNil, 'x'} },
	}
	for name, corrupt := range cases {
		t.Run(name, func(t *testing.T) {
			var l raft.Log
			err := decodeLog(1, 1, corrupt(bytes.Clone(valid)), &l)
			if !errors.Is(err, errBadPayload) {
				t.Fatalf("err = %v, want errBadPayload", err)
			}
		})
	}
}

func appendZigzag(b []byte, vs ...int64) []byte {
	for _, v := range vs {
		b = append(b, zigzag(v)...)
	}
	return b
}

func zigzag(v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	var out []byte
	for u >= 0x80 {
		out = append(out, byte(u)|0x80)
		u >>= 7
	}
	return append(out, byte(u))
}

func TestAppendLogAllocs(t *testing.T) {
	l := raft.Log{Index: 1, Term: 1, Data: make([]byte, 128), Extensions: []byte("e"), AppendedAt: time.Now()}
	buf := make([]byte, 0, encodedSizeBound(&l))
	if n := testing.AllocsPerRun(100, func() { buf = appendLog(buf[:0], &l) }); n != 0 {
		t.Fatalf("appendLog allocates %v times per call, want 0", n)
	}
}

func FuzzDecodeLog(f *testing.F) {
	for _, l := range codecCases() {
		f.Add(appendLog(nil, &l))
	}
	f.Add([]byte{payloadV1, 0, flagTime, 2, 0, 1})
	f.Fuzz(func(t *testing.T, p []byte) {
		var l raft.Log
		if err := decodeLog(7, 3, bytes.Clone(p), &l); err != nil {
			if !errors.Is(err, errBadPayload) {
				t.Fatalf("error %v does not match errBadPayload", err)
			}
			return
		}
		if l.Index != 7 || l.Term != 3 {
			t.Fatalf("ids changed: %d-%d", l.Term, l.Index)
		}
		if again := appendLog(nil, &l); !bytes.Equal(again, p) {
			t.Fatalf("re-encode differs:\n got %x\nwant %x", again, p)
		}
	})
}
