//go:build linux

package mmaplog_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog/internal/loopdisk"
	"github.com/raftlog/raftlog/mmaplog"
)

// A bit flipped on the medium, under a page cache that still holds the
// good bytes, is invisible to Get but seen by Verify, which drops the
// cached pages and reads from the disk (an ext4 image on a loop device;
// the flip is written into the image, below the file system). It fails
// without either the madvise on the log's mapping or the fadvise.
func TestVerifySeesTheDiskUnderTheCache(t *testing.T) {
	d := loopdisk.Mount(t, loopdisk.Options{})
	dir := filepath.Join(d.Dir, "log")
	l := sealedLog(t, dir, smallOpts(), 400, 1000)
	t.Cleanup(func() { _ = l.Close() }) // before the unmount
	id := lid(1, 100)
	seg := segFile(dir)
	d.Corrupt(seg, int64(findMarker(t, seg, id))+30, func(b byte) byte { return b ^ 1 })

	if e, err := l.Get(id.Index); err != nil || !bytes.Equal(e.Payload, payloadFor(id, 1000)) {
		t.Fatalf("before Verify, Get(%d) = %v: want the cached, good entry (is the flip below the cache?)", id.Index, err)
	}
	rep, err := l.Verify(context.Background(), unlimited)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Path != seg || rep.Problems[0].Index != id.Index {
		t.Fatalf("Verify found %v; want entry %d in %s", rep.Problems, id.Index, seg)
	}
	// The cache now holds what the disk holds.
	if _, err := l.Get(id.Index); !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("after Verify, Get(%d) = %v; want the damage the disk holds", id.Index, err)
	}
}
