package fuzz

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/mmaplog"
)

// F5: `go test -fuzz` targets (I6: no panic, fault or unbounded work on
// any input):
//
//	go test ./fuzz/ -run '^$' -fuzz '^FuzzRecordDecode$' -fuzztime 60s
//	go test ./fuzz/ -run '^$' -fuzz '^FuzzOpenSegmentImage$' -fuzztime 60s
//	go test ./fuzz/ -run '^$' -fuzz '^FuzzOpenDirectory$' -fuzztime 60s
//
// Seed corpora are in testdata/fuzz/<target>/; -args -update-corpus
// regenerates the generated part of them from F2-style crash images.
// Without -fuzz the seeds run as ordinary tests.

var updateCorpus = flag.Bool("update-corpus", false, "regenerate the F5 seed corpora in testdata/fuzz")

// TestF5Seeds runs every seed corpus input of the three targets through
// their properties once and prints F5's summary line (go test runs the
// same seeds again under each Fuzz target).
func TestF5Seeds(t *testing.T) {
	fam := newFamily(t, "F5")
	for _, target := range []string{"FuzzRecordDecode", "FuzzOpenSegmentImage", "FuzzOpenDirectory"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
		for _, p := range files {
			args, err := readCorpusFile(p)
			if err != nil || len(args) == 0 {
				fam.violation(0, "%s: unreadable corpus file: %v", p, err)
				continue
			}
			ok := t.Run(target+"/"+filepath.Base(p), func(t *testing.T) {
				switch target {
				case "FuzzRecordDecode":
					checkRecordDecode(t, args[0], 0)
				case "FuzzOpenSegmentImage":
					fs := crashfs.New()
					fs.WriteFile(filepath.Join(logDir, format.SegmentName(1)), padSegment(args[0]))
					openAndRead(t, fs)
				case "FuzzOpenDirectory":
					openAndRead(t, dirFS(args[0]))
				}
			})
			fam.add("seeds", 1)
			if !ok {
				fam.violation(0, "%s fails", p)
			}
		}
	}
	fam.summary()
}

// readCorpusFile reads the []byte arguments of a "go test fuzz v1" file.
func readCorpusFile(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var args [][]byte
	for _, line := range strings.Split(string(data), "\n")[1:] {
		if q, ok := strings.CutPrefix(line, "[]byte("); ok {
			s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
			if err != nil {
				return nil, err
			}
			args = append(args, []byte(s))
		}
	}
	return args, nil
}

// FuzzRecordDecode: ReadRecord never panics or reads out of bounds, and a
// record that decodes re-encodes to the same bytes.
func FuzzRecordDecode(f *testing.F) {
	rec := make([]byte, 64)
	format.PutEntryHead(rec[format.FrameSize:], mmaplog.LogID{Term: 1, Index: 1})
	format.PutFrame(rec, format.TypeEntry, format.EntryHeadSize+3, 7, 9)
	f.Add(rec, int64(0))
	f.Add([]byte{}, int64(0))
	f.Add(make([]byte, 24), int64(0))
	f.Add(rec[:30], int64(0))
	f.Add(append(make([]byte, 8), rec...), int64(8))
	f.Fuzz(checkRecordDecode)
}

func checkRecordDecode(t *testing.T, b []byte, off int64) {
	t.Helper()
	r, err := format.ReadRecord(b, off)
	if err != nil {
		return
	}
	if off < 0 || off+r.Size > int64(len(b)) || r.Size%format.Align != 0 {
		t.Fatalf("record [%d, +%d) outside %d bytes", off, r.Size, len(b))
	}
	out := make([]byte, r.Size)
	copy(out[format.FrameSize:], r.Body)
	crc := format.PutFrame(out, r.Type, len(r.Body), r.Durable, r.Prev)
	if crc != r.CRC || !bytes.Equal(out, b[off:off+r.Size]) {
		t.Fatalf("re-encoding differs:\n got %x\nwant %x", out, b[off:off+r.Size])
	}
}

// FuzzOpenSegmentImage: a log directory holding one segment file with
// these bytes (zero-filled up to the size its header claims, as a
// preallocated file) opens or fails with an error; when it opens, every
// entry reads or fails with an error, and a clean close and reopen gives
// the same state.
func FuzzOpenSegmentImage(f *testing.F) {
	for _, seed := range handmadeSegments() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seg []byte) {
		fs := crashfs.New()
		fs.WriteFile(filepath.Join(logDir, format.SegmentName(1)), padSegment(seg))
		openAndRead(t, fs)
	})
}

// FuzzOpenDirectory: like FuzzOpenSegmentImage for a whole directory:
// segments (not necessarily consecutive), index files, leftovers.
func FuzzOpenDirectory(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeDir(map[string][]byte{format.SegmentName(2): {1}, format.IndexName(2): {2}}))
	f.Fuzz(func(t *testing.T, data []byte) { openAndRead(t, dirFS(data)) })
}

// dirFS is a file system holding the directory encoded in data.
func dirFS(data []byte) *crashfs.FS {
	fs := crashfs.New()
	_ = fs.MkdirAll(logDir)
	for name, b := range decodeDir(data) {
		if strings.HasSuffix(name, format.SegmentSuffix) {
			b = padSegment(b)
		}
		fs.WriteFile(filepath.Join(logDir, name), b)
	}
	return fs
}

// maxOpenAlloc bounds what opening and reading one fuzzed directory may
// allocate (inputs are at most a few MiB once padded): a length field
// that makes recovery allocate by its value fails here, not by OOM.
const maxOpenAlloc = 256 << 20

