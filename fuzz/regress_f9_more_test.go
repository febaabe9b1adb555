package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// Regressions for two more Repair bugs F9 (Repair under power loss)
// found: one Repair now refuses, one it now finishes.

// F9 seed 63638665913495 (and most seeds with a purge): the damage lies
// in a record written before a Purge whose flush deleted the log's first
// segments. Repair cuts at the damage, so the kept records were never
// purged, yet their log starts past segment 1; its next pass reports
// "segments 1..N missing in a log that was never purged" and cuts the
// whole log. Every entry before the damage is lost, against Repair's
// contract (only the data at and after the first problem goes), and the
// first cut's report (Cut.Kept) is not what survives.
//
// Repair now refuses that cut with ErrPurgeBeyondCut and changes nothing
// (the operator restores the node from a replica). Keeping the entries
// would need Repair to write back the newest Purge found beyond the cut,
// as it does the vote, with the cut planning and ruleNeverPurged /
// ruleCoverage accepting the prefix such a purge makes whole, crash-safely:
// not done.
func TestRegressRepairCutBeforePurge(t *testing.T) {
	fs := crashfs.New()
	l := openT(t, fs)
	for i := uint64(1); i <= 40; i++ {
		logtest.MustAppend(t, l, entry(1, i, 8000)) // about 8 entries per 64 KiB segment
	}
	logtest.MustSync(t, l)
	if err := l.Purge(mmaplog.LogID{Term: 1, Index: 10}); err != nil {
		t.Fatal(err)
	}
	logtest.MustSync(t, l) // the purge is durable: the flush deletes segment 1
	logtest.MustAppend(t, l, entry(1, 41, 100))
	logtest.MustSync(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := fs.ReadFile(segPath(1)); ok {
		t.Fatal("segment 1 survived the purge: the test needs a larger purge")
	}
	// Damage entry 30, in a sealed segment before the purge record.
	path, off := damageEntry(t, fs, 30)

	// Repair refuses that cut (it would take the live entries 11..29
	// with it) and changes nothing.
	before := simFiles(t, fs)
	if _, err := repairOn(fs); !errors.Is(err, recovery.ErrPurgeBeyondCut) {
		t.Fatalf("Repair of damage at %s+%d before a purge: %v, want ErrPurgeBeyondCut", filepath.Base(path), off, err)
	}
	if after := simFiles(t, fs); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Fatal("Repair refused the cut but changed the directory")
	}
}

// The same cut, found by F9 (seeds 63535625605516, 63416130478853), where
// the first surviving segment holds no entry: only its snapshot (purged
// 10, last 40) and non-entry records, the entries 11..40 it does not hold
// sat in segments a later Purge deleted. The check compared the purge
// point with the first segment's first entry, which it does not have, so
// Repair cut there and the next step took the whole log, vote aside.
func TestRegressRepairCutBeforePurgeEmptyFirstSegment(t *testing.T) {
	fs := crashfs.New()
	l := openT(t, fs)
	for i := uint64(1); i <= 40; i++ {
		logtest.MustAppend(t, l, entry(1, i, 8000))
	}
	logtest.MustSync(t, l)
	if err := l.Purge(mmaplog.LogID{Term: 1, Index: 10}); err != nil {
		t.Fatal(err)
	}
	logtest.MustSync(t, l)
	// A blob that does not fit the open segment: the next one starts with
	// a snapshot, and its first record after it is this user data.
	if err := l.SaveUserData(bytes.Repeat([]byte{7}, 60000)); err != nil {
		t.Fatal(err)
	}
	logtest.MustSync(t, l)
	last := uint64(0)
	for _, p := range fs.Files() {
		if id, ok := segID(p); ok {
			last = max(last, id)
		}
	}
	if err := l.Purge(mmaplog.LogID{Term: 1, Index: 50}); err != nil { // past Last: every entry goes
		t.Fatal(err)
	}
	logtest.MustSync(t, l)
	logtest.MustAppend(t, l, entry(1, 51, 100))
	logtest.MustSync(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range fs.Files() {
		if id, ok := segID(p); ok && id < last {
			t.Fatalf("segment %s survived the purge: the test needs the blob's segment first", p)
		}
	}
	// Damage the user-data record, right after the snapshot.
	path := segPath(last)
	var off int64
	fs.Mutate(path, func(b []byte) {
		snap := int64(format.SegmentHeaderSize)
		off = snap + format.RecordSize(int(binary.LittleEndian.Uint32(b[snap+4:])))
		b[off+format.FrameSize+100] ^= 1
	})
	before := simFiles(t, fs)
	if _, err := repairOn(fs); !errors.Is(err, recovery.ErrPurgeBeyondCut) {
		t.Fatalf("Repair of damage at %s+%d before a purge, in a segment without entries: %v, want ErrPurgeBeyondCut", filepath.Base(path), off, err)
	}
	if after := simFiles(t, fs); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Fatal("Repair refused the cut but changed the directory")
	}
}

// segID returns the ID of a segment file's path.
func segID(path string) (uint64, bool) {
	name := filepath.Base(path)
	if !strings.HasSuffix(name, format.SegmentSuffix) {
		return 0, false
	}
	id, err := strconv.ParseUint(strings.TrimSuffix(name, format.SegmentSuffix), 10, 64)
	return id, err == nil
}

// simFiles returns every file of the simulator's /log with its bytes.
func simFiles(t *testing.T, fs *crashfs.FS) map[string][]byte {
	t.Helper()
	names, err := fs.ReadDir("/log")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		if b, ok := fs.ReadFile(filepath.Join("/log", n)); ok {
			out[n] = b
		}
	}
	return out
}

// F9 seeds 63638665913498 and 63638665913500 (a failed write-back, or
// EIO, at the segment Repair creates to hold a vote when its cuts left no
// segment): Repair fails, and the directory holds only .broken files.
// Repair run again refuses it (ErrNoLog), so the vote cut away is never
// written back, and a node that starts there opens a new empty log that
// forgot its vote. A power loss between Repair's last rename and the new
// segment's name reaching the disk leaves the same directory; and a
// Repair that cut everything and had no vote to restore cannot be run
// again (ErrNoLog).
//
// Fixed in readonly.go (holdsLog): a directory holding files an earlier
// Repair set aside is a log in the middle of a repair, not ErrNoLog;
// Verify reports the set-aside vote and Repair writes it into a new
// segment 1.
func TestRegressRepairAllCutVoteRetry(t *testing.T) {
	vote := mmaplog.Vote{Term: 5, NodeID: 2}
	fs := crashfs.New()
	l := openT(t, fs)
	logtest.MustAppend(t, l, entry(1, 1, 100), entry(1, 2, 100))
	if err := l.SaveVote(vote); err != nil {
		t.Fatal(err)
	}
	logtest.MustAppend(t, l, entry(1, 3, 100))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Damage the State snapshot of segment 1: the whole log goes.
	fs.Mutate(segPath(1), func(b []byte) { b[format.SegmentHeaderSize+format.FrameSize+1] ^= 1 })
	failRepair(t, fs, crashfs.Fault{Op: crashfs.OpCreate, PathContains: format.SegmentSuffix + format.TempSuffix, Err: crashfs.EIO})
	rr := repairT(t, fs)
	if rr.VoteRestored == nil || *rr.VoteRestored != vote {
		t.Fatalf("Repair run again restored vote %v, want %v", rr.VoteRestored, vote)
	}
	l = openT(t, fs)
	defer l.Close()
	if got := l.State().Vote; got != vote {
		t.Fatalf("repaired log: vote %v, want %v", got, vote)
	}
}
