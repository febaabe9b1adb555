package logtest

import (
	"testing"

	"github.com/raftlog/raftlog/mmaplog"
)

// MustOpen opens the Log in dir and closes it when the test ends (a
// second Close is a no-op, so tests may close it themselves).
func MustOpen(t testing.TB, dir string, opts mmaplog.Options) *mmaplog.Log {
	t.Helper()
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// MustClose closes l.
func MustClose(t testing.TB, l *mmaplog.Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// Reopen closes l and opens dir again, as MustOpen.
func Reopen(t testing.TB, l *mmaplog.Log, dir string, opts mmaplog.Options) *mmaplog.Log {
	t.Helper()
	MustClose(t, l)
	return MustOpen(t, dir, opts)
}

// MustAppend appends es (one call).
func MustAppend(t testing.TB, l *mmaplog.Log, es ...mmaplog.Entry) {
	t.Helper()
	if err := l.Append(es...); err != nil {
		if len(es) == 0 {
			t.Fatalf("Append(): %v", err)
		}
		t.Fatalf("Append(%v..%v): %v", es[0].ID, es[len(es)-1].ID, err)
	}
}

// MustSync makes everything l holds durable.
func MustSync(t testing.TB, l *mmaplog.Log) {
	t.Helper()
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}