func openAndRead(t *testing.T, fs *crashfs.FS) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	defer func() {
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > maxOpenAlloc {
			t.Fatalf("opening and reading allocated %d bytes (limit %d)", n, maxOpenAlloc)
		}
	}()
	l, err := mmaplog.Open(logDir, options(fs))
	if err != nil {
		return
	}
	st := l.State()
	n := 0
	for e, err := range l.Entries(st.Purged.Index+1, st.Last.Index+1) {
		if err != nil || n > 5000 {
			break
		}
		_ = e
		n++
	}
	if err := l.Close(); err != nil {
		return
	}
	l, err = mmaplog.Open(logDir, options(fs))
	if err != nil {
		t.Fatalf("opened once, then not after a clean close: %v", err)
	}
	defer l.Close()
	if got := l.State(); !got.Equal(st) {
		t.Fatalf("state changed across a clean close: %+v, then %+v", st, got)
	}
}

// padSegment zero-fills seg up to the file size its header claims (at
// most 4 MiB), as a preallocated segment whose tail was never written.
func padSegment(seg []byte) []byte {
	if len(seg) < format.SegmentHeaderSize {
		return seg
	}
	size := binary.LittleEndian.Uint64(seg[40:])
	if size <= uint64(len(seg)) || size > 4<<20 {
		return seg
	}
	return append(bytes.Clone(seg), make([]byte, int(size)-len(seg))...)
}

// encodeDir and decodeDir turn a directory into one byte string: per file
// a name length (u8), the name, a length (u32) and the bytes.
func encodeDir(files map[string][]byte) []byte {
	var b []byte
	for name, data := range files {
		b = append(b, byte(len(name)))
		b = append(b, name...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
		b = append(b, data...)
	}
	return b
}

func decodeDir(b []byte) map[string][]byte {
	files := map[string][]byte{}
	for len(b) > 0 && len(files) < 16 {
		n := int(b[0])
		b = b[1:]
		if n == 0 || n > len(b) {
			break
		}
		name := filepath.Base(filepath.Clean("/" + string(b[:n])))
		b = b[n:]
		if len(b) < 4 {
			break
		}
		size := int(min(uint64(binary.LittleEndian.Uint32(b)), uint64(len(b)-4)))
		files[name] = b[4 : 4+size]
		b = b[4+size:]
	}
	delete(files, "/")
	delete(files, ".")
	return files
}

// trimZeros drops trailing zero bytes (padSegment puts them back).
func trimZeros(b []byte) []byte {
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return b[:n:n]
}

// handmadeSegments are the hand-made seeds: empty, one byte, a header
// only, a size that is not a multiple of the page size, a length field
// past the end (etcd #14098), a zero page followed by valid records, a
// huge length field.
func handmadeSegments() [][]byte {
	fs := crashfs.New()
	l, err := mmaplog.Open(logDir, options(fs))
	if err != nil {
		panic(err)
	}
	for i := uint64(1); i <= 5; i++ {
		_ = l.Append(entry(1, i, 100))
	}
	_ = l.Sync()
	_ = l.Append(mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: 6}, Payload: make([]byte, 5000)})
	_ = l.Append(entry(1, 7, 10))
	_ = l.Close()
	full, _ := fs.ReadFile(filepath.Join(logDir, format.SegmentName(1)))
	good := trimZeros(full)
	hdr := full[:format.SegmentHeaderSize]
	odd := append(bytes.Clone(good), 1, 2, 3)
	binary.LittleEndian.PutUint64(odd[40:], uint64(len(odd))) // header CRC now wrong too
	pastEOF := bytes.Clone(good)
	pastEOF = append(pastEOF, make([]byte, 8)...)
	binary.LittleEndian.PutUint32(pastEOF[len(good)+4:], 1<<30)
	pastEOF[len(good)] = byte(format.TypeEntry)
	zeroPage := bytes.Clone(full)
	clear(zeroPage[crashfs.PageSize : 2*crashfs.PageSize])
	huge := bytes.Clone(good)
	binary.LittleEndian.PutUint32(huge[format.SegmentHeaderSize+4:], 0xFFFFFFF0)
	return [][]byte{{}, {0x52}, hdr, good, odd, pastEOF, trimZeros(zeroPage), huge}
}

// TestF5UpdateCorpus writes the seed corpora: the hand-made segments and
// segments and directories of F2-style crash images.
func TestF5UpdateCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -args -update-corpus to regenerate testdata/fuzz")
	}
	segs := handmadeSegments()
	var dirs [][]byte
	for seed := uint64(1); len(segs) < 100 || len(dirs) < 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 5))
		d, err := newDriver(crashfs.New(), NewOracle())
		if err != nil {
			t.Fatal(err)
		}
		g := NewGen(rng, d.o)
		g.MaxPayload = 1500
		snap, err := f2Generation(d, g, rng, rng, nil)
		if err != nil {
			continue
		}
		img, _ := crashImage(snap, rng)
		files := map[string][]byte{}
		for _, p := range img.Files() {
			b, _ := img.ReadFile(p)
			if strings.HasSuffix(p, format.SegmentSuffix) {
				b = trimZeros(b)
				segs = append(segs, b)
			}
			if b = trimZeros(b); len(b) > 2000 {
				b = b[:2000]
			}
			files[filepath.Base(p)] = b
		}
		dirs = append(dirs, encodeDir(files))
	}
	write := func(target string, inputs [][]byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, in := range inputs {
			if len(in) > 4000 {
				in = in[:4000] // keep the corpus small; padding restores the size
			}
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("FuzzOpenSegmentImage", segs[:100])
	write("FuzzOpenDirectory", dirs[:40])
	var recs [][]byte
	for _, s := range segs[:40] {
		if len(s) > format.SegmentHeaderSize {
			recs = append(recs, s[format.SegmentHeaderSize:min(len(s), 1024)])
		}
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzRecordDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nint64(0)\n", r)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
