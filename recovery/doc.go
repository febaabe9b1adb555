// Package recovery holds the operator tools for a raftlog directory: it
// checks a log without changing it (Verify), repairs a corrupt one at the
// price of the data from the first problem on (Repair), and shows its
// records as they are on disk (Walk, DumpSegment) or its live entries as
// Open recovers them (Entries).
//
//	rep, err := recovery.Verify(dir)                     // read-only check
//	rr, err := recovery.Repair(dir)                      // cut at the first corruption
//	err = recovery.Walk(dir, func(it recovery.WalkItem) error { ... }) // records as on disk
//	err = recovery.Entries(dir, from, to, fn)            // live entries, as Open recovers them
//
// A path that holds no log is ErrNoLog for all of them (nothing is created
// there).
//
// The tools judge a log by the rules mmaplog.Open recovers it with, run by
// the same code (the module's internal/logdir; docs/FORMAT.md, "What
// recovery concludes"): a torn tail (never acknowledged, which Open cuts)
// is told from corruption of bytes proven durable (a *CorruptError naming
// file, offset and entry, on which Open fails and changes nothing), files
// of another log or from another place in this one are refused, and
// offset indexes that cannot be trusted are rebuilt. Open stops at the
// first problem; Verify collects every one (VerifyReport.Problems) and
// says what Open would do (VerifyReport.OpenErr, Torn, Leftovers) and
// where Repair would cut (VerifyReport.Cut).
//
// Verify, Walk and Entries map the files read-only and never write.
// Segments not sealed complete are read from the disk, not the page cache.
// Repair writes through the same file-system seam as the Log, and the
// fuzz suite's F9 loses power, kills it or fails an operation at each of
// its changes: a crash or failure during Repair and another run give the
// same result. Repair refuses (ErrPurgeBeyondCut, nothing changed) a cut
// that would drop the purge which deleted the log's first segments. No input makes a tool panic, fault
// (faults on mapped memory become errors), loop, or allocate more than a
// fraction of the files' size. The errors the tools create begin
// "recovery: "; a *CorruptError and a held lock keep the messages of
// mmaplog.CorruptError and mmaplog.ErrLocked.
//
// Concurrency: the functions here are safe to call from several
// goroutines on different directories; the tools take the directory lock
// (shared to read, exclusive to repair), as a Log does.
package recovery
