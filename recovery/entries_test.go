package recovery_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/mmaplog"
	"github.com/raftlog/raftlog/recovery"
)

// Entries yields exactly the live entries (purged, truncated, superseded
// and torn ones left out), in order, on a cleanly closed log and on a
// crashed one; their digests are the live log's.
func TestEntries(t *testing.T) {
	write := func(l *mmaplog.Log, m *model) {
		m.appendN(t, l, 1, 900, 1, 10)
		logtest.MustSync(t, l)
		if err := l.Purge(mmaplog.LogID{Term: 1, Index: 120}); err != nil {
			t.Fatal(err)
		}
		m.truncate(t, l, 500) // below the open segment: later entries supersede
		m.appendN(t, l, 500, 700, 2, 10)
		logtest.MustSync(t, l)
	}
	var live mmaplog.Digest
	var liveSegs []mmaplog.SegmentDigest
	clean, m := closed(t, func(l *mmaplog.Log, m *model) {
		write(l, m)
		var err error
		if live, err = l.Digest(121, 700); err != nil {
			t.Fatal(err)
		}
		if liveSegs, err = l.SegmentDigests(); err != nil {
			t.Fatal(err)
		}
	})
	crash, _ := crashed(t, func(l *mmaplog.Log, m *model) { write(l, m) })
	for name, dir := range map[string]string{"closed": clean, "crashed": crash} {
		var got []uint64
		var all raftstate.Digest
		bySeg := map[uint64]*raftstate.Digest{}
		err := recovery.Entries(dir, 0, 0, func(seg uint64, id raftstate.LogID, payload []byte) error {
			want, _ := m.Entry(id.Index)
			if id != want.ID || !bytes.Equal(payload, want.Payload) {
				t.Fatalf("%s: entry %v %q, want %v %q", name, id, payload, want.ID, want.Payload)
			}
			got = append(got, id.Index)
			all.Add(id, payload)
			if bySeg[seg] == nil {
				bySeg[seg] = &raftstate.Digest{}
			}
			bySeg[seg].Add(id, payload)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 580 || got[0] != 121 || got[len(got)-1] != 700 {
			t.Fatalf("%s: %d entries %v..%v; want 121..700", name, len(got), got[0], got[len(got)-1])
		}
		for k := range got {
			if got[k] != 121+uint64(k) {
				t.Fatalf("%s: entry %d at position %d", name, got[k], k)
			}
		}
		if all != live {
			t.Fatalf("%s: digest %v, the live log's %v", name, all, live)
		}
		for _, sd := range liveSegs {
			if d := bySeg[sd.Segment]; sd.Entries > 0 && (d == nil || *d != sd.Digest) {
				t.Fatalf("%s: segment %d: %v offline, %v live", name, sd.Segment, d, sd.Digest)
			}
		}
	}
	// A range, and fn's error.
	n := 0
	if err := recovery.Entries(clean, 300, 310, func(uint64, raftstate.LogID, []byte) error { n++; return nil }); err != nil || n != 11 {
		t.Fatalf("range 300..310: %d entries, %v", n, err)
	}
	stop := errors.New("stop")
	if err := recovery.Entries(clean, 0, 0, func(uint64, raftstate.LogID, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("fn's error: %v", err)
	}
}

// A damaged live entry is a CorruptError naming it.
func TestEntriesDamaged(t *testing.T) {
	dir, _ := closed(t, func(l *mmaplog.Log, m *model) {
		m.appendN(t, l, 1, 300, 1, 10)
	})
	e := entry(t, dir, 40)
	seg := p(dir, e.Seg)
	logtest.Flip(t, seg, payloadOff(e)+2, 1)
	err := recovery.Entries(dir, 0, 0, func(uint64, raftstate.LogID, []byte) error { return nil })
	var ce *format.CorruptError
	if !errors.As(err, &ce) || ce.Index != 40 || ce.Path != seg {
		t.Fatalf("Entries over a damaged entry 40: %v", err)
	}
	if err := recovery.Entries(t.TempDir(), 0, 0, nil); !errors.Is(err, recovery.ErrNoLog) {
		t.Fatalf("Entries on an empty directory: %v", err)
	}
}

// A sealed index whose slots fail their seal (a torn seal) is not used:
// Entries rebuilds its slots from the records, as a Log does on first use.
func TestEntriesTornSeal(t *testing.T) {
	dir, m := closed(t, func(l *mmaplog.Log, m *model) {
		m.appendN(t, l, 1, 4000, 1, 50)
	})
	names := segNames(t, dir)
	if len(names) < 3 {
		t.Fatalf("only %d segments", len(names))
	}
	idx := p(dir, strings.TrimSuffix(names[1], ".seg")+".idx")
	logtest.Flip(t, idx, 128+4*2, 0xff)
	n := 0
	err := recovery.Entries(dir, 0, 0, func(_ uint64, id raftstate.LogID, payload []byte) error {
		if want, _ := m.Entry(id.Index); id != want.ID || !bytes.Equal(payload, want.Payload) {
			return fmt.Errorf("entry %v %q, want %v %q", id, payload, want.ID, want.Payload)
		}
		n++
		return nil
	})
	if err != nil || n != 4000 {
		t.Fatalf("Entries over a torn seal: %d entries, %v", n, err)
	}
}
