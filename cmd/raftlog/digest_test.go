package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// stat -digest prints the digests a running Log computes: per sealed
// segment and over a range.
func TestStatDigest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 3000; i++ {
		if err := l.Append(mmaplog.Entry{ID: mmaplog.LogID{Term: 1 + i/1000, Index: i}, Payload: payload(i)}); err != nil {
			t.Fatal(err)
		}
	}
	logtest.MustSync(t, l)
	segs, err := l.SegmentDigests()
	if err != nil {
		t.Fatal(err)
	}
	all, err := l.Digest(1, 3000)
	if err != nil {
		t.Fatal(err)
	}
	part, err := l.Digest(1200, 2500)
	if err != nil {
		t.Fatal(err)
	}
	logtest.MustClose(t, l)
	if len(segs) < 2 {
		t.Fatalf("only %d sealed segments", len(segs))
	}

	r := raftlog(t, "stat", "-digest", dir)
	expectCode(t, r, exitOK)
	for _, sd := range segs {
		expectOutput(t, r.stdout, fmt.Sprintf("  %s  %v\n", format.SegmentName(sd.Segment), sd.Digest))
	}
	expectOutput(t, r.stdout, fmt.Sprintf("all live entries: %v\n", all))

	r = raftlog(t, "stat", "-from", "1200", "-to", "2500", dir)
	expectCode(t, r, exitOK)
	expectOutput(t, r.stdout, fmt.Sprintf("entries in 1200..2500: %v\n", part))

	if r := raftlog(t, "stat", dir); strings.Contains(r.stdout, "digest") {
		t.Fatalf("stat without -digest printed digests:\n%s", r.stdout)
	}
	expectCode(t, raftlog(t, "stat", "-from", "20", "-to", "10", dir), exitError)

	// A damaged entry is a problem, exit status 1.
	seg := filepath.Join(dir, format.SegmentName(1))
	off := entryOffset(t, seg, 5) + format.FrameSize + format.EntryHeadSize
	logtest.Flip(t, seg, off, 0xff)
	r = raftlog(t, "stat", "-digest", dir)
	expectCode(t, r, exitCorrupt)
	expectOutput(t, r.stdout, "PROBLEM", "(entry 5)")
}
