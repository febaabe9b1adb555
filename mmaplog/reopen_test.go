package mmaplog_test

// The raft-log test list (RESEARCH/raft-log.md §6) ported to mmaplog's
// semantics (DESIGN.md), on real files and real mappings. This file also
// holds the helpers shared by the other black-box test files.

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// Reopening after a clean close or a crash: unfinished tails, trailing
// zeros, damaged records (the cases of raft-log's test_reopen.rs).

// crashedTail writes entries 1..n of term 1 with size-byte payloads, the
// first synced of them synced and the rest not, and returns a copy of the
// directory taken while the Log is open (a kill -9), the path of the
// copy's last segment and the entries.
func crashedTail(t *testing.T, n uint64, size, synced int) (crash, last string, es []mmaplog.Entry) {
	t.Helper()
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	es = run(1, 1, n, size)
	logtest.MustAppend(t, l, es[:synced]...)
	logtest.MustSync(t, l)
	logtest.MustAppend(t, l, es[synced:]...)
	crash = logtest.CopyDir(t, dir)
	return crash, lastSegment(t, crash), es
}

// checkCut opens the damaged crash copy in dir expecting the tail cut
// after es[:keep], then appends next after them and checks that it reads
// back after a reopen.
func checkCut(t *testing.T, dir string, es []mmaplog.Entry, keep int, next mmaplog.Entry) {
	t.Helper()
	c := logtest.MustOpen(t, dir, smallOpts())
	checkState(t, c, mmaplog.State{Last: es[keep-1].ID})
	checkEntries(t, c, es[:keep])
	logtest.MustAppend(t, c, next)
	c = logtest.Reopen(t, c, dir, smallOpts())
	checkEntries(t, c, append(es[:keep:keep], next))
}

// test_reopen_unfinished_chunk, after Close: the last segment's last record
// (the closing checkpoint) is cut by a few bytes. Close made that record
// durable, so Open may report it as corruption (a *CorruptError naming the
// file, nothing changed on disk); or, since the checkpoint only repeats what
// the records before it say, cut it with a warning and keep everything
// before it. Nothing else is acceptable.
func TestReopenUnfinishedTailAfterClose(t *testing.T) {
	dir := t.TempDir()
	l, _ := appended(t, dir, 100, 900) // two segments
	if err := l.SaveVote(mmaplog.Vote{Term: 1, NodeID: 2}); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(lid(1, 90)); err != nil {
		t.Fatal(err)
	}
	logtest.MustClose(t, l)

	last := lastSegment(t, dir)
	end := lastNonZero(t, last)
	logtest.Edit(t, last, func(b []byte) { clear(b[end-3 : end]) })

	// Close made every byte durable and sealed the index complete: damage
	// to those bytes is corruption, never a torn tail to cut.
	before := logtest.Snapshot(t, dir)
	_, err := mmaplog.Open(dir, smallOpts())
	var ce *mmaplog.CorruptError
	if !errors.Is(err, mmaplog.ErrCorrupt) || !errors.As(err, &ce) || filepath.Clean(ce.Path) != last {
		t.Fatalf("Open: %v; want a *CorruptError naming %s", err, last)
	}
	logtest.Unchanged(t, "a failed Open", before, dir)
}

// test_reopen_unfinished_chunk, after a kill: the last record is an entry
// that was never flushed; cutting it by a few bytes loses only it.
func TestReopenUnfinishedTailAfterCrash(t *testing.T) {
	crash, last, es := crashedTail(t, 30, 200, 20)
	end := lastNonZero(t, last)
	if m := findMarker(t, last, lid(1, 30)); m > end {
		t.Fatalf("entry 30 at %d is not the last record (end %d)", m, end)
	}
	logtest.Edit(t, last, func(b []byte) { clear(b[end-5 : end]) })
	checkCut(t, crash, es, 29, ent(2, 30, 7))
}

// A kill -9 keeps every write that returned nil: the copied directory
// reopens with the exact state, flushed or not.
func TestReopenAfterCrashKeepsReturnedWrites(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	es := run(1, 1, 150, 1000)
	logtest.MustAppend(t, l, es[:50]...)
	logtest.MustSync(t, l)
	logtest.MustAppend(t, l, es[50:]...)
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
	crash := logtest.CopyDir(t, dir)
	c := logtest.MustOpen(t, crash, smallOpts())
	checkState(t, c, want)
	checkEntries(t, c, es[70:140])
}

// test_reopen_unfinished_tailing_zero_chunk: the whole last record reads
// as zeros (its page never reached the disk): it is gone, the rest stays.
func TestReopenTrailingZeros(t *testing.T) {
	crash, last, es := crashedTail(t, 10, 300, 5)
	// Zero entries 9 and 10 and everything after them.
	from := findMarker(t, last, lid(1, 9)) - 8
	logtest.Edit(t, last, func(b []byte) { clear(b[from:]) })
	checkCut(t, crash, es, 8, ent(1, 9, 3))
}

// test_reopen_unfinished_tailing_not_all_zero_chunk: zeros and then garbage
// after the last record, in the region not proven durable, is a torn tail:
// cut and logged. New records written over the garbage must read back, and
// survive another reopen.
func TestReopenTrailingGarbage(t *testing.T) {
	crash, last, es := crashedTail(t, 10, 300, 5)
	end := lastNonZero(t, last)
	logtest.Edit(t, last, func(b []byte) {
		b[end+4096] = 0x01
		for i := end + 8192; i < end+8192+512; i++ {
			b[i] = 0xff
		}
	})

	var warns warnCounter
	opts := smallOpts()
	opts.Logger = slog.New(&warns)
	c := logtest.MustOpen(t, crash, opts)
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
	logtest.MustAppend(t, c, more...)
	all := append(es[:10:10], more...)
	checkEntries(t, c, all)
	c = logtest.Reopen(t, c, crash, smallOpts())
	checkEntries(t, c, all)
}

// expectOpenCorrupt opens dir expecting a *CorruptError naming path, and
// checks that the failed Open changed nothing on disk.
func expectOpenCorrupt(t testing.TB, dir, path string) *mmaplog.CorruptError {
	t.Helper()
	before := logtest.Snapshot(t, dir)
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
	logtest.Unchanged(t, "a failed Open", before, dir)
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
			l := logtest.MustOpen(t, dir, smallOpts())
			es := run(1, 1, 22, 100)
			logtest.MustAppend(t, l, es[:10]...)
			logtest.MustSync(t, l)
			logtest.MustAppend(t, l, es[10:20]...)
			logtest.MustSync(t, l)
			logtest.MustAppend(t, l, es[20:]...)
			crash := logtest.CopyDir(t, dir)
			seg := filepath.Join(crash, segFiles(t, crash)[0])
			at := findMarker(t, seg, lid(1, 5))
			logtest.Edit(t, seg, func(b []byte) { c.corrupt(b, at) })
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
	l, es := appended(t, dir, 300, 1000)
	logtest.MustClose(t, l)
	segs := segFiles(t, dir)
	first := filepath.Join(dir, segs[0])
	at := findMarker(t, first, lid(1, 5))
	logtest.Edit(t, first, func(b []byte) { b[at+20] ^= 0x40 })

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
