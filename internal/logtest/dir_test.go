package logtest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
)

func TestCopyDirAndSnapshot(t *testing.T) {
	src := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	logtest.WriteFile(t, filepath.Join(src, "a.seg"), []byte("segment"))
	logtest.WriteFile(t, filepath.Join(src, "LOCK"), nil)
	logtest.WriteFile(t, filepath.Join(src, "sub", "b"), []byte("nested"))
	must(t, os.Symlink("a.seg", filepath.Join(src, "link"))) // not a regular file: left out

	dst := logtest.CopyDir(t, src)
	want := map[string][]byte{"a.seg": []byte("segment"), "LOCK": {}, filepath.Join("sub", "b"): []byte("nested")}
	if d := logtest.Diff(want, logtest.Snapshot(t, dst)); d != "" {
		t.Fatalf("copy differs: %s", d)
	}
	if got := logtest.Names(t, dst); !slices.Equal(got, []string{"LOCK", "a.seg", "sub"}) {
		t.Fatalf("Names = %v", got)
	}
	if got := logtest.NamesWithSuffix(t, dst, ".seg"); !slices.Equal(got, []string{"a.seg"}) {
		t.Fatalf("NamesWithSuffix = %v", got)
	}

	missing := filepath.Join(t.TempDir(), "none")
	if err := logtest.CopyTree(missing, filepath.Join(dst, "empty")); err != nil {
		t.Fatalf("CopyTree of a missing directory: %v", err)
	}
	if names := logtest.Names(t, filepath.Join(dst, "empty")); len(names) != 0 {
		t.Fatalf("CopyTree of a missing directory copied %v", names)
	}
}

func TestDiff(t *testing.T) {
	a := map[string][]byte{"same": []byte("x"), "gone": nil, "edited": []byte("abcd")}
	b := map[string][]byte{"same": []byte("x"), "edited": []byte("abXd!"), "new": nil}
	want := "edited changed (first difference at byte 2, 4 -> 5 bytes), gone removed, new created"
	if d := logtest.Diff(a, b); d != want {
		t.Fatalf("Diff = %q\nwant   %q", d, want)
	}
	if d := logtest.Diff(a, a); d != "" {
		t.Fatalf("Diff of a snapshot with itself = %q", d)
	}
}

func TestFileEdits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	logtest.WriteFile(t, path, []byte("0123456789"))
	logtest.Flip(t, path, 1, 0xff)
	logtest.Zero(t, path, 2, 2)
	logtest.WriteAt(t, path, 8, []byte("xyz"))
	logtest.Edit(t, path, func(b []byte) { b[0] = 'E' })
	want := append([]byte("E"), '1'^0xff, 0, 0)
	want = append(want, "4567xyz"...)
	if got := logtest.ReadFile(t, path); !bytes.Equal(got, want) {
		t.Fatalf("file holds %q, want %q", got, want)
	}
}
