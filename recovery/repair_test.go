package recovery_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// checkSettled checks a repaired log l on dir and closes it: every entry
// reads, and then neither Verify nor another Repair finds anything to do.
func checkSettled(t *testing.T, l *mmaplog.Log, dir string) {
	t.Helper()
	if n := checkNoWrongEntry(t, l); n > 0 {
		t.Fatalf("after Repair, %d entries fail to read", n)
	}
	logtest.MustClose(t, l)
	if rep := verify(t, dir); rep.Status == recovery.StatusCorrupt {
		t.Fatalf("Verify after Repair and Close: %s", describe(rep))
	}
	if rr, err := recovery.Repair(dir); err != nil || rr.Changed() {
		t.Fatalf("another Repair: changed %v, err %v", rr != nil && rr.Changed(), err)
	}
}

// TestRepairLocked: Repair and Verify refuse a directory a Log holds.
func TestRepairLocked(t *testing.T) {
	dir, _ := closed(t, syncedThen(t, 3, 0))
	l := logtest.MustOpen(t, dir, testOpts)
	defer l.Close()
	if _, err := recovery.Repair(dir); !errors.Is(err, mmaplog.ErrLocked) {
		t.Fatalf("Repair of a locked directory: %v", err)
	}
	if _, err := recovery.Verify(dir); !errors.Is(err, mmaplog.ErrLocked) {
		t.Fatalf("Verify of a locked directory: %v", err)
	}
	if err := recovery.Walk(dir, func(recovery.WalkItem) error { return nil }); !errors.Is(err, mmaplog.ErrLocked) {
		t.Fatalf("Walk of a locked directory: %v", err)
	}
}

// TestVerifyMissingDir: an I/O error, not a report.
func TestVerifyMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	if _, err := recovery.Verify(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Verify of a missing directory: %v", err)
	}
	if _, err := recovery.Repair(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Repair of a missing directory: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Repair created the directory")
	}
}

// TestVerifyReport checks the counts of a clean multi-segment log, the
// progress callback and the quick mode.
func TestVerifyReport(t *testing.T) {
	dir, _ := closed(t, func(l *mmaplog.Log, m *model) {
		manySegments(t, 2100)(l, m)
		must(t, l.SaveVote(mmaplog.Vote{Term: 1, NodeID: 3}))
		must(t, l.Commit(mmaplog.LogID{Term: 1, Index: 2000}))
	})
	var calls int
	var done, total int64
	rep, err := recovery.VerifyWith(dir, recovery.ScanOptions{Progress: func(d, tot int64) { calls, done, total = calls+1, d, tot }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != recovery.StatusClean || rep.FirstIndex != 1 || rep.LastIndex != 2100 || rep.Entries != 2100 || len(rep.Segments) != 3 {
		t.Fatalf("report: %s, entries %d..%d, %d segments", describe(rep), rep.FirstIndex, rep.LastIndex, len(rep.Segments))
	}
	if rep.State.Vote != (mmaplog.Vote{Term: 1, NodeID: 3}) || rep.State.Committed.Index != 2000 {
		t.Fatalf("state {%s}", recovery.DescribeState(&rep.State))
	}
	var recs int
	var first uint64 = 1
	for _, s := range rep.Segments {
		recs += s.Records
		if s.Index != recovery.IndexTrusted || s.First != first {
			t.Fatalf("segment %+v", s)
		}
		first = s.Last + 1
	}
	if want := len(allRecords(t, dir)); recs != want || rep.Records != want {
		t.Fatalf("%d/%d records checked, the log has %d", recs, rep.Records, want)
	}
	if calls < 3 || done != total || total == 0 {
		t.Fatalf("progress: %d calls, last %d/%d", calls, done, total)
	}
	quick, err := recovery.VerifyWith(dir, recovery.ScanOptions{Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	if quick.Status != recovery.StatusClean || !quick.State.Equal(rep.State) || quick.Records != 0 || !quick.Quick {
		t.Fatalf("quick: %s, %d records", describe(quick), quick.Records)
	}
}

// TestWalk follows the records Walk reports against the files.
func TestWalk(t *testing.T) {
	dir, _ := crashed(t, manySegments(t, 1500))
	var n, stops int
	err := recovery.Walk(dir, func(it recovery.WalkItem) error {
		if it.Record == nil {
			stops++
			if !errors.Is(it.Stop, format.ErrUnwritten) {
				t.Fatalf("stop at %s:%d: %v", it.Path, it.Offset, it.Stop)
			}
			return nil
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(allRecords(t, dir)); n != want || stops != len(segNames(t, dir)) {
		t.Fatalf("Walk: %d records, %d stops; the log has %d records in %d segments", n, stops, want, len(segNames(t, dir)))
	}
	stop := errors.New("enough")
	if err := recovery.Walk(dir, func(recovery.WalkItem) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Walk returned %v, want the callback's error", err)
	}
}

// TestNoLog: the tools refuse a path that holds no log, and create
// nothing there.
func TestNoLog(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(t.TempDir(), "f")
	must(t, os.WriteFile(file, []byte("x"), 0o600))
	for _, dir := range []string{empty, file, filepath.Join(empty, "missing")} {
		if _, err := recovery.Verify(dir); !errors.Is(err, recovery.ErrNoLog) {
			t.Errorf("Verify(%s): %v, want ErrNoLog", dir, err)
		}
		if _, err := recovery.Repair(dir); !errors.Is(err, recovery.ErrNoLog) {
			t.Errorf("Repair(%s): %v, want ErrNoLog", dir, err)
		}
		if err := recovery.Walk(dir, func(recovery.WalkItem) error { return nil }); !errors.Is(err, recovery.ErrNoLog) {
			t.Errorf("Walk(%s): %v, want ErrNoLog", dir, err)
		}
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Fatalf("the tools created %v in an empty directory", ents)
	}
}
