//go:build unix

package mmaplog_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// permissiveUmask sets the umask to 0 for the test, so that the modes
// seen are the ones the code asked for, not the ones the umask left.
func permissiveUmask(t *testing.T) {
	t.Helper()
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
}

// fillLog opens a log in dir, writes enough to rotate into new segments,
// deletes an index (rebuilt by the next Open) and closes it.
func fillLog(t *testing.T, dir string, opts mmaplog.Options) {
	t.Helper()
	opts.SegmentSize = mmaplog.MinSegmentSize
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 8<<10)
	for i := uint64(1); i <= 40; i++ { // 320 KiB: several 64 KiB segments
		if err := l.Append(mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i}, Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	logtest.MustClose(t, l)
	idx, err := filepath.Glob(filepath.Join(dir, "*.idx"))
	if err != nil || len(idx) < 2 {
		t.Fatalf("index files %v, %v: want several", idx, err)
	}
	if err := os.Remove(idx[0]); err != nil {
		t.Fatal(err)
	}
	if l, err = mmaplog.Open(dir, opts); err != nil { // rebuilds idx[0]
		t.Fatal(err)
	}
	logtest.MustClose(t, l)
	if _, err := os.Stat(idx[0]); err != nil {
		t.Fatalf("index not rebuilt: %v", err)
	}
}

// checkModes fails unless dir has mode dirMode and every file in it
// (segments, indexes, LOCK) fileMode.
func checkModes(t *testing.T, dir string, dirMode, fileMode fs.FileMode) {
	t.Helper()
	kinds := map[string]int{}
	for _, name := range logtest.CheckModes(t, dir, dirMode, fileMode) {
		kinds[filepath.Ext(name)]++
	}
	if kinds[".seg"] < 2 || kinds[".idx"] < 2 || kinds[""] != 1 {
		t.Fatalf("files by extension %v: want several segments and indexes, and LOCK", kinds)
	}
}

// TestPrivateByDefault: under a umask of 0, the directory (and a missing
// parent) is created 0700 and every file 0600, including segments made by
// rotation and indexes rebuilt by Open.
func TestPrivateByDefault(t *testing.T) {
	permissiveUmask(t)
	parent := filepath.Join(t.TempDir(), "data")
	dir := filepath.Join(parent, "raft")
	fillLog(t, dir, mmaplog.Options{})
	checkModes(t, dir, 0o700, 0o600)
	if st, err := os.Stat(parent); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("parent created with %v, %v; want 0700", st.Mode(), err)
	}
}

// TestFileModeGroup: FileMode 0640 gives group read, directory 0750; an
// existing directory keeps its mode.
func TestFileModeGroup(t *testing.T) {
	permissiveUmask(t)
	dir := filepath.Join(t.TempDir(), "raft")
	fillLog(t, dir, mmaplog.Options{FileMode: 0o640})
	checkModes(t, dir, 0o750, 0o640)

	dir = t.TempDir()
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	fillLog(t, dir, mmaplog.Options{})
	checkModes(t, dir, 0o711, 0o600)
}

func TestFileModeInvalid(t *testing.T) {
	for _, m := range []fs.FileMode{0o400, 0o200, 0o066, 0o1600, fs.ModeDir | 0o700, 0o7777} {
		dir := filepath.Join(t.TempDir(), "raft")
		if _, err := mmaplog.Open(dir, mmaplog.Options{FileMode: m}); !errors.Is(err, mmaplog.ErrInvalidOptions) {
			t.Errorf("FileMode %v: %v, want ErrInvalidOptions", m, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("FileMode %v: the directory was created (%v)", m, err)
		}
	}
}
