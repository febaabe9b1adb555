package mmaplog_test

// The raft-log test list (RESEARCH/raft-log.md §6) ported to mmaplog's
// semantics (DESIGN.md), on real files and real mappings. This file also
// holds the helpers shared by the other black-box test files.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// The write and read API, case by case (the cases of raft-log's
// test_raft_log.rs, among others).

func TestSaveUserData(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
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

	l = logtest.Reopen(t, l, dir, smallOpts())
	checkState(t, l, mmaplog.State{UserData: []byte("hello user data")})

	// Empty is not nil: it is set, to zero bytes.
	if err := l.SaveUserData([]byte{}); err != nil {
		t.Fatal(err)
	}
	if ud := l.State().UserData; ud == nil || len(ud) != 0 {
		t.Fatalf("after SaveUserData([]byte{}): UserData = %#v, want non-nil empty", ud)
	}
	l = logtest.Reopen(t, l, dir, smallOpts())
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
	l = logtest.Reopen(t, l, dir, smallOpts())
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
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkState(t, l, mmaplog.State{UserData: []byte("short")})
}

func TestSaveVote(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
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
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkState(t, l, mmaplog.State{Vote: v})
}

func TestAppendAndRead(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
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
	logtest.MustAppend(t, l, mmaplog.Entry{ID: lid(1, 3), Payload: p})
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
	l := logtest.MustOpen(t, dir, smallOpts())
	e2, e3 := ent(2, 2, 10), ent(3, 3, 10)
	logtest.MustAppend(t, l, e2, e3)
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
	l = logtest.Reopen(t, l, dir, smallOpts())
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
	l := logtest.MustOpen(t, dir, smallOpts())
	logtest.MustAppend(t, l, run(1, 1, 3, 20)...)
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
	logtest.MustAppend(t, l, ent(2, 2, 30), ent(2, 3, 30))
	want.Last = lid(2, 3)
	checkState(t, l, want)
	wantEs := append(run(1, 1, 1, 20), ent(2, 2, 30), ent(2, 3, 30))
	checkEntries(t, l, wantEs)

	l = logtest.Reopen(t, l, dir, smallOpts())
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
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, nil)
	logtest.MustAppend(t, l, ent(4, 1, 1))
	checkEntries(t, l, run(4, 1, 1, 1))
}

// test_truncate_just_after_purged: truncating right after the purge point
// leaves Last = Purged.
func TestTruncateJustAfterPurged(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	logtest.MustAppend(t, l, run(1, 1, 3, 8)...)
	if err := l.Purge(lid(1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Truncate(2); err != nil {
		t.Fatal(err)
	}
	want := mmaplog.State{Last: lid(1, 1), Purged: lid(1, 1)}
	checkState(t, l, want)
	checkEntries(t, l, nil)
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, nil)
	// The next append must follow the purge point.
	if err := l.Append(ent(2, 3, 1)); !errors.Is(err, mmaplog.ErrNonConsecutive) {
		t.Fatalf("Append(2-3) after purge at 1-1: %v, want ErrNonConsecutive", err)
	}
	logtest.MustAppend(t, l, ent(2, 2, 1))
	checkEntries(t, l, []mmaplog.Entry{ent(2, 2, 1)})
}

// test_truncate_non_existent: the valid range is [Purged.Index+1,
// Last.Index+1]; Last.Index+1 is a no-op; outside is ErrNotFound.
func TestTruncateOutOfRange(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	logtest.MustAppend(t, l, run(1, 1, 3, 8)...)
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
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, run(1, 2, 3, 8))
}

// The raft-log variant: a log holding only entries 2 and 3 (first append at
// index 2, never purged). Truncate(4) is Last+1, Truncate(5) is out of range.
func TestTruncateNonExistent(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	logtest.MustAppend(t, l, ent(1, 2, 8), ent(1, 3, 8))
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
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkState(t, l, mmaplog.State{})
	checkEntries(t, l, nil)
}

func TestPurge(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	logtest.MustAppend(t, l, ent(1, 1, 4), ent(1, 2, 4), ent(2, 3, 4))
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
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, nil)

	// The next append must be upto.Index+1, above upto.
	if err := l.Append(ent(2, 6, 1)); !errors.Is(err, mmaplog.ErrNonConsecutive) {
		t.Fatalf("Append(2-6) = %v, want ErrNonConsecutive", err)
	}
	if err := l.Append(ent(1, 5, 1)); !errors.Is(err, mmaplog.ErrLogIDReversal) {
		t.Fatalf("Append(1-5) = %v, want ErrLogIDReversal", err)
	}
	logtest.MustAppend(t, l, ent(2, 5, 1))
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
	l, es := appended(t, dir, 300, 1000) // ~5 segments of 64 KiB
	if n := l.Stats().Segments; n < 4 {
		t.Fatalf("Segments = %d, want rotation", n)
	}
	if err := l.Purge(lid(1, 250)); err != nil {
		t.Fatal(err)
	}
	logtest.MustSync(t, l)
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkState(t, l, mmaplog.State{Last: lid(1, 300), Purged: lid(1, 250)})
	checkEntries(t, l, es[250:])
}

