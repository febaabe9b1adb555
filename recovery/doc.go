// Package recovery reads a raftlog directory back after a crash: it finds
// where the valid records end, tells a torn tail (never acknowledged: cut
// and logged) from corruption of bytes proven durable (a
// *format.CorruptError naming file, offset and entry; nothing on disk is
// changed), and rebuilds offset indexes that cannot be trusted.
// docs/FORMAT.md describes the rules; analyze holds them.
//
//	o, err := recovery.Open(vfs.OS, dir, logger) // what mmaplog.Open does
//	rep, err := recovery.Verify(dir)            // read-only check, for tools
//	rr, err := recovery.Repair(dir)             // cut at the first corruption
//
// analyze is pure and never writes; Open applies its result only when the
// log is sound. Recovery is idempotent: a crash during it and another run
// give the same result. No input makes it panic, fault (faults on mapped
// memory become errors), loop, or allocate more than a fraction of the
// files' size.
//
// Concurrency: the functions here are safe to call from several
// goroutines on different directories; callers hold the directory lock.
package recovery
