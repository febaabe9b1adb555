package recovery_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// The harness writes real logs with mmaplog on real files, damages them
// with plain file writes, and checks what Open, Verify and Repair make of
// them. A "crash" is a copy of the directory taken while the Log is open
// and idle: the bytes a kill -9 would leave behind (page cache included).

var testOpts = mmaplog.Options{
	SegmentSize: mmaplog.MinSegmentSize,
	Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
}

// pay is the payload of entry idx written in term: its own index and term
// in readable form, of varying length (so that padding varies).
func pay(term, idx uint64) []byte {
	p := fmt.Appendf(nil, "t%d-i%d-", term, idx)
	return append(p, strings.Repeat("x", int(idx%7)*5)...)
}

// model is the shared reference model of what the test wrote, with the
// helpers that write through it to a Log.
type model struct{ *logtest.Model }

func newModel() *model { return &model{&logtest.Model{}} }

func (m *model) clone() *model { return &model{m.Clone()} }

// last is the model's last index.
func (m *model) last() uint64 { return m.State().Last.Index }

// appendN appends entries from..to in term, batch entries per call, to l
// and to the model.
func (m *model) appendN(t testing.TB, l *mmaplog.Log, from, to, term uint64, batch int) {
	t.Helper()
	var es []mmaplog.Entry
	flush := func() {
		if len(es) == 0 {
			return
		}
		if err := l.Append(es...); err != nil {
			t.Fatalf("append %d..%d: %v", es[0].ID.Index, es[len(es)-1].ID.Index, err)
		}
		if err := m.Append(es...); err != nil {
			t.Fatalf("append %d..%d: the log accepted it, the model returns %v", es[0].ID.Index, es[len(es)-1].ID.Index, err)
		}
		es = es[:0]
	}
	for i := from; i <= to; i++ {
		es = append(es, mmaplog.Entry{ID: mmaplog.LogID{Term: term, Index: i}, Payload: pay(term, i)})
		if len(es) == batch {
			flush()
		}
	}
	flush()
}

// truncate truncates l and the model at idx.
func (m *model) truncate(t testing.TB, l *mmaplog.Log, idx uint64) {
	t.Helper()
	if err := l.Truncate(idx); err != nil {
		t.Fatal(err)
	}
	if err := m.Truncate(idx); err != nil {
		t.Fatalf("truncate %d: the log accepted it, the model returns %v", idx, err)
	}
}

// crashed writes a log with f and returns a copy of its directory taken
// while the Log was still open: what a kill -9 after f leaves.
func crashed(t testing.TB, f func(l *mmaplog.Log, m *model)) (string, *model) {
	t.Helper()
	m := newModel()
	return crashedIn(t, t.TempDir(), m, f), m
}

// crashedIn is crashed on an existing log directory.
func crashedIn(t testing.TB, src string, m *model, f func(l *mmaplog.Log, m *model)) string {
	t.Helper()
	l := logtest.MustOpen(t, src, testOpts)
	f(l, m)
	dst := logtest.CopyDir(t, src)
	logtest.MustClose(t, l)
	return dst
}

// closed writes a log with f and closes it cleanly.
func closed(t testing.TB, f func(l *mmaplog.Log, m *model)) (string, *model) {
	t.Helper()
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, testOpts)
	m := newModel()
	f(l, m)
	logtest.MustClose(t, l)
	return dir, m
}

// grown copies the closed log in src, writes more to the copy with f
// (m is the copy's model), closes it cleanly and returns its directory:
// the same log at a later time.
func grown(t testing.TB, src string, m *model, f func(l *mmaplog.Log, m *model)) string {
	t.Helper()
	dir := logtest.CopyDir(t, src)
	l := logtest.MustOpen(t, dir, testOpts)
	f(l, m)
	logtest.MustClose(t, l)
	return dir
}

// rec is one record as found on disk.
type rec struct {
	Seg     string // segment file name
	Off     int64
	Size    int64
	Type    format.Type
	Index   uint64 // entry index (entries only)
	Body    int    // body length
	Durable uint64
	CRC     uint32
}

// snapshotByte is the offset of a byte inside a segment's first record,
// the State snapshot.
const snapshotByte = format.SegmentHeaderSize + format.FrameSize + 1

