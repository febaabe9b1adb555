package mmaplog_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestGoldenBytes pins the on-disk format (docs/FORMAT.md): a small log
// written with every record type and closed cleanly must produce exactly
// the bytes in testdata/. If this fails, the format changed: bump
// format.Version and update docs/FORMAT.md, then run with -update.
func TestGoldenBytes(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, mmaplog.WithLogUID(mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize}, 0x0123456789abcdef))
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return l.SaveVote(mmaplog.Vote{Term: 1, NodeID: 2}) },
		func() error {
			return l.Append(
				mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: 1}, Payload: []byte("hello")},
				mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: 2}, Payload: []byte{}},
				mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: 3}, Payload: []byte("world!!!")})
		},
		func() error { return l.Commit(mmaplog.LogID{Term: 1, Index: 2}) },
		func() error { return l.Truncate(3) },
		func() error { return l.Purge(mmaplog.LogID{Term: 1, Index: 1}) },
		func() error { return l.SaveUserData([]byte("ud")) },
		func() error { return l.SaveVote(mmaplog.Vote{Term: 1, NodeID: 2, Committed: true}) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	logtest.MustClose(t, l)
	seg := readPrefix(t, filepath.Join(dir, "00000000000000000001.seg"))
	idx := readPrefix(t, filepath.Join(dir, "00000000000000000001.idx"))
	golden(t, "segment.golden", seg)
	golden(t, "index.golden", idx)
}

// readPrefix returns the file up to its last nonzero byte, rounded up to 8.
func readPrefix(t *testing.T, path string) []byte {
	t.Helper()
	b := logtest.ReadFile(t, path)
	n := len(bytes.TrimRight(b, "\x00"))
	return b[:min(len(b), (n+7)&^7)]
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	dump := []byte(hex.Dump(got))
	if *update {
		if err := os.WriteFile(path, dump, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(dump, want) {
		t.Errorf("%s differs from the golden bytes; got:\n%s", name, dump)
	}
}
