package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
)

// chmodAll sets dir's mode and every file's in it.
func chmodAll(t *testing.T, dir string, dirMode, fileMode os.FileMode) {
	t.Helper()
	for _, name := range logtest.Names(t, dir) {
		if err := os.Chmod(filepath.Join(dir, name), fileMode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		t.Fatal(err)
	}
}

// TestPermissionWarnings: stat and verify warn when other users can reach
// the directory or read a file of the log, and are silent for the default
// modes and for group access.
func TestPermissionWarnings(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := writeLog(t, 5, false)
	seg, idx := format.SegmentName(1), format.IndexName(1)
	for _, cmd := range []string{"stat", "verify"} {
		logtest.CheckModes(t, dir, 0o700, 0o600) // mmaplog's defaults, umask or not
		r := raftlog(t, cmd, dir)
		expectCode(t, r, exitOK)
		if strings.Contains(r.stdout, "warning") {
			t.Fatalf("%s warns about the default modes:\n%s", cmd, r.stdout)
		}

		chmodAll(t, dir, 0o750, 0o640)
		r = raftlog(t, cmd, dir)
		expectCode(t, r, exitOK)
		if strings.Contains(r.stdout, "warning") {
			t.Fatalf("%s warns about group access:\n%s", cmd, r.stdout)
		}

		chmodAll(t, dir, 0o755, 0o644)
		if err := os.Chmod(filepath.Join(dir, idx), 0o600); err != nil {
			t.Fatal(err)
		}
		r = raftlog(t, cmd, dir)
		expectCode(t, r, exitOK)
		expectOutput(t, r.stdout,
			fmt.Sprintf("warning   %s has mode 0755: other users can reach into it (raftlog creates 0700); chmod o-rwx %s\n", dir, dir),
			fmt.Sprintf("warning   2 files of the log open to other users (%s 0644, LOCK 0644): the log holds the application's data (raftlog creates 0600); chmod o-rw %s/*\n", seg, dir))

		chmodAll(t, dir, 0o701, 0o602)
		r = raftlog(t, cmd, dir)
		expectOutput(t, r.stdout, "has mode 0701", "3 files of the log open to other users")
		chmodAll(t, dir, 0o700, 0o600)
	}
}

// TestRepairKeepsModes: under a permissive umask, repair -yes leaves
// every file's mode as it was, gives the *.broken copy the segment's mode
// and a segment it creates LOCK's.
func TestRepairKeepsModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	seg := format.SegmentName(1)
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, dir string)
		created bool
	}{
		{"cut", func(t *testing.T, dir string) {
			t.Helper()
			off := entryOffset(t, filepath.Join(dir, seg), 10)
			logtest.Flip(t, filepath.Join(dir, seg), off+format.FrameSize+format.EntryHeadSize+3, 0xff)
		}, false},
		{"vote written back to a new segment", func(t *testing.T, dir string) {
			t.Helper()
			logtest.Flip(t, filepath.Join(dir, seg), format.SegmentHeaderSize+format.FrameSize+1, 0xff) // the State snapshot
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeLog(t, 40, true)
			tc.damage(t, dir)
			chmodAll(t, dir, 0o750, 0o640)
			r := raftlog(t, "repair", "-yes", dir)
			expectCode(t, r, exitOK)
			expectOutput(t, r.stdout, "saved     "+seg+".broken")
			if tc.created {
				expectOutput(t, r.stdout, "created   "+seg+" to hold the vote")
			}
			logtest.CheckModes(t, dir, 0o750, 0o640)
			if _, err := os.Stat(filepath.Join(dir, seg+".broken")); err != nil {
				t.Fatal(err)
			}
		})
	}
}
