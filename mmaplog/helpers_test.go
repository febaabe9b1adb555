package mmaplog_test

// The raft-log test list (RESEARCH/raft-log.md §6) ported to mmaplog's
// semantics (DESIGN.md), on real files and real mappings. This file also
// holds the helpers shared by the other black-box test files.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

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

// appended opens a log in dir with smallOpts and appends entries 1..n of
// term 1 with size-byte payloads in one call; it returns the log and the
// entries.
func appended(t testing.TB, dir string, n uint64, size int) (*mmaplog.Log, []mmaplog.Entry) {
	t.Helper()
	l := logtest.MustOpen(t, dir, smallOpts())
	es := run(1, 1, n, size)
	logtest.MustAppend(t, l, es...)
	return l, es
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

// segFiles and idxFiles list the segment and index files of dir, sorted.
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	return logtest.NamesWithSuffix(t, dir, ".seg")
}
func idxFiles(t testing.TB, dir string) []string {
	t.Helper()
	return logtest.NamesWithSuffix(t, dir, ".idx")
}

// lastSegment returns the path of the last segment file of dir.
func lastSegment(t testing.TB, dir string) string {
	t.Helper()
	segs := segFiles(t, dir)
	if len(segs) == 0 {
		t.Fatalf("no segment file in %s", dir)
	}
	return filepath.Join(dir, segs[len(segs)-1])
}

// findMarker returns the offset of id's payload marker in the segment file
// at path, failing when it is absent or not unique.
func findMarker(t testing.TB, path string, id mmaplog.LogID) int {
	t.Helper()
	b := logtest.ReadFile(t, path)
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
	b := logtest.ReadFile(t, path)
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return n
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
