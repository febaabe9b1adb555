// Package storetest is a conformance kit for github.com/hashicorp/raft log
// and stable stores: a store author runs it from a test, and every fact
// raft relies on is checked as a subtest. It is in the spirit of openraft's
// storage test suite, written for hashicorp/raft's interfaces.
//
//	func TestConformance(t *testing.T) {
//		open := func(dir string) (*mystore.Store, error) { return mystore.Open(dir) }
//		storetest.LogStore(t, storetest.Factory[raft.LogStore]{
//			Open:       func(dir string) (raft.LogStore, error) { return open(dir) },
//			Persistent: true,
//		})
//		storetest.StableStore(t, storetest.Factory[raft.StableStore]{
//			Open:       func(dir string) (raft.StableStore, error) { return open(dir) },
//			Persistent: true,
//		})
//	}
//
// The log cases cover: FirstIndex and LastIndex on an empty store and after
// deletes; GetLog of missing entries (raft.ErrLogNotFound itself, since
// raft compares with ==); StoreLogs batches and every field of raft.Log;
// DeleteRange of a prefix, a suffix and everything, and an emptied store
// taking a batch at any index and term; a seeded random sequence against a
// model; readers during writes; reopening from the same directory; a
// crash-like reopen (the directory copied while the store is open, which is
// what a killed process leaves); for a raft.MonotonicLogStore, rejected
// gaps and overwrites; for a raft.CommitTrackingLogStore (raft >= 1.8), the
// commit index recorded with StoreLogs and never above LastIndex. The
// stable cases cover missing keys (raft wants the text "not found" or a
// zero value), values, ownership, concurrency, reopen and crash.
//
// Cases needing what a factory's stores do not offer are skipped (n/a).
// SurveyLogStore and SurveyStableStore run the same cases without failing
// the test, recording each outcome, and Table renders outcomes of several
// stores as a Markdown table: that is how this module compares its store
// with raft-wal, raft-boltdb and raft.InmemStore (storetest's own tests;
// go test ./storetest -run TestConformance -v prints the table, and
// -args -table=FILE writes it).
//
// Concurrency: each case runs on its own goroutine; the cases of a suite
// run one after another. A case that does not finish within a minute fails.
// The stores a case opens are closed when it ends.
package storetest
