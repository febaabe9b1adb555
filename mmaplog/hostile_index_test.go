package mmaplog_test

// Issue 10, cases 6 and 7: an index seal torn at a sector boundary. The
// disk writes 512-byte sectors atomically, not 4 KiB pages, so a crash
// during the seal's msync can keep the header sector (with "complete")
// and lose, or keep stale, any other sector of the index. The tests edit
// whole sectors after the first and do not depend on the index layout.

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

const sectorSize = 512

// restoreSectors puts back, in the file at path, every 512-byte sector
// after the first (the header's) that differs from old: a sync torn so
// that only the header sector reached the disk. It returns how many.
func restoreSectors(t *testing.T, path string, old []byte) int {
	t.Helper()
	n := 0
	logtest.Edit(t, path, func(cur []byte) {
		for off := sectorSize; off+sectorSize <= min(len(cur), len(old)); off += sectorSize {
			if !bytes.Equal(cur[off:off+sectorSize], old[off:off+sectorSize]) {
				copy(cur[off:off+sectorSize], old[off:off+sectorSize])
				n++
			}
		}
	})
	return n
}

// indexOpts keeps the logs of cases 6 and 7 in one segment.
func indexOpts() mmaplog.Options { return mmaplog.Options{SegmentSize: 1 << 20, Logger: quiet} }

// readIndexes returns name -> contents of every index file in dir.
func readIndexes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, name := range idxFiles(t, dir) {
		b := logtest.ReadFile(t, filepath.Join(dir, name))
		m[name] = b
	}
	return m
}

// Case 6: entries 1..300 of term 1, synced; Truncate(150); 150..300 again
// with term 2, synced; clean Close. Then every index sector but the first
// is put back as it was before the truncation: an early write-back of the
// slot page persisted, and the seal's msync lost those sectors while the
// header sector, saying "complete", landed. Get must return the term-2
// entry or an error, never the truncated term-1 entry.
func TestHostileTornSealStaleSlots(t *testing.T) {
	dir := t.TempDir()
	staleSlotsLog(t, dir)

	l, err := mmaplog.Open(dir, indexOpts())
	if err != nil {
		t.Fatalf("Open: %v (an index that cannot vouch for its slots is rebuilt from the segment)", err)
	}
	defer l.Close()
	// reads sorts what one way of reading returned for 150..300.
	type reads struct{ stale, failed []uint64 }
	check := func(r *reads, i uint64, e mmaplog.Entry, err error) {
		switch {
		case err != nil:
			r.failed = append(r.failed, i)
		case sameEntry(e, ent(2, i, 64)):
		case sameEntry(e, ent(1, i, 64)):
			r.stale = append(r.stale, i)
		default:
			t.Errorf("entry %d = %v %q: neither the acknowledged entry nor the truncated one", i, e.ID, trim(e.Payload))
		}
	}
	for i := uint64(1); i < 150; i++ {
		if e, err := l.Get(i); err != nil || !sameEntry(e, ent(1, i, 64)) {
			t.Errorf("Get(%d), untouched by the truncation: %v %q, %v", i, e.ID, trim(e.Payload), err)
		}
	}
	var get, iter reads
	for i := uint64(150); i <= 300; i++ {
		e, err := l.Get(i)
		check(&get, i, e, err)
	}
	i := uint64(150)
	for e, err := range l.Entries(150, 301) {
		check(&iter, i, e, err)
		i++
	}
	for _, r := range []struct {
		how string
		reads
	}{{"Get", get}, {"Entries", iter}} {
		if len(r.stale) > 0 {
			t.Errorf("%s returned the truncated term-1 entry as valid for %d indexes (%s)", r.how, len(r.stale), spans(r.stale))
		}
		if len(r.failed) > 0 {
			t.Logf("%s failed for indexes %s (allowed; rebuilding the index would be better)", r.how, spans(r.failed))
		}
	}
}

// Case 7: 400 entries, synced, closed cleanly; then one sector of the
// index after the first is zeroed (the seal's msync never wrote it back).
// Open must succeed and every acknowledged entry must read back intact:
// an index proves its own slots, and one that cannot is rebuilt.
func TestHostileTornSealZeroedSlots(t *testing.T) {
	src := t.TempDir()
	writeLog(t, src, indexOpts(), 400, 64, nil)
	idxs := readIndexes(t, src)
	if len(idxs) != 1 {
		t.Fatalf("index files %v, want one", idxFiles(t, src))
	}
	tried := 0
	for name, data := range idxs {
		for off := sectorSize; off+sectorSize <= len(data); off += sectorSize {
			if allZero(data[off : off+sectorSize]) {
				continue
			}
			tried++
			t.Run(fmt.Sprintf("sector-%d", off/sectorSize), func(t *testing.T) {
				dir := logtest.CopyDir(t, src)
				logtest.Edit(t, filepath.Join(dir, name), func(b []byte) { clear(b[off : off+sectorSize]) })
				l, err := mmaplog.Open(dir, indexOpts())
				if err != nil {
					t.Fatalf("Open: %v (want success: the segment is intact)", err)
				}
				defer l.Close()
				var bad []uint64
				var firstErr error
				for i := uint64(1); i <= 400; i++ {
					e, err := l.Get(i)
					if err != nil || !sameEntry(e, ent(1, i, 64)) {
						bad = append(bad, i)
						if firstErr == nil {
							firstErr = fmt.Errorf("Get(%d) = %v %q, %w", i, e.ID, trim(e.Payload), err)
						}
					}
				}
				if len(bad) > 0 {
					t.Errorf("%d acknowledged, intact entries unreadable (indexes %s); first: %v", len(bad), spans(bad), firstErr)
				}
				if got, err := collect(l, 1, 401); err != nil || len(got) != 400 {
					t.Errorf("Entries(1, 401): %d entries, %v", len(got), err)
				}
			})
		}
	}
	if tried == 0 {
		t.Fatal("the index has no nonzero sector after the first: the test no longer zeroes slots")
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// spans formats sorted indexes as ranges: "3-7, 9".
func spans(is []uint64) string {
	var b bytes.Buffer
	for k := 0; k < len(is); {
		j := k
		for j+1 < len(is) && is[j+1] == is[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if j == k {
			fmt.Fprintf(&b, "%d", is[k])
		} else {
			fmt.Fprintf(&b, "%d-%d", is[k], is[j])
		}
		k = j + 1
	}
	return b.String()
}
