package mmaplog_test

import (
	"testing"

	"github.com/raftlog/raftlog/internal/logtest"
	"github.com/raftlog/raftlog/mmaplog"
)

// Get finds each entry's segment among many, also after a truncation into
// an older segment left later segments' entries superseded, after a purge
// and after reopening.
func TestGetManySegments(t *testing.T) {
	dir := t.TempDir()
	l := logtest.MustOpen(t, dir, smallOpts())
	es := run(1, 1, 2000, 1000)
	for i := 0; i < len(es); i += 50 {
		logtest.MustAppend(t, l, es[i:i+50]...)
	}
	if n := l.Stats().Segments; n < 20 {
		t.Fatalf("%d segments, want many", n)
	}
	checkEntries(t, l, es)

	if err := l.Truncate(500); err != nil {
		t.Fatal(err)
	}
	es = append(es[:499], run(2, 500, 900, 1000)...)
	for i := 499; i < len(es); i += 40 {
		logtest.MustAppend(t, l, es[i:min(i+40, len(es))]...)
	}
	checkEntries(t, l, es)

	if err := l.Purge(mmaplog.LogID{Term: 1, Index: 250}); err != nil {
		t.Fatal(err)
	}
	es = es[250:]
	checkEntries(t, l, es)
	l = logtest.Reopen(t, l, dir, smallOpts())
	checkEntries(t, l, es)
}
