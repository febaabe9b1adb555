package mmaplog_test

// The raft-log test list (RESEARCH/raft-log.md §6) ported to mmaplog's
// semantics (DESIGN.md), on real files and real mappings. This file also
// holds the helpers shared by the other black-box test files.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftlog/raftlog/mmaplog"
)

// ---------------------------------------------------------------------------
// Helpers shared by the mmaplog_test files.

// quiet discards the log's messages (recovery warnings in corruption tests).
var quiet = slog.New(slog.DiscardHandler)

// smallOpts rotates often: segments of the minimum size.
func smallOpts() mmaplog.Options {
	return mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize, Logger: quiet}
}

// warnCounter is a slog.Handler that counts records at Warn or above.
type warnCounter struct{ n atomic.Int64 }

func (h *warnCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *warnCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.n.Add(1)
	}
	return nil
}
func (h *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *warnCounter) WithGroup(string) slog.Handler      { return h }

func lid(term, index uint64) mmaplog.LogID { return mmaplog.LogID{Term: term, Index: index} }

func vt(term, node uint64, committed bool) mmaplog.Vote {
	return mmaplog.Vote{Term: term, NodeID: node, Committed: committed}
}

// payloadFor returns n deterministic bytes for id, starting (when n allows)
// with the unique marker "<entry T-I>" so tests can find a record in a file.
func payloadFor(id mmaplog.LogID, n int) []byte {
	p := make([]byte, n)
	m := copy(p, marker(id))
	for off := int((id.Index*7 + id.Term*13) % 26); m < n; off = 0 {
		m += copy(p[m:], filler[off:])
	}
	return p
}

// filler is the alphabet repeated, the tail of every test payload.
var filler = bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz"), 4096)

// marker is the byte string payloadFor puts at the start of id's payload.
func marker(id mmaplog.LogID) []byte { return fmt.Appendf(nil, "<entry %d-%d>", id.Term, id.Index) }

// ent builds entry (term, index) with an n-byte payload from payloadFor.
func ent(term, index uint64, n int) mmaplog.Entry {
	id := lid(term, index)
	return mmaplog.Entry{ID: id, Payload: payloadFor(id, n)}
}

// run builds entries first..last of one term with n-byte payloads.
func run(term, first, last uint64, n int) []mmaplog.Entry {
	var es []mmaplog.Entry
	for i := first; i <= last; i++ {
		es = append(es, ent(term, i, n))
	}
	return es
}

