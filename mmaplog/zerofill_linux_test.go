//go:build linux

package mmaplog_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// unwrittenBytes returns how many bytes of path are in extents allocated
// but never written (FIEMAP_EXTENT_UNWRITTEN), and false when the file
// system does not answer FIEMAP.
func unwrittenBytes(t *testing.T, path string) (int64, bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const (
		fsIocFiemap   = 0xC020660B // _IOWR('f', 11, struct fiemap)
		flagSync      = 1          // FIEMAP_FLAG_SYNC
		flagLast      = 0x1        // FIEMAP_EXTENT_LAST
		flagUnwritten = 0x800      // FIEMAP_EXTENT_UNWRITTEN
		head, ext     = 32, 56     // sizeof struct fiemap, struct fiemap_extent
		count         = 32
	)
	le := binary.LittleEndian
	var total int64
	for start := uint64(0); ; {
		buf := make([]byte, head+ext*count)
		le.PutUint64(buf[0:], start)      // fm_start
		le.PutUint64(buf[8:], ^uint64(0)) // fm_length
		le.PutUint32(buf[16:], flagSync)  // fm_flags
		le.PutUint32(buf[24:], count)     // fm_extent_count
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&buf[0]))); errno != 0 {
			return 0, false
		}
		n := int(le.Uint32(buf[20:])) // fm_mapped_extents
		if n == 0 {
			return total, true
		}
		for i := range n {
			e := buf[head+ext*i:]
			logical, length, flags := le.Uint64(e[0:]), le.Uint64(e[16:]), le.Uint32(e[40:])
			if flags&flagUnwritten != 0 {
				total += int64(length)
			}
			if flags&flagLast != 0 {
				return total, true
			}
			start = logical + length
		}
	}
}

// waitWritten waits until path exists and has no unwritten extent.
func waitWritten(t *testing.T, path string, d time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if n, _ := unwrittenBytes(t, path); n == 0 {
			return true
		}
	}
	return false
}

// With ZeroFill, the first segment of a new log and every segment
// prepared for a log synced in small pieces are written with zeros before
// they are used: no unwritten extent is left for a sync to convert (the
// journal commit that made a synced 4 KiB append 1.5x slower, see
// BenchmarkAppendSync). Without it, a segment is fallocated only.
func TestZeroFillWritesEverySmallSyncSegment(t *testing.T) {
	const segSize = 1 << 20
	plain := t.TempDir()
	l := logtest.MustOpen(t, plain, mmaplog.Options{SegmentSize: segSize, Logger: quiet})
	n, ok := unwrittenBytes(t, filepath.Join(plain, "00000000000000000001.seg"))
	logtest.MustClose(t, l)
	if !ok || n == 0 {
		t.Skipf("this file system does not report fallocated space as unwritten extents (FIEMAP answered: %v)", ok)
	}

	dir := t.TempDir()
	l = logtest.MustOpen(t, dir, mmaplog.Options{SegmentSize: segSize, ZeroFill: true, Logger: quiet})
	if n, _ := unwrittenBytes(t, filepath.Join(dir, "00000000000000000001.seg")); n != 0 {
		t.Fatalf("the first segment of a new zero-filled log has %d unwritten bytes", n)
	}
	payload := make([]byte, 4000)
	i := uint64(0)
	appendSynced := func() {
		t.Helper()
		i++
		payload[0] = byte(i)
		logtest.MustAppend(t, l, mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i}, Payload: payload})
		logtest.MustSync(t, l)
	}
	// A third full, synced in small pieces: its successor is prepared,
	// for small syncs, and zero-filled before it is handed over.
	for l.Stats().BytesUsed < segSize/3 {
		appendSynced()
	}
	var prep string
	for deadline := time.Now().Add(10 * time.Second); prep == ""; time.Sleep(time.Millisecond) {
		if got := spareFiles(t, dir); len(got) > 0 {
			prep = filepath.Join(dir, got[0])
		} else if time.Now().After(deadline) {
			t.Fatal("no segment prepared with the first a third full")
		}
	}
	if !waitWritten(t, prep, 10*time.Second) {
		t.Fatalf("the prepared segment %s still has unwritten extents after 10 s", prep)
	}
	for l.Stats().Segments < 2 {
		appendSynced()
	}
	if n, _ := unwrittenBytes(t, filepath.Join(dir, "00000000000000000002.seg")); n != 0 {
		t.Fatalf("the second segment has %d unwritten bytes", n)
	}
	appendSynced()
	last := i
	logtest.MustClose(t, l)
	l = logtest.MustOpen(t, dir, mmaplog.Options{SegmentSize: segSize, ZeroFill: true, Logger: quiet})
	defer logtest.MustClose(t, l)
	for k := uint64(1); k <= last; k++ {
		e, err := l.Get(k)
		if err != nil || len(e.Payload) != len(payload) || e.Payload[0] != byte(k) {
			t.Fatalf("entry %d after reopen: %v", k, err)
		}
	}
}
