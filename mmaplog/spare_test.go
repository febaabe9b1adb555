package mmaplog_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// inode returns the inode number of path.
func inode(t testing.TB, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// spareFiles lists the temporary segment files in dir (spares and
// prepared segments).
func spareFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, n := range logtest.Names(t, dir) {
		if strings.HasPrefix(n, "prep-") && strings.HasSuffix(n, ".seg.tmp") {
			out = append(out, n)
		}
	}
	return out
}

// waitSpares waits until the Log holds want spares.
func waitSpares(t *testing.T, l *mmaplog.Log, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); l.Stats().SpareSegments != want; {
		if time.Now().After(deadline) {
			t.Fatalf("SpareSegments = %d, want %d: %+v", l.Stats().SpareSegments, want, l.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// Purged segments beyond the last are kept (up to SpareSegments) and
// become the next segments: the same files (inodes), zeroed, so the log
// reads back exactly what was appended, reopens, verifies, and no file
// is left behind by Close.
func TestPurgedSegmentsAreReused(t *testing.T) {
	dir := t.TempDir()
	opts := smallOpts()
	opts.SpareSegments = 2
	l := logtest.MustOpen(t, dir, opts)
	es := run(1, 1, 300, 1000) // ~5 segments of 64 KiB
	logtest.MustAppend(t, l, es...)
	logtest.MustSync(t, l)
	segs := segFiles(t, dir)
	if len(segs) < 4 {
		t.Fatalf("segments %v, want at least 4", segs)
	}
	purged := map[uint64]string{}
	for _, s := range segs[:len(segs)-1] {
		purged[inode(t, filepath.Join(dir, s))] = s
	}

	if err := l.Purge(lid(1, 295)); err != nil { // only the last segment stays live
		t.Fatal(err)
	}
	logtest.MustSync(t, l)
	waitRemovals(t, l)
	waitSpares(t, l, 2)
	spares := spareFiles(t, dir)
	kept := 0
	for _, n := range spares {
		if _, ok := purged[inode(t, filepath.Join(dir, n))]; ok {
			kept++
		}
	}
	if kept != 2 {
		t.Fatalf("temporary files %v hold %d purged segments, want 2 (SpareSegments)", spares, kept)
	}
	if got := segFiles(t, dir); len(got) != 1 || got[0] != segs[len(segs)-1] {
		t.Fatalf("segment files after purge %v, want only %s", got, segs[len(segs)-1])
	}

	// Rotate until both spares went into new segments.
	reused := func() int {
		n := 0
		for _, s := range segFiles(t, dir) {
			if _, ok := purged[inode(t, filepath.Join(dir, s))]; ok {
				n++
			}
		}
		return n
	}
	next := es[len(es)-1].ID.Index + 1
	var more []mmaplog.Entry
	lastReused := func() bool {
		segs := segFiles(t, dir)
		_, ok := purged[inode(t, filepath.Join(dir, segs[len(segs)-1]))]
		return ok
	}
	// Small batches: the last segment, a reused file, ends well before
	// where its past life's records did.
	for deadline := time.Now().Add(20 * time.Second); reused() < 2 || !lastReused(); {
		if time.Now().After(deadline) {
			t.Fatalf("spares never reused: %d live segments are reused files (segments %v, %+v)", reused(), segFiles(t, dir), l.Stats())
		}
		batch := run(1, next, next+19, 1000) // a third of a segment
		logtest.MustAppend(t, l, batch...)
		logtest.MustSync(t, l)
		more = append(more, batch...)
		next += uint64(len(batch))
	}
	want := append(append([]mmaplog.Entry(nil), es[295:]...), more...)
	checkEntries(t, l, want)

	l = logtest.Reopen(t, l, dir, opts)
	checkEntries(t, l, want)
	logtest.MustClose(t, l)
	rep, err := recovery.Verify(dir)
	if err != nil || rep.Status != recovery.StatusClean {
		t.Fatalf("Verify after reuse: %v %+v", err, rep)
	}
	if left := spareFiles(t, dir); len(left) != 0 {
		t.Fatalf("Close left temporary files %v", left)
	}
	// A reused file holds nothing of its past life after its records.
	for _, seg := range rep.Segments {
		if _, ok := purged[inode(t, seg.Path)]; !ok {
			continue
		}
		b := logtest.ReadFile(t, seg.Path)
		for off := seg.End; off < int64(len(b)); off++ {
			if b[off] != 0 {
				t.Fatalf("reused segment %s: byte %d after the records' end %d is %#x, want zeros", seg.Path, off, seg.End, b[off])
			}
		}
		// Its index: no slot set beyond the entries it holds (slots are
		// u32 from byte 128; docs/FORMAT.md).
		x := logtest.ReadFile(t, strings.TrimSuffix(seg.Path, ".seg")+".idx")
		n := int64(0)
		if seg.First > 0 {
			n = int64(seg.Last - seg.First + 1)
		}
		for off := 128 + 4*n; off < int64(len(x)); off++ {
			if x[off] != 0 {
				t.Fatalf("reused index of %s: byte %d beyond its %d slots is %#x, want zeros", seg.Path, off, n, x[off])
			}
		}
	}
}

// Close deletes the spares it holds; SpareSegments < 0 keeps none.
func TestSpareSegmentsClosedAndDisabled(t *testing.T) {
	for _, n := range []int{3, -1} {
		dir := t.TempDir()
		opts := smallOpts()
		opts.SpareSegments = n
		l := logtest.MustOpen(t, dir, opts)
		logtest.MustAppend(t, l, run(1, 1, 300, 1000)...)
		logtest.MustSync(t, l)
		if err := l.Purge(lid(1, 295)); err != nil {
			t.Fatal(err)
		}
		logtest.MustSync(t, l)
		waitRemovals(t, l)
		want := max(n, 0)
		waitSpares(t, l, want)
		if got := len(spareFiles(t, dir)); got < want {
			t.Fatalf("SpareSegments=%d: %d temporary segment files, want at least %d", n, got, want)
		}
		logtest.MustClose(t, l)
		if left := spareFiles(t, dir); len(left) != 0 {
			t.Fatalf("SpareSegments=%d: Close left %v", n, left)
		}
	}
}
