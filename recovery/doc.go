// Package recovery reads a raftlog directory back after a crash: it finds
// where the valid records end, tells a torn tail (never acknowledged: cut
// and logged) from corruption of bytes proven durable (a *CorruptError
// naming file, offset and entry; nothing on disk is changed), refuses
// files of another log or from another place in this one, and rebuilds
// offset indexes that cannot be trusted. docs/FORMAT.md describes the
// rules; rules.go states each once, for Open (analyze, which stops at the
// first problem) and Verify (which collects every one).
//
// For operators and tools:
//
//	rep, err := recovery.Verify(dir)                     // read-only check
//	rr, err := recovery.Repair(dir)                      // cut at the first corruption
//	err = recovery.Walk(dir, func(it recovery.WalkItem) error { ... }) // records as on disk
//	err = recovery.Entries(dir, from, to, fn)            // live entries, as Open recovers them
//
// A path that holds no log is ErrNoLog for all of them (nothing is created
// there). For the engine, Open(vfs, dir, logger) is what mmaplog.Open runs.
//
// analyze is pure and never writes; Open applies its result only when the
// log is sound. Segments not sealed complete are read from the disk, not
// the page cache. Repair writes through the same vfs seam as the Log, and
// its tests lose power after each of its changes. Recovery is idempotent:
// a crash during it and another run give the same result. No input makes
// it panic, fault (faults on mapped memory become errors), loop, or
// allocate more than a fraction of the files' size.
//
// Concurrency: the functions here are safe to call from several
// goroutines on different directories; the tools take the directory lock
// (shared to read, exclusive to repair), as a Log does.
package recovery
