//go:build linux

package vfs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog/internal/vfs"
)

// SyncInode marks the inode dirty with a chmod to the mode the file has:
// the mode, special bits included, must come out unchanged.
func TestSyncInodeKeepsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg")
	f, err := vfs.OS.Create(path, 8192)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := os.FileMode(0o640) | os.ModeSetgid
	if err := os.Chmod(path, want); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(vfs.InodeSyncer); !ok {
		t.Fatal("the OS file is not a vfs.InodeSyncer")
	}
	if err := vfs.SyncInode(f); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModePerm | os.ModeSetgid | os.ModeSetuid | os.ModeSticky); got != want {
		t.Errorf("mode after SyncInode %v, want %v", got, want)
	}
}