// openLog opens dir and closes the log when the test ends (a second Close
// is a no-op, so tests may close it themselves).
func openLog(t testing.TB, dir string, opts mmaplog.Options) *mmaplog.Log {
	t.Helper()
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func closeLog(t testing.TB, l *mmaplog.Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// reopen closes l and opens dir again.
func reopen(t testing.TB, l *mmaplog.Log, dir string, opts mmaplog.Options) *mmaplog.Log {
	t.Helper()
	closeLog(t, l)
	return openLog(t, dir, opts)
}

func mustAppend(t testing.TB, l *mmaplog.Log, es ...mmaplog.Entry) {
	t.Helper()
	if err := l.Append(es...); err != nil {
		t.Fatalf("Append(%v..): %v", es[0].ID, err)
	}
}

func mustSync(t testing.TB, l *mmaplog.Log) {
	t.Helper()
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// collect reads Entries(from, to) into a slice.
func collect(l *mmaplog.Log, from, to uint64) ([]mmaplog.Entry, error) {
	var out []mmaplog.Entry
	for e, err := range l.Entries(from, to) {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

func sameEntry(a, b mmaplog.Entry) bool { return a.ID == b.ID && bytes.Equal(a.Payload, b.Payload) }

func fmtEntries(es []mmaplog.Entry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%v(%dB) ", e.ID, len(e.Payload))
	}
	return b.String()
}

// checkEntries asserts that the log holds exactly want (in index order):
// Get of each, Get just outside, and Entries over a wider range.
func checkEntries(t testing.TB, l *mmaplog.Log, want []mmaplog.Entry) {
	t.Helper()
	for _, w := range want {
		got, err := l.Get(w.ID.Index)
		if err != nil {
			t.Fatalf("Get(%d): %v", w.ID.Index, err)
		}
		if !sameEntry(got, w) {
			t.Fatalf("Get(%d) = %v %q, want %v %q", w.ID.Index, got.ID, trim(got.Payload), w.ID, trim(w.Payload))
		}
	}
	st := l.State()
	for _, i := range []uint64{0, st.Purged.Index, st.Last.Index + 1, st.Last.Index + 2} {
		if _, err := l.Get(i); !errors.Is(err, mmaplog.ErrNotFound) {
			t.Fatalf("Get(%d) with state %+v: err %v, want ErrNotFound", i, st, err)
		}
	}
	got, err := collect(l, 0, st.Last.Index+3)
	if err != nil {
		t.Fatalf("Entries(0, %d): %v", st.Last.Index+3, err)
	}
	if !slices.EqualFunc(got, want, sameEntry) {
		t.Fatalf("Entries(0, %d) = %s\nwant %s", st.Last.Index+3, fmtEntries(got), fmtEntries(want))
	}
}

func trim(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// checkState asserts l.State() equals want (UserData nil and empty differ).
func checkState(t testing.TB, l *mmaplog.Log, want mmaplog.State) {
	t.Helper()
	if got := l.State(); !got.Equal(want) {
		t.Fatalf("State() = %s\nwant      %s", fmtState(got), fmtState(want))
	}
}

func fmtState(s mmaplog.State) string {
	ud := "nil"
	if s.UserData != nil {
		ud = fmt.Sprintf("%q", trim(s.UserData))
		if len(s.UserData) > 40 {
			ud = fmt.Sprintf("%d bytes %s...", len(s.UserData), ud)
		}
	}
	return fmt.Sprintf("{Vote:%v Last:%v Committed:%v Purged:%v UserData:%s}", s.Vote, s.Last, s.Committed, s.Purged, ud)
}

// filesWithSuffix lists the names in dir ending in suffix, sorted.
func filesWithSuffix(t testing.TB, dir, suffix string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if strings.HasSuffix(de.Name(), suffix) {
			out = append(out, de.Name())
		}
	}
	slices.Sort(out)
	return out
}

func segFiles(t testing.TB, dir string) []string { t.Helper(); return filesWithSuffix(t, dir, ".seg") }
func idxFiles(t testing.TB, dir string) []string { t.Helper(); return filesWithSuffix(t, dir, ".idx") }

// crashCopy copies the log files of dir into a new directory while the log
// may still be open: the copy is what the disk would show after a kill -9
// (the mapping's writes are in the page cache). The caller must not write
// meanwhile; the flusher may still delete purged segments, so the copy is
// retried until no file vanished during it (a real kill is instantaneous).
func crashCopy(t testing.TB, dir string) string {
	t.Helper()
	dst := t.TempDir()
	list := func() []string {
		des, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, de := range des {
			// Skip the lock and segments being prepared (Open deletes those).
			if de.Type().IsRegular() && de.Name() != "LOCK" && !strings.HasSuffix(de.Name(), ".tmp") {
				names = append(names, de.Name())
			}
		}
		return names
	}
	for attempt := 0; ; attempt++ {
		if attempt == 100 {
			t.Fatalf("crashCopy: %s keeps changing", dir)
		}
		before := list()
		old, err := os.ReadDir(dst)
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range old {
			if err := os.Remove(filepath.Join(dst, de.Name())); err != nil {
				t.Fatal(err)
			}
		}
		vanished := false
		for _, name := range before {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if errors.Is(err, os.ErrNotExist) {
				vanished = true
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if !vanished && slices.Equal(before, list()) {
			return dst
		}
	}
}

// snapshotDir returns name → contents of every file in dir but the lock.
func snapshotDir(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, de := range des {
		if de.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[de.Name()] = b
	}
	return m
}

func sameDir(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// editFile rewrites path in place (same size) after edit changes its bytes.
func editFile(t testing.TB, path string, edit func(b []byte)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// findMarker returns the offset of id's payload marker in the segment file
// at path, failing when it is absent or not unique.
func findMarker(t testing.TB, path string, id mmaplog.LogID) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := marker(id)
	i := bytes.Index(b, m)
	if i < 0 || bytes.Contains(b[i+1:], m) {
		t.Fatalf("marker %q found at %d in %s (absent or not unique)", m, i, path)
	}
	return i
}

// lastNonZero returns the offset after the last nonzero byte of path.
func lastNonZero(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return n
}

// ---------------------------------------------------------------------------
// test_raft_log.rs

func TestSaveUserData(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	checkState(t, l, mmaplog.State{})

	data := []byte("hello user data")
	if err := l.SaveUserData(data); err != nil {
		t.Fatal(err)
	}
	data[0] = 'X' // the log keeps its own copy
	checkState(t, l, mmaplog.State{UserData: []byte("hello user data")})
	got := l.State().UserData
	got[0] = 'Y' // State returns a copy
	checkState(t, l, mmaplog.State{UserData: []byte("hello user data")})

	l = reopen(t, l, dir, smallOpts())
	checkState(t, l, mmaplog.State{UserData: []byte("hello user data")})

	// Empty is not nil: it is set, to zero bytes.
	if err := l.SaveUserData([]byte{}); err != nil {
		t.Fatal(err)
	}
	if ud := l.State().UserData; ud == nil || len(ud) != 0 {
		t.Fatalf("after SaveUserData([]byte{}): UserData = %#v, want non-nil empty", ud)
	}
	l = reopen(t, l, dir, smallOpts())
	if ud := l.State().UserData; ud == nil || len(ud) != 0 {
		t.Fatalf("after reopen: UserData = %#v, want non-nil empty", ud)
	}

	// nil clears it.
	if err := l.SaveUserData(nil); err != nil {
		t.Fatal(err)
	}
	if ud := l.State().UserData; ud != nil {
		t.Fatalf("after SaveUserData(nil): UserData = %#v, want nil", ud)
	}
	l = reopen(t, l, dir, smallOpts())
	if ud := l.State().UserData; ud != nil {
		t.Fatalf("after reopen: UserData = %#v, want nil", ud)
	}

	// Set again, larger than a page, and replaced (not merged) by a shorter one.
	big := bytes.Repeat([]byte("0123456789"), 1000)
	if err := l.SaveUserData(big); err != nil {
		t.Fatal(err)
	}
	if err := l.SaveUserData([]byte("short")); err != nil {
		t.Fatal(err)
	}
	l = reopen(t, l, dir, smallOpts())
	checkState(t, l, mmaplog.State{UserData: []byte("short")})
}

func TestSaveVote(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	v := mmaplog.Vote{Term: 3, NodeID: 7}
	if err := l.SaveVote(v); err != nil {
		t.Fatal(err)
	}
	checkState(t, l, mmaplog.State{Vote: v})
	v.Committed = true
	if err := l.SaveVote(v); err != nil {
		t.Fatal(err)
	}
	checkState(t, l, mmaplog.State{Vote: v})
	l = reopen(t, l, dir, smallOpts())
	checkState(t, l, mmaplog.State{Vote: v})
}

func TestAppendAndRead(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	e1, e2 := ent(1, 1, 5), ent(1, 2, 0) // a zero-length payload works too
	if err := l.Append(e1, e2); err != nil {
		t.Fatal(err)
	}
	if got := l.State().Last; got != lid(1, 2) {
		t.Fatalf("Last = %v, want 1-2", got)
	}
	checkEntries(t, l, []mmaplog.Entry{e1, e2})

	// An empty append is a no-op.
	before := l.Stats().BytesUsed
	if err := l.Append(); err != nil {
		t.Fatalf("Append(): %v", err)
	}
	if after := l.Stats().BytesUsed; after != before {
		t.Fatalf("empty Append wrote %d bytes", after-before)
	}

	// Payloads are copies both ways.
	p := []byte("caller's buffer")
	mustAppend(t, l, mmaplog.Entry{ID: lid(1, 3), Payload: p})
	p[0] = 'X'
	got, err := l.Get(3)
	if err != nil || string(got.Payload) != "caller's buffer" {
		t.Fatalf("Get(3) = %q, %v after the caller changed its buffer", got.Payload, err)
	}
	got.Payload[0] = 'Y'
	again, err := l.Get(3)
	if err != nil || string(again.Payload) != "caller's buffer" {
		t.Fatalf("Get(3) = %q, %v after changing an earlier Get's payload", again.Payload, err)
	}
	// A zero-length payload reads back as empty (not an error).
	if got, err := l.Get(2); err != nil || len(got.Payload) != 0 {
		t.Fatalf("Get(2) = %v %q, %v", got.ID, got.Payload, err)
	}

	// Entries respects [from, to).
	es, err := collect(l, 2, 3)
	if err != nil || len(es) != 1 || es[0].ID != lid(1, 2) {
		t.Fatalf("Entries(2, 3) = %s, %v", fmtEntries(es), err)
	}
	// Breaking out of the sequence early is fine.
	for e, err := range l.Entries(1, 4) {
		if err != nil || e.ID.Index != 1 {
			t.Fatalf("first of Entries(1, 4) = %v, %v", e.ID, err)
		}
		break
	}
}

// test_read_nonexistent_logs: the first append to an empty, never-purged log
// may start at any index; indexes that never existed read as not found.
func TestReadNonexistent(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	e2, e3 := ent(2, 2, 10), ent(3, 3, 10)
	mustAppend(t, l, e2, e3)
	if got := l.State().Last; got != lid(3, 3) {
		t.Fatalf("Last = %v", got)
	}
	got, err := collect(l, 0, 5)
	if err != nil || !slices.EqualFunc(got, []mmaplog.Entry{e2, e3}, sameEntry) {
		t.Fatalf("Entries(0, 5) = %s, %v; want 2-2 3-3 and no error", fmtEntries(got), err)
	}
	for _, i := range []uint64{0, 1, 4} {
		if _, err := l.Get(i); !errors.Is(err, mmaplog.ErrNotFound) {
			t.Errorf("Get(%d) = %v, want ErrNotFound", i, err)
		}
	}
	// And the log reopens.
	l = reopen(t, l, dir, smallOpts())
	if got := l.State().Last; got != lid(3, 3) {
		t.Fatalf("after reopen Last = %v", got)
	}
	got, err = collect(l, 0, 5)
	if err != nil || !slices.EqualFunc(got, []mmaplog.Entry{e2, e3}, sameEntry) {
		t.Fatalf("after reopen Entries(0, 5) = %s, %v", fmtEntries(got), err)
	}
}

func TestTruncate(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	mustAppend(t, l, run(1, 1, 3, 20)...)
	if err := l.Commit(lid(1, 3)); err != nil {
		t.Fatal(err)
	}
	if err := l.Truncate(2); err != nil {
		t.Fatal(err)
	}
	// Committed is not changed by Truncate.
	want := mmaplog.State{Last: lid(1, 1), Committed: lid(1, 3)}
	checkState(t, l, want)
	checkEntries(t, l, run(1, 1, 1, 20))

	// Appends continue at the cut, with a new term or the same one.
	mustAppend(t, l, ent(2, 2, 30), ent(2, 3, 30))
	want.Last = lid(2, 3)
	checkState(t, l, want)
	wantEs := append(run(1, 1, 1, 20), ent(2, 2, 30), ent(2, 3, 30))
	checkEntries(t, l, wantEs)

	l = reopen(t, l, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, wantEs)

	// Truncate everything (never purged: Last becomes the zero LogID) and
	// start again anywhere.
	if err := l.Truncate(1); err != nil {
		t.Fatal(err)
	}
	want.Last = mmaplog.LogID{}
	checkState(t, l, want)
	checkEntries(t, l, nil)
	l = reopen(t, l, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, nil)
	mustAppend(t, l, ent(4, 1, 1))
	checkEntries(t, l, run(4, 1, 1, 1))
}

// test_truncate_just_after_purged: truncating right after the purge point
// leaves Last = Purged.
func TestTruncateJustAfterPurged(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	mustAppend(t, l, run(1, 1, 3, 8)...)
	if err := l.Purge(lid(1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Truncate(2); err != nil {
		t.Fatal(err)
	}
	want := mmaplog.State{Last: lid(1, 1), Purged: lid(1, 1)}
	checkState(t, l, want)
	checkEntries(t, l, nil)
	l = reopen(t, l, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, nil)
	// The next append must follow the purge point.
	if err := l.Append(ent(2, 3, 1)); !errors.Is(err, mmaplog.ErrNonConsecutive) {
		t.Fatalf("Append(2-3) after purge at 1-1: %v, want ErrNonConsecutive", err)
	}
	mustAppend(t, l, ent(2, 2, 1))
	checkEntries(t, l, []mmaplog.Entry{ent(2, 2, 1)})
}

// test_truncate_non_existent: the valid range is [Purged.Index+1,
// Last.Index+1]; Last.Index+1 is a no-op; outside is ErrNotFound.
func TestTruncateOutOfRange(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	mustAppend(t, l, run(1, 1, 3, 8)...)
	if err := l.Purge(lid(1, 1)); err != nil {
		t.Fatal(err)
	}
	want := mmaplog.State{Last: lid(1, 3), Purged: lid(1, 1)}
	used := l.Stats().BytesUsed

	if err := l.Truncate(4); err != nil { // Last+1: no-op
		t.Fatalf("Truncate(Last+1): %v", err)
	}
	for _, idx := range []uint64{0, 1, 5, 100, ^uint64(0)} {
		if err := l.Truncate(idx); !errors.Is(err, mmaplog.ErrNotFound) {
			t.Errorf("Truncate(%d) = %v, want ErrNotFound", idx, err)
		}
	}
	if got := l.Stats().BytesUsed; got != used {
		t.Fatalf("no-op and rejected Truncates wrote %d bytes", got-used)
	}
	checkState(t, l, want)
	checkEntries(t, l, run(1, 2, 3, 8))
	l = reopen(t, l, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, run(1, 2, 3, 8))
}

// The raft-log variant: a log holding only entries 2 and 3 (first append at
// index 2, never purged). Truncate(4) is Last+1, Truncate(5) is out of range.
func TestTruncateNonExistent(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	mustAppend(t, l, ent(1, 2, 8), ent(1, 3, 8))
	if err := l.Truncate(4); err != nil {
		t.Fatalf("Truncate(4): %v", err)
	}
	if err := l.Truncate(5); !errors.Is(err, mmaplog.ErrNotFound) {
		t.Fatalf("Truncate(5) = %v, want ErrNotFound", err)
	}
	if err := l.Truncate(0); !errors.Is(err, mmaplog.ErrNotFound) {
		t.Fatalf("Truncate(0) = %v, want ErrNotFound", err)
	}
	checkState(t, l, mmaplog.State{Last: lid(1, 3)})
	// Truncate(3) keeps entry 2.
	if err := l.Truncate(3); err != nil {
		t.Fatalf("Truncate(3): %v", err)
	}
	checkState(t, l, mmaplog.State{Last: lid(1, 2)})
	checkEntries(t, l, []mmaplog.Entry{ent(1, 2, 8)})
	// Truncate(2) leaves no entry: Last is Purged, the zero LogID.
	if err := l.Truncate(2); err != nil {
		t.Fatalf("Truncate(2): %v", err)
	}
	checkState(t, l, mmaplog.State{})
	checkEntries(t, l, nil)
	l = reopen(t, l, dir, smallOpts())
	checkState(t, l, mmaplog.State{})
	checkEntries(t, l, nil)
}

func TestPurge(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	mustAppend(t, l, ent(1, 1, 4), ent(1, 2, 4), ent(2, 3, 4))
	used := l.Stats().BytesUsed

	// Purge at the current purge point (none) is a no-op.
	if err := l.Purge(mmaplog.LogID{}); err != nil {
		t.Fatal(err)
	}
	if got := l.Stats().BytesUsed; got != used {
		t.Fatalf("no-op Purge wrote %d bytes", got-used)
	}
	checkState(t, l, mmaplog.State{Last: lid(2, 3)})

	if err := l.Purge(lid(1, 1)); err != nil {
		t.Fatal(err)
	}
	checkState(t, l, mmaplog.State{Last: lid(2, 3), Purged: lid(1, 1)})
	checkEntries(t, l, []mmaplog.Entry{ent(1, 2, 4), ent(2, 3, 4)})

	if err := l.Purge(lid(1, 2)); err != nil {
		t.Fatal(err)
	}
	checkEntries(t, l, []mmaplog.Entry{ent(2, 3, 4)})

	// Below or at the purge point: no-op, nothing written.
	used = l.Stats().BytesUsed
	for _, id := range []mmaplog.LogID{lid(1, 1), lid(1, 2), lid(9, 2), lid(0, 0)} {
		if err := l.Purge(id); err != nil {
			t.Fatalf("Purge(%v) below the purge point: %v", id, err)
		}
	}
	if got := l.Stats().BytesUsed; got != used {
		t.Fatalf("no-op Purges wrote %d bytes", got-used)
	}
	checkState(t, l, mmaplog.State{Last: lid(2, 3), Purged: lid(1, 2)})

	// Beyond Last: Last = Purged = upto, nothing is readable.
	if err := l.Purge(lid(2, 4)); err != nil {
		t.Fatal(err)
	}
	want := mmaplog.State{Last: lid(2, 4), Purged: lid(2, 4)}
	checkState(t, l, want)
	checkEntries(t, l, nil)
	l = reopen(t, l, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, nil)

	// The next append must be upto.Index+1, above upto.
	if err := l.Append(ent(2, 6, 1)); !errors.Is(err, mmaplog.ErrNonConsecutive) {
		t.Fatalf("Append(2-6) = %v, want ErrNonConsecutive", err)
	}
	if err := l.Append(ent(1, 5, 1)); !errors.Is(err, mmaplog.ErrLogIDReversal) {
		t.Fatalf("Append(1-5) = %v, want ErrLogIDReversal", err)
	}
	mustAppend(t, l, ent(2, 5, 1))
	checkEntries(t, l, []mmaplog.Entry{ent(2, 5, 1)})

	// Purge exactly at Last empties the log.
	if err := l.Purge(lid(2, 5)); err != nil {
		t.Fatal(err)
	}
	checkState(t, l, mmaplog.State{Last: lid(2, 5), Purged: lid(2, 5)})
	checkEntries(t, l, nil)
}

// test_purge_reopen: entries over several segments, purge + flush, reopen.
func TestPurgeReopen(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 300, 1000) // ~5 segments of 64 KiB
	mustAppend(t, l, es...)
	if n := l.Stats().Segments; n < 4 {
		t.Fatalf("Segments = %d, want rotation", n)
	}
	if err := l.Purge(lid(1, 250)); err != nil {
		t.Fatal(err)
	}
	mustSync(t, l)
	l = reopen(t, l, dir, smallOpts())
	checkState(t, l, mmaplog.State{Last: lid(1, 300), Purged: lid(1, 250)})
	checkEntries(t, l, es[250:])
}

// test_purge_removes_chunks + test_sync: a segment whose entries are all
// purged is deleted only by the flush after the purge, never before.
func TestPurgeRemovesSegmentsAfterFlush(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 300, 1000)
	mustAppend(t, l, es...)
	mustSync(t, l)
	segs, idxs := segFiles(t, dir), idxFiles(t, dir)
	if len(segs) < 4 {
		t.Fatalf("segments on disk %v, want at least 4", segs)
	}
	if st := l.Stats(); st.Segments != len(segs) {
		t.Fatalf("Stats().Segments = %d, files %v", st.Segments, segs)
	}

	if err := l.Purge(lid(1, 290)); err != nil { // only the last segment stays live
		t.Fatal(err)
	}
	// Gone for readers at once...
	if _, err := l.Get(1); !errors.Is(err, mmaplog.ErrNotFound) {
		t.Fatalf("Get(1) after Purge = %v, want ErrNotFound", err)
	}
	// ...but the files stay until a flush has made the purge durable.
	if got := segFiles(t, dir); !slices.Equal(got, segs) {
		t.Fatalf("segment files changed before any flush: %v -> %v", segs, got)
	}
	if got := idxFiles(t, dir); !slices.Equal(got, idxs) {
		t.Fatalf("index files changed before any flush: %v -> %v", idxs, got)
	}
	st := l.Stats()
	if st.PendingRemovals < len(segs)-2 || st.Segments != len(segs) {
		t.Fatalf("after Purge: PendingRemovals %d, Segments %d; files %v", st.PendingRemovals, st.Segments, segs)
	}

	mustSync(t, l)
	// The files go in the background, off the path of the flush.
	waitRemovals(t, l)
	after := segFiles(t, dir)
	if len(after) >= len(segs) || len(after) > 2 || after[len(after)-1] != segs[len(segs)-1] {
		t.Fatalf("after Sync: segment files %v (before %v)", after, segs)
	}
	if got := idxFiles(t, dir); len(got) != len(after) {
		t.Fatalf("after Sync: index files %v, segments %v", got, after)
	}
	st = l.Stats()
	if st.PendingRemovals != 0 || st.Segments != len(after) {
		t.Fatalf("after Sync: PendingRemovals %d, Segments %d, files %v", st.PendingRemovals, st.Segments, after)
	}
	checkEntries(t, l, es[290:])
	l = reopen(t, l, dir, smallOpts())
	checkEntries(t, l, es[290:])
	if got := segFiles(t, dir); !slices.Equal(got, after) {
		t.Fatalf("reopen changed segment files: %v -> %v", after, got)
	}
}

// Close is a flush: purged segments are deleted by it.
func TestPurgeRemovesSegmentsOnClose(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 200, 1000)
	mustAppend(t, l, es...)
	before := segFiles(t, dir)
	if err := l.Purge(lid(1, 199)); err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)
	after := segFiles(t, dir)
	if len(after) >= len(before) {
		t.Fatalf("after Purge+Close: segment files %v (before %v)", after, before)
	}
	l = openLog(t, dir, smallOpts())
	checkState(t, l, mmaplog.State{Last: lid(1, 200), Purged: lid(1, 199)})
	checkEntries(t, l, es[199:])
}

func TestCommit(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	mustAppend(t, l, run(1, 1, 3, 1)...)
	if err := l.Commit(lid(1, 2)); err != nil {
		t.Fatal(err)
	}
	used := l.Stats().BytesUsed
	for _, id := range []mmaplog.LogID{lid(1, 1), lid(0, 5), {}} {
		if err := l.Commit(id); !errors.Is(err, mmaplog.ErrLogIDReversal) {
			t.Fatalf("Commit(%v) below 1-2 = %v, want ErrLogIDReversal", id, err)
		}
	}
	if got := l.Stats().BytesUsed; got != used {
		t.Fatalf("rejected Commits wrote %d bytes", got-used)
	}
	if err := l.Commit(lid(1, 2)); err != nil { // equal is fine
		t.Fatalf("Commit(equal): %v", err)
	}
	if err := l.Commit(lid(1, 3)); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(lid(2, 1)); err != nil { // higher term, lower index: higher LogID
		t.Fatal(err)
	}
	want := mmaplog.State{Last: lid(1, 3), Committed: lid(2, 1)}
	checkState(t, l, want)
	l = reopen(t, l, dir, smallOpts())
	checkState(t, l, want)
}

// Every allowed and rejected vote transition of DESIGN.md. One log; each
// case first moves to a fresh term (always allowed), then tries the move.
func TestVoteRules(t *testing.T) {
	type V = mmaplog.Vote
	cases := []struct {
		name     string
		from, to V
		ok       bool
	}{
		{"higher term, other candidate", vt(2, 3, false), vt(3, 4, false), true},
		{"higher term, from committed to uncommitted", vt(2, 3, true), vt(3, 4, false), true},
		{"higher term, to nobody", vt(2, 3, true), vt(3, 0, false), true},
		{"higher term, committed", vt(2, 3, false), vt(5, 3, true), true},
		{"same vote", vt(2, 3, false), vt(2, 3, false), true},
		{"same committed vote", vt(2, 3, true), vt(2, 3, true), true},
		{"same vote for nobody", vt(2, 0, false), vt(2, 0, false), true},
		{"nobody to candidate", vt(2, 0, false), vt(2, 3, false), true},
		{"nobody to committed candidate", vt(2, 0, false), vt(2, 3, true), true},
		{"candidate becomes committed", vt(2, 3, false), vt(2, 3, true), true},

		{"lower term", vt(2, 3, false), vt(1, 3, false), false},
		{"lower term, committed", vt(2, 3, false), vt(1, 4, true), false},
		{"lower term from committed", vt(2, 3, true), vt(1, 3, true), false},
		{"lower term, nobody", vt(2, 0, false), vt(1, 0, false), false},
		{"same term, other candidate", vt(2, 3, false), vt(2, 4, false), false},
		{"same term, other committed candidate", vt(2, 3, true), vt(2, 4, true), false},
		{"same term, other candidate committed", vt(2, 3, false), vt(2, 4, true), false},
		{"same term, committed to other uncommitted", vt(2, 3, true), vt(2, 4, false), false},
		{"same term, back to nobody", vt(2, 3, false), vt(2, 0, false), false},
		{"same term, committed back to nobody", vt(2, 3, true), vt(2, 0, false), false},
		{"uncommit", vt(2, 3, true), vt(2, 3, false), false},
	}
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())

	// From the initial zero vote.
	if err := l.SaveVote(V{}); err != nil {
		t.Fatalf("SaveVote(zero) on a new log: %v", err)
	}
	if err := l.SaveVote(vt(0, 5, false)); err != nil {
		t.Fatalf("SaveVote(0:5) on a new log: %v", err)
	}
	if err := l.SaveVote(vt(0, 6, false)); !errors.Is(err, mmaplog.ErrVoteReversal) {
		t.Fatalf("SaveVote(0:6) after 0:5: %v, want ErrVoteReversal", err)
	}

	var last V
	for i, c := range cases {
		base := uint64(i+1) * 100
		from, to := c.from, c.to
		from.Term += base
		to.Term += base
		if err := l.SaveVote(from); err != nil {
			t.Fatalf("%s: SaveVote(%v) from %v: %v", c.name, from, l.State().Vote, err)
		}
		used := l.Stats().BytesUsed
		err := l.SaveVote(to)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: %v -> %v rejected: %v", c.name, from, to, err)
			last = from
		case c.ok:
			if got := l.State().Vote; got != to {
				t.Errorf("%s: Vote = %v, want %v", c.name, got, to)
			}
			last = to
		case !errors.Is(err, mmaplog.ErrVoteReversal):
			t.Errorf("%s: %v -> %v = %v, want ErrVoteReversal", c.name, from, to, err)
			last = l.State().Vote
		default:
			if got := l.State().Vote; got != from {
				t.Errorf("%s: rejected, but Vote = %v, want %v", c.name, got, from)
			}
			if got := l.Stats().BytesUsed; got != used {
				t.Errorf("%s: rejected SaveVote wrote %d bytes", c.name, got-used)
			}
			last = from
		}
	}
	l = reopen(t, l, dir, smallOpts())
	if got := l.State().Vote; got != last {
		t.Fatalf("after reopen Vote = %v, want %v", got, last)
	}
}

// test_reopen + test_update_state: everything survives Close and Open; the
// last segment is reused (no new file); appends continue.
func TestReopenWithStateAndEntries(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 120, 700)
	mustAppend(t, l, es[:100]...)
	if err := l.Truncate(91); err != nil {
		t.Fatal(err)
	}
	es = append(es[:90], run(2, 91, 120, 700)...)
	mustAppend(t, l, es[90:]...)
	steps := []func() error{
		func() error { return l.SaveVote(mmaplog.Vote{Term: 2, NodeID: 3, Committed: true}) },
		func() error { return l.Commit(lid(2, 100)) },
		func() error { return l.Purge(lid(1, 10)) },
		func() error { return l.SaveUserData([]byte("membership")) },
	}
	for i, f := range steps {
		if err := f(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := mmaplog.State{
		Vote: mmaplog.Vote{Term: 2, NodeID: 3, Committed: true}, Last: lid(2, 120),
		Committed: lid(2, 100), Purged: lid(1, 10), UserData: []byte("membership"),
	}
	checkState(t, l, want)
	checkEntries(t, l, es[10:])
	segs := segFiles(t, dir)

	for range 2 {
		l = reopen(t, l, dir, smallOpts())
		checkState(t, l, want)
		checkEntries(t, l, es[10:])
		if got := segFiles(t, dir); !slices.Equal(got, segs) {
			t.Fatalf("reopen changed segment files %v -> %v", segs, got)
		}
	}
	// Appends continue, into the reused last segment first.
	mustAppend(t, l, ent(2, 121, 10))
	if got := segFiles(t, dir); !slices.Equal(got, segs) {
		t.Fatalf("first append after reopen created a segment: %v -> %v", segs, got)
	}
	es = append(es, ent(2, 121, 10))
	want.Last = lid(2, 121)
	// A different segment size on reopen works too.
	opts := smallOpts()
	opts.SegmentSize = 2 * mmaplog.MinSegmentSize
	l = reopen(t, l, dir, opts)
	checkState(t, l, want)
	checkEntries(t, l, es[10:])
	more := run(2, 122, 400, 500)
	mustAppend(t, l, more...)
	es = append(es, more...)
	want.Last = lid(2, 400)
	l = reopen(t, l, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, es[10:])
}

// test_open_new_chunk_size: rotation by size.
func TestRotationBySize(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 400, 1000)
	for i, e := range es {
		mustAppend(t, l, e)
		if i == 10 && l.Stats().Segments != 1 {
			t.Fatalf("rotated after 11 entries of 1 KB: Stats %+v", l.Stats())
		}
	}
	st := l.Stats()
	// 400 KB of payload in 64 KiB segments.
	if st.Segments < 7 || st.Segments > 10 {
		t.Fatalf("Segments = %d, want about 7", st.Segments)
	}
	segs := segFiles(t, dir)
	if len(segs) != st.Segments {
		t.Fatalf("files %v, Stats().Segments %d", segs, st.Segments)
	}
	var total int64
	for i, name := range segs {
		if want := fmt.Sprintf("%020d.seg", i+1); name != want {
			t.Fatalf("segment %d is named %s, want %s", i, name, want)
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != mmaplog.MinSegmentSize {
			t.Fatalf("%s is %d bytes, want SegmentSize %d", name, fi.Size(), mmaplog.MinSegmentSize)
		}
		total += fi.Size()
	}
	if st.BytesAllocated != total {
		t.Fatalf("BytesAllocated = %d, files hold %d", st.BytesAllocated, total)
	}
	if st.BytesUsed <= 400*1000 || st.BytesUsed > total {
		t.Fatalf("BytesUsed = %d, want in (400000, %d]", st.BytesUsed, total)
	}
	checkEntries(t, l, es)
	l = reopen(t, l, dir, smallOpts())
	checkEntries(t, l, es)
}

// Many empty entries: the index, not the bytes, fills up first.
func TestRotationManySmallEntries(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 5000, 0)
	for i := 0; i < len(es); i += 100 {
		mustAppend(t, l, es[i:i+100]...)
	}
	if l.Stats().Segments < 2 {
		t.Fatalf("no rotation after 5000 entries: %+v", l.Stats())
	}
	checkEntries(t, l, es)
	l = reopen(t, l, dir, smallOpts())
	checkEntries(t, l, es)
}

// An entry larger than SegmentSize gets a segment sized to fit.
func TestOversizedEntry(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := []mmaplog.Entry{ent(1, 1, 100), ent(1, 2, 3*mmaplog.MinSegmentSize), ent(1, 3, 100)}
	mustAppend(t, l, es...)
	// In a batch, between small ones, and one exactly SegmentSize long.
	batch := []mmaplog.Entry{ent(1, 4, 10), ent(1, 5, mmaplog.MinSegmentSize), ent(1, 6, 10), ent(1, 7, 2*mmaplog.MinSegmentSize+1), ent(1, 8, 0)}
	mustAppend(t, l, batch...)
	es = append(es, batch...)
	checkEntries(t, l, es)
	var big bool
	for _, name := range segFiles(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		big = big || fi.Size() > 3*mmaplog.MinSegmentSize
	}
	if !big {
		t.Fatalf("no segment file larger than the 192 KiB entry: %v", segFiles(t, dir))
	}
	l = reopen(t, l, dir, smallOpts())
	checkEntries(t, l, es)
	mustAppend(t, l, ent(1, 9, 5))
	es = append(es, ent(1, 9, 5))
	l = reopen(t, l, dir, smallOpts())
	checkEntries(t, l, es)
}

// ---------------------------------------------------------------------------
// test_reopen.rs: unfinished tails, trailing zeros, damaged records.

// test_reopen_unfinished_chunk, after Close: the last segment's last record
// (the closing checkpoint) is cut by a few bytes. Close made that record
// durable, so Open may report it as corruption (a *CorruptError naming the
// file, nothing changed on disk); or, since the checkpoint only repeats what
// the records before it say, cut it with a warning and keep everything
// before it. Nothing else is acceptable.
func TestReopenUnfinishedTailAfterClose(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 100, 900) // two segments
	mustAppend(t, l, es...)
	if err := l.SaveVote(mmaplog.Vote{Term: 1, NodeID: 2}); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(lid(1, 90)); err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)

	segs := segFiles(t, dir)
	last := filepath.Join(dir, segs[len(segs)-1])
	end := lastNonZero(t, last)
	editFile(t, last, func(b []byte) { clear(b[end-3 : end]) })

	// Close made every byte durable and sealed the index complete: damage
	// to those bytes is corruption, never a torn tail to cut.
	before := snapshotDir(t, dir)
	_, err := mmaplog.Open(dir, smallOpts())
	var ce *mmaplog.CorruptError
	if !errors.Is(err, mmaplog.ErrCorrupt) || !errors.As(err, &ce) || filepath.Clean(ce.Path) != last {
		t.Fatalf("Open: %v; want a *CorruptError naming %s", err, last)
	}
	if !sameDir(before, snapshotDir(t, dir)) {
		t.Fatalf("a failed Open changed the files in %s", dir)
	}
}

// test_reopen_unfinished_chunk, after a kill: the last record is an entry
// that was never flushed; cutting it by a few bytes loses only it.
func TestReopenUnfinishedTailAfterCrash(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 30, 200)
	mustAppend(t, l, es[:20]...)
	mustSync(t, l)
	mustAppend(t, l, es[20:]...)
	crash := crashCopy(t, dir)

	segs := segFiles(t, crash)
	last := filepath.Join(crash, segs[len(segs)-1])
	end := lastNonZero(t, last)
	if m := findMarker(t, last, lid(1, 30)); m > end {
		t.Fatalf("entry 30 at %d is not the last record (end %d)", m, end)
	}
	editFile(t, last, func(b []byte) { clear(b[end-5 : end]) })

	c := openLog(t, crash, smallOpts())
	checkState(t, c, mmaplog.State{Last: lid(1, 29)})
	checkEntries(t, c, es[:29])
	mustAppend(t, c, ent(2, 30, 7))
	c = reopen(t, c, crash, smallOpts())
	checkEntries(t, c, append(es[:29:29], ent(2, 30, 7)))
}

