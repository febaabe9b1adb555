package fuzz

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftlog/raftlog/internal/crashfs"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// Regressions for what F9 (Repair under power loss) found in Repair, each
// fixed in recovery/repair.go; regress_f9_more_test.go holds two more.

// segPath is the path of segment id in logDir.
func segPath(id uint64) string { return filepath.Join(logDir, format.SegmentName(id)) }

// recordOf returns the segment path and offset of the record of entry idx
// in the cleanly closed log on fs.
func recordOf(t *testing.T, fs *crashfs.FS, idx uint64) (string, int64) {
	t.Helper()
	for _, p := range fs.Files() {
		if filepath.Ext(p) != format.SegmentSuffix {
			continue
		}
		data, _ := fs.ReadFile(p)
		_, prev, err := format.ReadSegmentHeader(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for off := int64(format.SegmentHeaderSize); ; {
			r, err := format.ReadRecord(data, off)
			if err != nil || r.Prev != prev {
				break
			}
			if r.Type == format.TypeEntry {
				if id, err := format.EntryID(r.Body); err == nil && id.Index == idx {
					return p, off
				}
			}
			prev, off = r.CRC, off+r.Size
		}
	}
	t.Fatalf("entry %d is in no segment", idx)
	return "", 0
}

// lastOfSegment1 returns the index of the last entry of segment 1 (the
// layout depends on when the log rotates early).
func lastOfSegment1(t *testing.T, fs *crashfs.FS) uint64 {
	t.Helper()
	last := uint64(1)
	for p, _ := recordOf(t, fs, last+1); p == segPath(1); p, _ = recordOf(t, fs, last+1) {
		last++
	}
	return last
}

// repairOn runs Repair on the log in fs.
func repairOn(fs *crashfs.FS) (*recovery.RepairReport, error) {
	return recovery.RepairWith(logDir, recovery.ScanOptions{FS: fs})
}

// problems words a Verify report's status and problems.
func problems(rep *recovery.VerifyReport) string {
	if rep == nil {
		return "no report"
	}
	var s []string
	for _, p := range rep.Problems {
		s = append(s, p.String())
	}
	return fmt.Sprintf("%v: %s", rep.Status, strings.Join(s, "; "))
}

// repairSound runs Repair on fs: an error when it fails or leaves the
// log corrupt.
func repairSound(fs *crashfs.FS) (*recovery.RepairReport, error) {
	rr, err := repairOn(fs)
	if err == nil && rr.After.Status == recovery.StatusCorrupt {
		err = fmt.Errorf("Repair left %s", problems(rr.After))
	}
	return rr, err
}

func repairT(t *testing.T, fs *crashfs.FS) *recovery.RepairReport {
	t.Helper()
	rr, err := repairSound(fs)
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	return rr
}

// damageEntry flips a bit of entry idx's payload in fs and returns where
// its record is.
func damageEntry(t *testing.T, fs *crashfs.FS, idx uint64) (string, int64) {
	t.Helper()
	path, off := recordOf(t, fs, idx)
	fs.Mutate(path, func(b []byte) { b[off+format.FrameSize+format.EntryHeadSize] ^= 1 })
	return path, off
}

// failRepair runs Repair on fs with ft injected: it must fail with ft's
// error. Then the disk works again.
func failRepair(t *testing.T, fs *crashfs.FS, ft crashfs.Fault) {
	t.Helper()
	f := fs.Inject(ft)
	if _, err := repairOn(fs); !errors.Is(err, ft.Err) || fs.Fired(f) == 0 {
		t.Fatalf("Repair with %s #%d failing (%v): %v (fired %d)", ft.Op, ft.Nth, ft.Err, err, fs.Fired(f))
	}
	fs.ClearFaults()
}

// settled repairs fs (the disk working again), loses power and checks
// that Repair then changes nothing and the log opens at want.
func settled(t *testing.T, fs *crashfs.FS, want mmaplog.State) {
	t.Helper()
	repairT(t, fs)
	s := fs.Snapshot()
	img := s.Image(s.DropAll())
	if rr := repairT(t, img); rr.Changed() {
		t.Fatalf("after a power loss, Repair changed the log again: %s", problems(rr.Before))
	}
	l := openT(t, img)
	defer l.Close()
	if got := l.State(); !got.Equal(want) {
		t.Fatalf("repaired to {%s}, the uninterrupted Repair to {%s}", logtest.StateString(got), logtest.StateString(want))
	}
}

// closedLog writes entries 1..n of 8000 bytes (about 8 to a 64 KiB
// segment) on a new simulator, each synced (so that every record vouches
// for the ones before it), and closes the log (every index sealed).
func closedLog(t *testing.T, n uint64) *crashfs.FS {
	t.Helper()
	fs := crashfs.New()
	l := openT(t, fs)
	for i := uint64(1); i <= n; i++ {
		logtest.MustAppend(t, l, entry(1, i, 8000))
		logtest.MustSync(t, l)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return fs
}

// stateAfterRepair repairs a copy of fs and returns the state it opens at.
func stateAfterRepair(t *testing.T, fs *crashfs.FS) mmaplog.State {
	t.Helper()
	ref := fs.Clone()
	repairT(t, ref)
	l := openT(t, ref)
	defer l.Close()
	return l.State()
}

// F9 seeds 62743959732111 and 62743959732117: Repair moves the segments
// from the cut on aside, highest ID first, and syncs the directory once
// at the end. Without a journal the renames reach the disk in any order:
// a power loss can keep the rename of the damaged first segment and revert
// that of the next one, which then opens as the first segment of a purged
// log. Repair run again keeps it, and the log comes back with records from
// after the damage instead of the uninterrupted Repair's result.
func TestRegressRepairRenameOrder(t *testing.T) {
	// Segment 1 holds entry 1 and its purge; entry 2 does not fit beside
	// them, so segment 2 starts with the state of an emptied log: as the
	// first segment of a purged log would. (No sync before the rotation:
	// a synced segment may rotate early.)
	fs := crashfs.New()
	l := openT(t, fs)
	logtest.MustAppend(t, l, entry(1, 1, 8000))
	if err := l.Purge(mmaplog.LogID{Term: 1, Index: 1}); err != nil {
		t.Fatal(err)
	}
	logtest.MustAppend(t, l, entry(1, 2, 60000))
	logtest.MustSync(t, l)
	for i := uint64(3); i <= 10; i++ {
		logtest.MustAppend(t, l, entry(1, i, 8000))
		logtest.MustSync(t, l)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if p, _ := recordOf(t, fs, 2); p != segPath(2) {
		t.Fatalf("entry 2 is in %s: the test needs it at the start of segment 2", p)
	}
	// Damage segment 1's State snapshot: the whole log goes.
	fs.Mutate(segPath(1), func(b []byte) { b[format.SegmentHeaderSize+format.FrameSize+1] ^= 1 })
	want := stateAfterRepair(t, fs)

	var snap *crashfs.Snapshot
	fs.SetHook(func(ev crashfs.Event) {
		if ev.Op == crashfs.OpRename && ev.Path == segPath(1) && ev.Err == nil {
			snap = fs.Snapshot()
		}
	})
	repairT(t, fs)
	fs.SetHook(nil)
	if snap == nil {
		t.Fatal("Repair did not rename segment 1")
	}
	// The power loss keeps every pending change but segment 2's rename.
	plan := snap.KeepAll()
	for i, op := range snap.PendingOps() {
		if strings.HasPrefix(op, "rename "+segPath(2)+" ") {
			plan.Meta[i] = false
		}
	}
	img := snap.Image(plan)
	repairT(t, img)
	l = openT(t, img)
	defer l.Close()
	if got := l.State(); !got.Equal(want) {
		t.Fatalf("Repair after the power loss: {%s}, the uninterrupted Repair: {%s}", logtest.StateString(got), logtest.StateString(want))
	}
}

// nthSync returns which call of Datasync on a path holding sub is the
// first one on path itself in an uninterrupted Repair of a copy of fs.
func nthSync(t *testing.T, fs *crashfs.FS, sub, path string) int {
	t.Helper()
	tr := fs.Clone()
	n, at := 0, 0
	tr.SetHook(func(ev crashfs.Event) {
		if ev.Op == crashfs.OpDatasync && strings.Contains(ev.Path, sub) {
			n++
			if ev.Path == path && at == 0 {
				at = n
			}
		}
	})
	repairT(t, tr)
	if at == 0 {
		t.Fatalf("Repair did not sync %s", path)
	}
	return at
}

// F9 (a failed write-back at the sync of a cut segment's zeroed tail):
// its pages are marked clean in the page cache, which holds the zeros,
// while the disk kept the damaged bytes.
//
//   - middle: the segment's index was still sealed, so recovery read the
//     segment from the cache. Repair run again found a cut with nothing to
//     zero, deleted the index, then read the disk's bytes, found the same
//     damage and gave up: "made no progress".
//   - last (the damaged record is the segment's last; the later segments
//     are already aside, so nothing vouches for it): Repair run again reads
//     the disk, finds a torn tail and changes nothing, and so did not make
//     the failed run's deletion of the index durable; a power loss brings
//     the sealed index back, which vouches for the damage: corrupt again
//     after a Repair that succeeded.
func TestRegressRepairWritebackZeroing(t *testing.T) {
	for _, which := range []string{"middle", "last"} {
		t.Run(which, func(t *testing.T) {
			fs := closedLog(t, 24)
			last := lastOfSegment1(t, fs)
			damaged := last
			if which == "middle" {
				if last < 3 {
					t.Fatalf("segment 1 holds %d entries: the test needs 3", last)
				}
				damaged = last / 2
			}
			path, _ := damageEntry(t, fs, damaged)
			want := stateAfterRepair(t, fs)
			nth := nthSync(t, fs, filepath.Base(path), path)
			failRepair(t, fs, crashfs.Fault{Op: crashfs.OpDatasync, PathContains: filepath.Base(path), Nth: nth, Times: 1, Err: crashfs.EIO, Writeback: true})
			settled(t, fs, want)
		})
	}
}

// F9 seed 62743959732115 (a failed write-back, or EIO, at the sync of the
// copy of a cut segment): Repair had already renamed the later segments
// aside (not yet durable) and fails. Repair run again sees the damaged
// segment as the last one, with nothing after it that vouches for the
// damaged record: a torn tail, so it changes nothing and syncs nothing.
// A power loss brings the later segments back: the log is corrupt again
// after a Repair that succeeded.
func TestRegressRepairFailedCopy(t *testing.T) {
	fs := closedLog(t, 24)
	// The last entry of segment 1: only later segments vouch for it.
	damageEntry(t, fs, lastOfSegment1(t, fs))
	// Its index is damaged too (F9 zeroed a page of it): nothing in the
	// segment vouches for its last record.
	if !fs.RemoveFile(filepath.Join(logDir, format.IndexName(1))) {
		t.Fatal("segment 1 has no index")
	}
	want := stateAfterRepair(t, fs)
	failRepair(t, fs, crashfs.Fault{Op: crashfs.OpDatasync, PathContains: recovery.BrokenSuffix + format.TempSuffix, Times: 1, Err: crashfs.EIO})
	settled(t, fs, want)
}

// F9 seeds 63451295974936 and 63451295974948 (kill -9 after Repair wrote
// back a damaged segment header, before its sync): the restarted node's
// page cache holds the rebuilt header, the disk the damaged one. The
// segment's index is sealed, so recovery trusts the cache: Repair run
// again finds nothing to do and syncs nothing, and a power loss brings
// the damaged header back after a Repair that succeeded.
func TestRegressRepairKillAfterHeader(t *testing.T) {
	fs := closedLog(t, 24)
	fs.Mutate(segPath(2), func(b []byte) { b[16] ^= 1 })
	ref := fs.Clone()
	if rr := repairT(t, ref); len(rr.Rewritten) == 0 {
		t.Fatalf("Repair did not rewrite the header (cuts %d): the test needs a header it can rebuild", len(rr.Cuts))
	}
	want := stateAfterRepair(t, fs)
	var snap *crashfs.Snapshot
	fs.SetHook(func(ev crashfs.Event) {
		if ev.Op == crashfs.OpWriteAt && ev.Path == segPath(2) && ev.Err == nil && snap == nil {
			snap = fs.Snapshot()
		}
	})
	repairT(t, fs)
	fs.SetHook(nil)
	if snap == nil {
		t.Fatal("Repair did not write to segment 2")
	}
	settled(t, snap.Restart(), want)
}

// F9 (EIO at the last directory sync of a cut): the cut is on the disk,
// the deletion of the cut segment's sealed index only in the namespace.
// Repair run again finds a sound log and changed nothing, syncing nothing;
// a power loss brings the index back, which vouches for records the cut
// removed: corrupt again after a Repair that succeeded.
func TestRegressRepairFailedDirSync(t *testing.T) {
	fs := closedLog(t, 24)
	damageEntry(t, fs, 3)
	want := stateAfterRepair(t, fs)
	tr := fs.Clone()
	syncs := 0
	tr.SetHook(func(ev crashfs.Event) {
		if ev.Op == crashfs.OpSyncDir {
			syncs++
		}
	})
	repairT(t, tr)
	failRepair(t, fs, crashfs.Fault{Op: crashfs.OpSyncDir, Nth: syncs, Times: 1, Err: crashfs.EIO})
	settled(t, fs, want)
}

// F9 seed 63339004745154 (segment 8's header zeroed, a vote beyond the
// cut): Repair writes the vote it salvaged after the last record of the
// last segment that survives, and fails when that segment is full ("no
// room ... to restore vote"). Repair can then never finish: the log stays
// corrupt (or, opened, forgets the vote). It now starts the next segment:
// a State snapshot of the log, then the vote.
func TestRegressRepairVoteNoRoom(t *testing.T) {
	vote := mmaplog.Vote{Term: 3, NodeID: 1}
	// Entries 1..7 of 8000 bytes, then entry 8 sized to leave segment 1
	// 40 bytes, too few for the vote record (48); entry 9 and the vote go
	// to segment 2.
	probe := crashfs.New()
	l := openT(t, probe)
	for i := uint64(1); i <= 7; i++ {
		logtest.MustAppend(t, l, entry(1, i, 8000))
	}
	_ = l.Close()
	_, off7 := recordOf(t, probe, 7)
	end7 := off7 + format.RecordSize(format.EntryHeadSize+8000)
	p := int(mmaplog.MinSegmentSize-end7-40) - format.FrameSize - format.EntryHeadSize

	fs := crashfs.New()
	l = openT(t, fs)
	for i := uint64(1); i <= 7; i++ {
		logtest.MustAppend(t, l, entry(1, i, 8000))
	}
	logtest.MustAppend(t, l, entry(1, 8, p))
	logtest.MustAppend(t, l, entry(1, 9, 1000))
	if err := l.SaveVote(vote); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if path, _ := recordOf(t, fs, 9); path != segPath(2) {
		t.Fatalf("entry 9 is in %s: the test needs segment 1 full after entry 8", path)
	}
	// Segment 2's first sector zeroed (its header, State snapshot and the
	// start of entry 9): it goes whole, the vote after it is salvaged.
	fs.Mutate(segPath(2), func(b []byte) { clear(b[:crashfs.SectorSize]) })
	rr := repairT(t, fs)
	if rr.VoteRestored == nil || *rr.VoteRestored != vote {
		t.Fatalf("Repair restored vote %v, want %v (cuts %+v, rewritten %v)", rr.VoteRestored, vote, rr.Cuts, rr.Rewritten)
	}
	l = openT(t, fs)
	defer l.Close()
	if st := l.State(); st.Vote != vote || st.Last.Index != 8 {
		t.Fatalf("repaired log: {%s}, want entries to 8 and vote %v", logtest.StateString(st), vote)
	}
}
