package mmaplog_test

// Issue 10, cases 2 and 5: files missing, emptied, or from somewhere else.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// fiveSegments writes the log of cases 2 and 5: 2000 entries of term 1 in
// five 64 KiB segments, closed cleanly.
func fiveSegments(t *testing.T, dir string, payload func(mmaplog.LogID) []byte) {
	t.Helper()
	writeLog(t, dir, smallOpts(), 2000, 100, payload)
	if segs := segFiles(t, dir); len(segs) != 5 {
		t.Fatalf("the log has %d segments %v, want 5 (the test's shape changed)", len(segs), segs)
	}
}

// Case 2: after a clean Close, the last segment file is deleted or cut
// short. The previous segment's sealed index and the clean-close
// checkpoint prove it existed: Open must fail with a *CorruptError and
// change nothing, and Verify must say the same.
func TestHostileMissingLastSegment(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(path string) error
	}{
		{"deleted", os.Remove},
		{"truncated-to-0", func(p string) error { return os.Truncate(p, 0) }},
		{"truncated-to-63", func(p string) error { return os.Truncate(p, 63) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fiveSegments(t, dir, nil)
			last := lastSegment(t, dir)
			if err := tc.damage(last); err != nil {
				t.Fatal(err)
			}
			before := logtest.Snapshot(t, dir)

			rep, err := recovery.Verify(dir)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.Status != recovery.StatusCorrupt || !asCorrupt(rep.Err()) {
				t.Errorf("Verify: status %v, Last %d, problems %v; want %v with a *CorruptError", rep.Status, rep.State.Last.Index, rep.Problems, recovery.StatusCorrupt)
			}

			l, err := mmaplog.Open(dir, smallOpts())
			if err == nil {
				last := l.State().Last.Index
				// Compare the files before Close, which writes.
				if d := logtest.Diff(before, logtest.Snapshot(t, dir)); d != "" {
					t.Errorf("Open changed the directory: %s", d)
				}
				_ = l.Close()
				t.Fatalf("Open succeeded with Last = %d: %d acknowledged entries gone without an error (want a *CorruptError)", last, 2000-last)
			}
			if !asCorrupt(err) {
				t.Errorf("Open: %v (%T), want a *CorruptError matching ErrCorrupt", err, err)
			}
			if d := logtest.Diff(before, logtest.Snapshot(t, dir)); d != "" {
				t.Errorf("a failed Open changed the directory: %s", d)
			}
		})
	}
}

// foreign turns a payload of log A into the payload of log B: same length,
// different bytes.
func foreign(id mmaplog.LogID) []byte {
	p := payloadFor(id, 100)
	for i := range p {
		p[i] ^= 0x20
	}
	return p
}

// Case 5: two logs of the same shape (same entry IDs and payload lengths,
// different bytes) have byte-identical segment headers. A file copied from
// one into the other, or moved within one log, is corruption, never data:
// Open fails with a *CorruptError, Verify reports it, and in no case does
// Get return log B's bytes as log A's entries.
func TestHostileForeignFiles(t *testing.T) {
	logA, logB := t.TempDir(), t.TempDir()
	fiveSegments(t, logA, nil)
	fiveSegments(t, logB, foreign)
	segs, idxs := segFiles(t, logA), idxFiles(t, logA)
	if len(idxs) != len(segs) {
		t.Fatalf("log A has segments %v and indexes %v", segs, idxs)
	}
	const mid = 2 // the third of five segments
	for _, tc := range []struct {
		name string
		// edit damages the copy dir of log A.
		edit func(t *testing.T, dir string)
	}{
		{"segment-and-index-from-other-log", func(t *testing.T, dir string) {
			t.Helper()
			copyFiles(t, logB, dir, segs[mid], idxs[mid])
		}},
		{"segment-from-other-log", func(t *testing.T, dir string) {
			t.Helper()
			copyFiles(t, logB, dir, segs[mid])
		}},
		{"index-from-other-log", func(t *testing.T, dir string) {
			t.Helper()
			copyFiles(t, logB, dir, idxs[mid])
		}},
		{"segment-and-index-from-other-place", func(t *testing.T, dir string) {
			t.Helper()
			// Segment 2's files put in the place of segment 3.
			moveFile(t, dir, segs[mid-1], segs[mid])
			moveFile(t, dir, idxs[mid-1], idxs[mid])
			copyFiles(t, logA, dir, segs[mid-1], idxs[mid-1])
		}},
		{"segments-swapped", func(t *testing.T, dir string) {
			t.Helper()
			for _, names := range [][2]string{{segs[mid], segs[mid+1]}, {idxs[mid], idxs[mid+1]}} {
				moveFile(t, dir, names[0], "swap")
				moveFile(t, dir, names[1], names[0])
				moveFile(t, dir, "swap", names[1])
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := logtest.CopyDir(t, logA)
			tc.edit(t, dir)
			before := logtest.Snapshot(t, dir)

			rep, err := recovery.Verify(dir)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.Status != recovery.StatusCorrupt || !asCorrupt(rep.Err()) {
				t.Errorf("Verify: status %v, problems %v; want %v with a *CorruptError", rep.Status, rep.Problems, recovery.StatusCorrupt)
			}

			l, err := mmaplog.Open(dir, smallOpts())
			if err == nil {
				bad := foreignGets(l)
				if d := logtest.Diff(before, logtest.Snapshot(t, dir)); d != "" {
					t.Logf("Open changed the directory: %s", d)
				}
				_ = l.Close()
				t.Fatalf("Open succeeded (want a *CorruptError)%s", bad)
			}
			if !asCorrupt(err) {
				t.Errorf("Open: %v (%T), want a *CorruptError matching ErrCorrupt", err, err)
			}
			if d := logtest.Diff(before, logtest.Snapshot(t, dir)); d != "" {
				t.Errorf("a failed Open changed the directory: %s", d)
			}
		})
	}
}

// foreignGets reads every entry of the log of case 5 and describes the
// ones that are not log A's.
func foreignGets(l *mmaplog.Log) string {
	var fromB, errs, first int
	var firstErr error
	for i := uint64(1); i <= 2000; i++ {
		e, err := l.Get(i)
		switch {
		case err != nil:
			if errs++; firstErr == nil {
				firstErr = err
			}
		case bytes.Equal(e.Payload, foreign(e.ID)):
			if fromB++; first == 0 {
				first = int(i)
			}
		}
	}
	s := fmt.Sprintf("; Last = %d", l.State().Last.Index)
	if fromB > 0 {
		s += fmt.Sprintf("; Get returned log B's payload for %d entries (the first: %d)", fromB, first)
	}
	if errs > 0 {
		s += fmt.Sprintf("; Get failed for %d entries (the first: %v)", errs, firstErr)
	}
	return s
}

// moveFile renames dir/from to dir/to.
func moveFile(t *testing.T, dir, from, to string) {
	t.Helper()
	if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
		t.Fatal(err)
	}
}