// A kill -9 keeps every write that returned nil: the copied directory
// reopens with the exact state, flushed or not.
func TestReopenAfterCrashKeepsReturnedWrites(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 150, 1000)
	mustAppend(t, l, es[:50]...)
	mustSync(t, l)
	mustAppend(t, l, es[50:]...)
	if err := l.Purge(lid(1, 70)); err != nil {
		t.Fatal(err)
	}
	if err := l.SaveVote(mmaplog.Vote{Term: 4, NodeID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := l.Truncate(141); err != nil {
		t.Fatal(err)
	}
	if err := l.SaveUserData([]byte{}); err != nil {
		t.Fatal(err)
	}
	want := l.State()
	crash := crashCopy(t, dir)
	c := openLog(t, crash, smallOpts())
	checkState(t, c, want)
	checkEntries(t, c, es[70:140])
}

// test_reopen_unfinished_tailing_zero_chunk: the whole last record reads
// as zeros (its page never reached the disk): it is gone, the rest stays.
func TestReopenTrailingZeros(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 10, 300)
	mustAppend(t, l, es[:5]...)
	mustSync(t, l)
	mustAppend(t, l, es[5:]...)
	crash := crashCopy(t, dir)
	segs := segFiles(t, crash)
	last := filepath.Join(crash, segs[len(segs)-1])
	// Zero entries 9 and 10 and everything after them.
	from := findMarker(t, last, lid(1, 9)) - 8
	editFile(t, last, func(b []byte) { clear(b[from:]) })

	c := openLog(t, crash, smallOpts())
	checkState(t, c, mmaplog.State{Last: lid(1, 8)})
	checkEntries(t, c, es[:8])
	mustAppend(t, c, ent(1, 9, 3))
	c = reopen(t, c, crash, smallOpts())
	checkEntries(t, c, append(es[:8:8], ent(1, 9, 3)))
}

