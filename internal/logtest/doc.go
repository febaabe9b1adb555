// Package logtest holds the test helpers that this module's tests share,
// in the manner of bbolt's internal/btesting: opening, syncing and closing
// a Log, copying and snapshotting a log directory, and damaging files in
// place. Every helper takes a testing.TB, calls t.Helper and fails the
// test itself (t.Fatal) on an error it does not expect; CopyTree, for
// callers that report errors their own way, returns its error instead.
//
//	l := logtest.MustOpen(t, t.TempDir(), opts)
//	logtest.MustAppend(t, l, es...)
//	crash := logtest.CopyDir(t, dir) // what a kill -9 leaves, page cache included
//	logtest.Flip(t, filepath.Join(crash, name), off, 0x01)
//	before := logtest.Snapshot(t, crash)
//	... an operation that must not write ...
//	logtest.Unchanged(t, "Verify", before, crash)
//
// The helpers work on real files; they are safe for concurrent use as far
// as the files they touch are not written meanwhile (CopyTree and CopyDir
// tolerate a store still finishing background work, see CopyTree).
//
// mmaplog's in-package tests (package mmaplog) cannot import logtest: it
// imports mmaplog. Its external tests (package mmaplog_test) can.
package logtest