// payloadOff is the offset of the first payload byte of entry record e.
func payloadOff(e rec) int64 { return e.Off + format.FrameSize + format.EntryHeadSize }

// segNames lists the segment files of dir in ID order.
func segNames(t testing.TB, dir string) []string {
	t.Helper()
	var names []string
	for _, name := range logtest.Names(t, dir) {
		if _, ok := format.ParseSegmentName(name); ok {
			names = append(names, name)
		}
	}
	return names
}

// records walks the chained records of one segment file.
func records(t testing.TB, dir, name string) []rec {
	t.Helper()
	data := logtest.ReadFile(t, filepath.Join(dir, name))
	_, prev, err := format.ReadSegmentHeader(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []rec
	for off := int64(format.SegmentHeaderSize); ; {
		r, err := format.ReadRecord(data, off)
		if err != nil || r.Prev != prev {
			return out
		}
		x := rec{Seg: name, Off: off, Size: r.Size, Type: r.Type, Body: len(r.Body), Durable: r.Durable, CRC: r.CRC}
		if r.Type == format.TypeEntry {
			id, _ := format.EntryID(r.Body)
			x.Index = id.Index
		}
		out = append(out, x)
		prev = r.CRC
		off += r.Size
	}
}

// allRecords walks every segment of dir.
func allRecords(t testing.TB, dir string) []rec {
	t.Helper()
	var out []rec
	for _, n := range segNames(t, dir) {
		out = append(out, records(t, dir, n)...)
	}
	return out
}

// entry returns the live (last written) record of entry idx.
func entry(t testing.TB, dir string, idx uint64) rec {
	t.Helper()
	var found *rec
	rs := allRecords(t, dir)
	for k := range rs {
		if rs[k].Type == format.TypeEntry && rs[k].Index == idx {
			found = &rs[k]
		}
	}
	if found == nil {
		t.Fatalf("entry %d not found in %s", idx, dir)
	}
	return *found
}

// lastOf returns the last record of type typ in dir.
func lastOf(t testing.TB, dir string, typ format.Type) rec {
	t.Helper()
	rs := allRecords(t, dir)
	for k := len(rs) - 1; k >= 0; k-- {
		if rs[k].Type == typ {
			return rs[k]
		}
	}
	t.Fatalf("no %v record in %s", typ, dir)
	return rec{}
}

// mutateRecord changes the body of the record at off in place (same
// length), reseals its checksum and rechains the records after it: a
// well-formed record with unexpected content, as a buggy writer would
// leave it.
func mutateRecord(t testing.TB, path string, off int64, f func(body []byte)) {
	t.Helper()
	data := logtest.ReadFile(t, path)
	r, err := format.ReadRecord(data, off)
	if err != nil {
		t.Fatalf("mutate %s at %d: %v", path, off, err)
	}
	f(r.Body)
	crc := format.PutFrame(data[off:off+r.Size], r.Type, len(r.Body), r.Durable, r.Prev)
	rechain(data, off+r.Size, crc)
	logtest.WriteAt(t, path, 0, data)
}

// rechain reseals the chain of the records of data from off on.
func rechain(data []byte, off int64, prev uint32) {
	for {
		f := data[off:]
		if len(f) < format.FrameSize || !format.Type(f[0]).Valid() {
			return
		}
		n := int(uint32(f[4]) | uint32(f[5])<<8 | uint32(f[6])<<16 | uint32(f[7])<<24)
		size := format.RecordSize(n)
		if off+size > int64(len(data)) {
			return
		}
		r, err := format.ReadRecord(data, off)
		if err != nil {
			return
		}
		prev = format.PutFrame(data[off:off+size], r.Type, n, r.Durable, prev)
		off += size
	}
}

// appendRecord writes a record after the last chained record of segment
// name, chained to it, with the given body and durable watermark, and
// returns its offset.
func appendRecord(t testing.TB, dir, name string, typ format.Type, body []byte, durable uint64) int64 {
	t.Helper()
	path := filepath.Join(dir, name)
	data := logtest.ReadFile(t, path)
	rs := records(t, dir, name)
	_, prev, _ := format.ReadSegmentHeader(data)
	off := int64(format.SegmentHeaderSize)
	if len(rs) > 0 {
		last := rs[len(rs)-1]
		off, prev = last.Off+last.Size, last.CRC
	}
	b := make([]byte, format.RecordSize(len(body)))
	copy(b[format.FrameSize:], body)
	format.PutFrame(b, typ, len(body), durable, prev)
	logtest.WriteAt(t, path, off, b)
	return off
}

// rewriteHeader changes fields of a segment header and reseals its CRC.
func rewriteHeader(t testing.TB, path string, f func(h *format.SegmentHeader)) {
	t.Helper()
	data := logtest.ReadFile(t, path)
	h, _, err := format.ReadSegmentHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	f(&h)
	b := make([]byte, format.SegmentHeaderSize)
	format.PutSegmentHeader(b, h)
	logtest.WriteAt(t, path, 0, b)
}

// checkEntries checks that l holds exactly the model's entries first..last.
func checkEntries(t testing.TB, l *mmaplog.Log, m *model, first, last uint64) {
	t.Helper()
	if st := l.State(); st.Last.Index != last {
		t.Fatalf("Last = %v, want index %d", st.Last, last)
	}
	if err := m.CheckRange(l, first, last); err != nil {
		t.Fatal(err)
	}
}

// checkAppendable appends one entry after last, syncs, and reads it back.
// The model first follows the recovered log: its purge point, and its end
// at last.
func checkAppendable(t testing.TB, l *mmaplog.Log, m *model, last uint64) {
	t.Helper()
	st := l.State()
	term := max(st.Last.Term, 1)
	e := mmaplog.Entry{ID: mmaplog.LogID{Term: term, Index: last + 1}, Payload: pay(term, last+1)}
	if err := l.Append(e); err != nil {
		t.Fatalf("append after recovery: %v", err)
	}
	logtest.MustSync(t, l)
	m.Purge(st.Purged)
	if err := m.Truncate(last + 1); err != nil {
		t.Fatalf("model: truncate to the recovered end %d: %v", last, err)
	}
	if err := m.Append(e); err != nil {
		t.Fatalf("model: append after recovery: %v", err)
	}
	got, err := l.Get(last + 1)
	if err != nil || !bytes.Equal(got.Payload, e.Payload) {
		t.Fatalf("Get(%d) after append: %v %q", last+1, err, got.Payload)
	}
}

func asCorrupt(t testing.TB, err error) *mmaplog.CorruptError {
	t.Helper()
	var ce *mmaplog.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *CorruptError", err, err)
	}
	if !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("error %v does not match ErrCorrupt", err)
	}
	return ce
}