// test_reopen_unfinished_tailing_not_all_zero_chunk: zeros and then garbage
// after the last record, in the region not proven durable, is a torn tail:
// cut and logged. New records written over the garbage must read back, and
// survive another reopen.
func TestReopenTrailingGarbage(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 10, 300)
	mustAppend(t, l, es[:5]...)
	mustSync(t, l)
	mustAppend(t, l, es[5:]...)
	crash := crashCopy(t, dir)
	segs := segFiles(t, crash)
	last := filepath.Join(crash, segs[len(segs)-1])
	end := lastNonZero(t, last)
	editFile(t, last, func(b []byte) {
		b[end+4096] = 0x01
		for i := end + 8192; i < end+8192+512; i++ {
			b[i] = 0xff
		}
	})

	var warns warnCounter
	opts := smallOpts()
	opts.Logger = slog.New(&warns)
	c := openLog(t, crash, opts)
	if warns.n.Load() == 0 {
		t.Errorf("garbage after the tail was cut without a warning")
	}
	checkState(t, c, mmaplog.State{Last: lid(1, 10)})
	checkEntries(t, c, es)
	// Write across the garbage with payload sizes that leave padding.
	more := []mmaplog.Entry{}
	for i := uint64(11); i <= 80; i++ {
		more = append(more, ent(1, i, 100+int(i%8)))
	}
	mustAppend(t, c, more...)
	all := append(es[:10:10], more...)
	checkEntries(t, c, all)
	c = reopen(t, c, crash, smallOpts())
	checkEntries(t, c, all)
}

