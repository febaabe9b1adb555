// Package logtest is test support shared by raftlog's tests, its fuzz
// suite and the storetest conformance kit, in the manner of bbolt's
// internal/btesting. It is imported only by _test files, by package fuzz
// and by package storetest (its directory copier).
//
// Model is the one reference model of a log: DESIGN.md's Semantics (entries
// by index, the append, vote, commit, truncate and purge rules, user data,
// State) on plain memory, written apart from mmaplog's own validation so
// that a bug in either shows up as a disagreement. Its Check methods
// compare a real *mmaplog.Log against it.
//
//	var m logtest.Model
//	if err := l.Append(es...); !errors.Is(err, m.Append(es...)) { ... }
//	if err := m.Check(l); err != nil { t.Fatal(err) }
//
// A Model is not safe for concurrent use, except that any number of
// goroutines may read (and Check against) a Model nobody modifies.
//
// The other helpers open, sync and close a Log, copy and snapshot a log
// directory, and damage files in place. Each takes a testing.TB, calls
// t.Helper and fails the test itself (t.Fatal) on an error it does not
// expect; CopyTree, for callers that report errors their own way, returns
// its error instead.
//
//	l := logtest.MustOpen(t, dir, opts)
//	logtest.MustAppend(t, l, es...)
//	crash := logtest.CopyDir(t, dir) // what a kill -9 leaves, page cache included
//	logtest.Flip(t, filepath.Join(crash, name), off, 0x01)
//	before := logtest.Snapshot(t, crash)
//	... an operation that must not write ...
//	logtest.Unchanged(t, "Verify", before, crash)
//
// These helpers work on real files and are safe for concurrent use as long
// as nothing writes the files they touch meanwhile (CopyTree and CopyDir
// tolerate a store still finishing background work, see CopyTree).
//
// mmaplog's in-package tests (package mmaplog) cannot import logtest: it
// imports mmaplog. Its external tests (package mmaplog_test) can.
package logtest