// anyIndex in a want means: do not check the CorruptError's Index.
const anyIndex = ^uint64(0)

func checkLocation(t testing.TB, what string, ce *mmaplog.CorruptError, path string, off int64, idx uint64) {
	t.Helper()
	if ce.Path != path || ce.Offset != off || (idx != anyIndex && ce.Index != idx) {
		t.Fatalf("%s: corruption at %s offset %d entry %d (%s); want %s offset %d entry %d",
			what, ce.Path, ce.Offset, ce.Index, ce.Reason, path, off, int64(idx))
	}
}

// verify runs recovery.Verify and checks that it changed nothing.
func verify(t testing.TB, dir string) *recovery.VerifyReport {
	t.Helper()
	before := logtest.Snapshot(t, dir)
	rep, err := recovery.Verify(dir)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	logtest.Unchanged(t, "Verify", before, dir)
	return rep
}

func describe(rep *recovery.VerifyReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %v, state {%s}", rep.Status, recovery.DescribeState(&rep.State))
	for _, p := range rep.Problems {
		fmt.Fprintf(&b, "\n  problem %v", p)
	}
	if rep.Torn != nil {
		fmt.Fprintf(&b, "\n  torn at %s:%d (%v)", filepath.Base(rep.Torn.Path), rep.Torn.Offset, rep.Torn.Reason)
	}
	if c := rep.Cut; c != nil {
		fmt.Fprintf(&b, "\n  cut %s:%d whole=%v resize=%v kept last %v lost %+v", filepath.Base(c.Path), c.Offset, c.Whole, c.Resize, c.Kept.Last, c.Lost)
	}
	return b.String()
}