// expectOpenCorrupt opens dir expecting a *CorruptError naming path, and
// checks that the failed Open changed nothing on disk.
func expectOpenCorrupt(t testing.TB, dir, path string) *mmaplog.CorruptError {
	t.Helper()
	before := snapshotDir(t, dir)
	l, err := mmaplog.Open(dir, smallOpts())
	if err == nil {
		_ = l.Close()
		t.Fatalf("Open succeeded on a damaged durable record in %s", path)
	}
	if !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
	var ce *mmaplog.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("Open: %v (%T) is not a *CorruptError", err, err)
	}
	if filepath.Clean(ce.Path) != filepath.Clean(path) {
		t.Fatalf("CorruptError.Path = %q, want %q (%v)", ce.Path, path, err)
	}
	if !sameDir(before, snapshotDir(t, dir)) {
		t.Fatalf("a failed Open changed the files in %s", dir)
	}
	return ce
}

// test_reopen_damaged_last_record: a byte flipped inside a flushed record
// that later durable records follow is corruption, never a silent cut.
func TestReopenDamagedRecord(t *testing.T) {
	corruptions := []struct {
		name    string
		corrupt func(b []byte, at int)
	}{
		{"flip one bit", func(b []byte, at int) { b[at+3] ^= 0x10 }},
		{"zero eight bytes", func(b []byte, at int) { clear(b[at : at+8]) }},
		{"all ones", func(b []byte, at int) {
			for i := at; i < at+16; i++ {
				b[i] = 0xff
			}
		}},
		{"flip a byte before the payload", func(b []byte, at int) { b[at-9] ^= 0x01 }},
	}
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, smallOpts())
			es := run(1, 1, 22, 100)
			mustAppend(t, l, es[:10]...)
			mustSync(t, l)
			mustAppend(t, l, es[10:20]...)
			mustSync(t, l)
			mustAppend(t, l, es[20:]...)
			crash := crashCopy(t, dir)
			seg := filepath.Join(crash, segFiles(t, crash)[0])
			at := findMarker(t, seg, lid(1, 5))
			editFile(t, seg, func(b []byte) { c.corrupt(b, at) })
			ce := expectOpenCorrupt(t, crash, seg)
			if ce.Offset <= 0 || ce.Offset > int64(at) || int64(at)-ce.Offset > 128 {
				t.Fatalf("CorruptError.Offset = %d, the damaged record's payload is at %d", ce.Offset, at)
			}
		})
	}
}

