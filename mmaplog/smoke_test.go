package mmaplog_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

func TestSmokeAppendReopen(t *testing.T) {
	dir := t.TempDir()
	opts := mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize}
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := uint64(1); i <= n; i++ {
		if err := l.Append(mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: i}, Payload: fmt.Appendf(nil, "entry-%d", i)}); err != nil {
			t.Fatal(i, err)
		}
	}
	logtest.MustSync(t, l)
	check := func(l *mmaplog.Log) {
		t.Helper()
		for i := uint64(1); i <= n; i++ {
			e, err := l.Get(i)
			if err != nil {
				t.Fatal(i, err)
			}
			if want := fmt.Appendf(nil, "entry-%d", i); !bytes.Equal(e.Payload, want) || e.ID.Index != i {
				t.Fatalf("Get(%d) = %v %q", i, e.ID, e.Payload)
			}
		}
	}
	check(l)
	st := l.Stats()
	if st.Segments < 2 {
		t.Fatalf("expected rotation, stats %+v", st)
	}
	logtest.MustClose(t, l)
	l, err = mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	check(l)
	if got := l.State().Last; got != (mmaplog.LogID{Term: 1, Index: n}) {
		t.Fatalf("Last = %v", got)
	}
}