// test_purge_removes_chunks + test_sync: a segment whose entries are all
// purged is deleted only by the flush after the purge, never before.
func TestPurgeRemovesSegmentsAfterFlush(t *testing.T) {
	dir := t.TempDir()
	l, es := appended(t, dir, 300, 1000)
	logtest.MustSync(t, l)
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

	logtest.MustSync(t, l)
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
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkEntries(t, l, es[290:])
	if got := segFiles(t, dir); !slices.Equal(got, after) {
		t.Fatalf("reopen changed segment files: %v -> %v", after, got)
	}
}

// Close is a flush: purged segments are deleted by it.
func TestPurgeRemovesSegmentsOnClose(t *testing.T) {
	dir := t.TempDir()
	l, es := appended(t, dir, 200, 1000)
	before := segFiles(t, dir)
	if err := l.Purge(lid(1, 199)); err != nil {
		t.Fatal(err)
	}
	logtest.MustClose(t, l)
	after := segFiles(t, dir)
	if len(after) >= len(before) {
		t.Fatalf("after Purge+Close: segment files %v (before %v)", after, before)
	}
	l = logtest.MustOpen(t, dir, smallOpts())
	checkState(t, l, mmaplog.State{Last: lid(1, 200), Purged: lid(1, 199)})
	checkEntries(t, l, es[199:])
}

func TestCommit(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	logtest.MustAppend(t, l, run(1, 1, 3, 1)...)
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
	l = logtest.Reopen(t, l, dir, smallOpts())
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
		{"nobody committed", vt(2, 0, false), vt(2, 0, true), false},
	}
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())

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
	l = logtest.Reopen(t, l, dir, smallOpts())
	if got := l.State().Vote; got != last {
		t.Fatalf("after reopen Vote = %v, want %v", got, last)
	}
}

// test_reopen + test_update_state: everything survives Close and Open; the
// last segment is reused (no new file); appends continue.
func TestReopenWithStateAndEntries(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	es := run(1, 1, 120, 700)
	logtest.MustAppend(t, l, es[:100]...)
	if err := l.Truncate(91); err != nil {
		t.Fatal(err)
	}
	es = append(es[:90], run(2, 91, 120, 700)...)
	logtest.MustAppend(t, l, es[90:]...)
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
		l = logtest.Reopen(t, l, dir, smallOpts())
		checkState(t, l, want)
		checkEntries(t, l, es[10:])
		if got := segFiles(t, dir); !slices.Equal(got, segs) {
			t.Fatalf("reopen changed segment files %v -> %v", segs, got)
		}
	}
	// Appends continue, into the reused last segment first.
	logtest.MustAppend(t, l, ent(2, 121, 10))
	if got := segFiles(t, dir); !slices.Equal(got, segs) {
		t.Fatalf("first append after reopen created a segment: %v -> %v", segs, got)
	}
	es = append(es, ent(2, 121, 10))
	want.Last = lid(2, 121)
	// A different segment size on reopen works too.
	opts := smallOpts()
	opts.SegmentSize = 2 * mmaplog.MinSegmentSize
	l = logtest.Reopen(t, l, dir, opts)
	checkState(t, l, want)
	checkEntries(t, l, es[10:])
	more := run(2, 122, 400, 500)
	logtest.MustAppend(t, l, more...)
	es = append(es, more...)
	want.Last = lid(2, 400)
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkState(t, l, want)
	checkEntries(t, l, es[10:])
}

// test_open_new_chunk_size: rotation by size.
func TestRotationBySize(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	es := run(1, 1, 400, 1000)
	for i, e := range es {
		logtest.MustAppend(t, l, e)
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
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkEntries(t, l, es)
}

// Many empty entries: the index, not the bytes, fills up first.
func TestRotationManySmallEntries(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	es := run(1, 1, 5000, 0)
	for i := 0; i < len(es); i += 100 {
		logtest.MustAppend(t, l, es[i:i+100]...)
	}
	if l.Stats().Segments < 2 {
		t.Fatalf("no rotation after 5000 entries: %+v", l.Stats())
	}
	checkEntries(t, l, es)
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkEntries(t, l, es)
}

// An entry larger than SegmentSize gets a segment sized to fit.
func TestOversizedEntry(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	es := []mmaplog.Entry{ent(1, 1, 100), ent(1, 2, 3*mmaplog.MinSegmentSize), ent(1, 3, 100)}
	logtest.MustAppend(t, l, es...)
	// In a batch, between small ones, and one exactly SegmentSize long.
	batch := []mmaplog.Entry{ent(1, 4, 10), ent(1, 5, mmaplog.MinSegmentSize), ent(1, 6, 10), ent(1, 7, 2*mmaplog.MinSegmentSize+1), ent(1, 8, 0)}
	logtest.MustAppend(t, l, batch...)
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
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkEntries(t, l, es)
	logtest.MustAppend(t, l, ent(1, 9, 5))
	es = append(es, ent(1, 9, 5))
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkEntries(t, l, es)
}