// Damage in an older, sealed segment of a cleanly closed log. Open need not
// read every record of a clean log, so the damage may be reported by Open or
// by the read that reaches it — but always as ErrCorrupt, never as data.
func TestDamagedRecordInSealedSegment(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 300, 1000)
	mustAppend(t, l, es...)
	closeLog(t, l)
	segs := segFiles(t, dir)
	first := filepath.Join(dir, segs[0])
	at := findMarker(t, first, lid(1, 5))
	editFile(t, first, func(b []byte) { b[at+20] ^= 0x40 })

	l, err := mmaplog.Open(dir, smallOpts())
	if err != nil {
		var ce *mmaplog.CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, mmaplog.ErrCorrupt) || filepath.Clean(ce.Path) != first {
			t.Fatalf("Open: %v, want a *CorruptError naming %s", err, first)
		}
		return
	}
	t.Cleanup(func() { _ = l.Close() })
	_, err = l.Get(5)
	var ce *mmaplog.CorruptError
	if !errors.Is(err, mmaplog.ErrCorrupt) || !errors.As(err, &ce) || filepath.Clean(ce.Path) != first {
		t.Fatalf("Get(5) of a damaged record: %v, want a *CorruptError naming %s", err, first)
	}
	got, err := collect(l, 1, 10)
	if !errors.Is(err, mmaplog.ErrCorrupt) || len(got) != 4 {
		t.Fatalf("Entries(1, 10) = %s, %v; want 4 entries then ErrCorrupt", fmtEntries(got), err)
	}
	if e, err := l.Get(6); err != nil || !sameEntry(e, es[5]) {
		t.Fatalf("Get(6) next to the damage = %v, %v", e.ID, err)
	}
}

// ---------------------------------------------------------------------------
// Flush callbacks, stats, concurrent reads.

// Flush callbacks run exactly once each, in call order, with nil.
func TestFlushCallbacks(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	var mu sync.Mutex
	var calls []int
	var errs []error
	cb := func(i int) func(error) {
		return func(err error) {
			mu.Lock()
			calls = append(calls, i)
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	const n = 200
	for i := range n {
		mustAppend(t, l, ent(1, uint64(i+1), 50))
		if err := l.Flush(cb(i)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if err := l.Flush(nil); err != nil { // nil callback is allowed
				t.Fatal(err)
			}
		}
	}
	mustSync(t, l) // callbacks run in order: all earlier ones are done
	mu.Lock()
	if len(calls) != n {
		t.Fatalf("%d callbacks ran, want %d", len(calls), n)
	}
	for i := range calls {
		if calls[i] != i || errs[i] != nil {
			t.Fatalf("callback %d: ran as %d-th with %v", calls[i], i, errs[i])
		}
	}
	mu.Unlock()
	st := l.Stats()
	if st.Flushes != n+4+1 {
		t.Fatalf("Stats().Flushes = %d, want %d", st.Flushes, n+5)
	}
	if st.Syncs == 0 || st.Syncs > st.Flushes {
		t.Fatalf("Stats().Syncs = %d with %d flushes", st.Syncs, st.Flushes)
	}

	// Concurrent flushers: each one's callbacks in its own call order, every
	// one exactly once.
	const g, per = 4, 50
	seen := make([][]int, g)
	var wg sync.WaitGroup
	for w := range g {
		wg.Go(func() {
			for i := range per {
				if err := l.Flush(func(err error) {
					if err != nil {
						t.Errorf("flusher %d callback %d: %v", w, i, err)
					}
					mu.Lock()
					seen[w] = append(seen[w], i)
					mu.Unlock()
				}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// Flushes issued before Close have all run when Close returns.
	closeLog(t, l)
	mu.Lock()
	defer mu.Unlock()
	for w := range g {
		if len(seen[w]) != per {
			t.Fatalf("flusher %d: %d callbacks ran, want %d", w, len(seen[w]), per)
		}
		for i, v := range seen[w] {
			if v != i {
				t.Fatalf("flusher %d: callbacks ran in order %v", w, seen[w])
			}
		}
	}
}

func TestStats(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	st := l.Stats()
	if st.Segments != 1 || st.Entries != 0 || st.FirstIndex != 0 || st.LastIndex != 0 || st.Appends != 0 ||
		st.Flushes != 0 || st.Failed != nil || st.BytesUsed <= 0 || st.BytesAllocated != mmaplog.MinSegmentSize || st.IndexBytes <= 0 {
		t.Fatalf("new log: %+v", st)
	}
	used := st.BytesUsed
	mustAppend(t, l, run(1, 1, 100, 1000)...)
	mustSync(t, l)
	st = l.Stats()
	if st.Entries != 100 || st.FirstIndex != 1 || st.LastIndex != 100 || st.Appends != 100 {
		t.Fatalf("after 100 appends: %+v", st)
	}
	if st.BytesUsed < used+100*1000 || st.Segments < 2 || st.BytesAllocated != int64(st.Segments)*mmaplog.MinSegmentSize {
		t.Fatalf("after 100 appends of 1000 B: %+v", st)
	}
	if st.Flushes != 1 || st.Syncs != 1 || st.SyncTotal < st.LastSync || st.SyncMax < st.LastSync || st.SyncTotal <= 0 {
		t.Fatalf("after one Sync: %+v", st)
	}
	if st.Segments != len(segFiles(t, dir)) {
		t.Fatalf("Segments %d, files %v", st.Segments, segFiles(t, dir))
	}
	if err := l.Purge(lid(1, 40)); err != nil {
		t.Fatal(err)
	}
	st = l.Stats()
	if st.Entries != 60 || st.FirstIndex != 41 || st.LastIndex != 100 {
		t.Fatalf("after Purge(40): %+v", st)
	}
	if err := l.Truncate(91); err != nil {
		t.Fatal(err)
	}
	if st = l.Stats(); st.Entries != 50 || st.FirstIndex != 41 || st.LastIndex != 90 {
		t.Fatalf("after Truncate(91): %+v", st)
	}
	if err := l.Purge(lid(1, 200)); err != nil {
		t.Fatal(err)
	}
	if st = l.Stats(); st.Entries != 0 || st.FirstIndex != 0 || st.LastIndex != 0 {
		t.Fatalf("after Purge beyond Last: %+v", st)
	}
	mustSync(t, l)
	waitRemovals(t, l)
	if st = l.Stats(); st.Flushes != 2 || st.Syncs != 2 || st.PendingRemovals != 0 || st.Segments != len(segFiles(t, dir)) {
		t.Fatalf("after the second Sync: %+v, files %v", st, segFiles(t, dir))
	}
	// Counters are per Open.
	l = reopen(t, l, dir, smallOpts())
	if st = l.Stats(); st.Appends != 0 || st.Flushes != 0 {
		t.Fatalf("after reopen: %+v", st)
	}
}

// Dump writes one line per record (at least one per entry) and ends cleanly.
func TestDump(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	mustAppend(t, l, run(1, 1, 150, 1000)...)
	if err := l.SaveVote(mmaplog.Vote{Term: 1, NodeID: 1}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := l.Dump(&b); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(b.String(), "\n"); lines < 152 {
		t.Fatalf("Dump wrote %d lines for 150 entries, a vote and the snapshots:\n%s", lines, b.String())
	}
	if err := l.Dump(io.Discard); err != nil {
		t.Fatal(err)
	}
}

// test_concurrent_read_race_condition: many readers of a reopened log.
func TestConcurrentReads(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 500, 300)
	mustAppend(t, l, es...)
	l = reopen(t, l, dir, smallOpts())
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for r := range 100 {
				from := uint64((g*131+r*37)%496 + 1)
				got, err := collect(l, from, from+5)
				if err != nil || !slices.EqualFunc(got, es[from-1:from+4], sameEntry) {
					bad.Add(1)
				}
				if e, err := l.Get(from); err != nil || !sameEntry(e, es[from-1]) {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d reads failed or returned wrong entries", n)
	}
}

// Truncating below the first entry of the open segment, then reopening and
// appending: the new entries go into that segment at lower indexes. A later
// scan of it (after a kill -9, or with the index files lost) must accept
// what the writer wrote.
func TestTruncateBelowSegmentReopenCrash(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallOpts())
	es := run(1, 1, 70, 1000) // entries 61..70 are in segment 2
	mustAppend(t, l, es...)
	if n := len(segFiles(t, dir)); n != 2 {
		t.Fatalf("want 2 segments, have %d", n)
	}
	if err := l.Truncate(50); err != nil {
		t.Fatal(err)
	}
	l = reopen(t, l, dir, smallOpts())
	es = append(es[:49], run(2, 50, 55, 100)...)
	mustAppend(t, l, es[49:]...)
	mustSync(t, l)
	want := l.State()
	checkEntries(t, l, es)

	crash := crashCopy(t, dir)
	c := openLog(t, crash, smallOpts())
	checkState(t, c, want)
	checkEntries(t, c, es)
	closeLog(t, c)

	// The same after a clean Close with the index files gone.
	closeLog(t, l)
	for _, name := range idxFiles(t, dir) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	l = openLog(t, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, es)
}

// A log whose first append started above 1, truncated empty, then appended
// to below the old first index: the new entries exist and read back, also
// after reopen and after a kill -9.
func TestTruncateEmptyThenAppendLower(t *testing.T) {
	for _, purge := range []bool{false, true} {
		t.Run(fmt.Sprintf("purged=%v", purge), func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, smallOpts())
			mustAppend(t, l, ent(1, 10, 8), ent(1, 11, 8))
			want := mmaplog.State{}
			if purge {
				if err := l.Purge(lid(1, 5)); err != nil { // in the gap below the first entry
					t.Fatal(err)
				}
				want = mmaplog.State{Purged: lid(1, 5), Last: lid(1, 5)}
			}
			if err := l.Truncate(10); err != nil { // no entry is left
				t.Fatal(err)
			}
			checkState(t, l, want)
			checkEntries(t, l, nil)
			es := run(2, want.Last.Index+1, want.Last.Index+4, 8)
			mustAppend(t, l, es...)
			want.Last = es[len(es)-1].ID
			checkState(t, l, want)
			checkEntries(t, l, es)
			crash := crashCopy(t, dir)
			c := openLog(t, crash, smallOpts())
			checkState(t, c, want)
			checkEntries(t, c, es)
			l = reopen(t, l, dir, smallOpts())
			checkState(t, l, want)
			checkEntries(t, l, es)
		})
	}
}

// waitRemovals waits until the purged segment files that a completed
// flush handed to the background remover are deleted (10 s at most).
func waitRemovals(t *testing.T, l *mmaplog.Log) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); l.Stats().PendingRemovals > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("purged segments not removed: %+v", l.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}
