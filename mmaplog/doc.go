// Package mmaplog stores the durable state of one Raft node — log entries,
// vote, commit index and a small user-data blob — in preallocated,
// memory-mapped segment files with a separate memory-mapped offset index.
//
//	l, err := mmaplog.Open(dir, mmaplog.Options{})
//	if err != nil { ... }
//	defer l.Close()
//	err = l.Append(mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: 1}, Payload: p})
//	err = l.Flush(func(err error) { /* durable (or failed) */ })
//	e, err := l.Get(1)
//
// Writes go into a shared, writable mapping of the current segment: a call
// that returns nil has its bytes in the page cache and survives the process
// being killed. Flush makes them survive power loss: one flusher goroutine
// msyncs the dirty ranges (group commit: concurrent and back-to-back
// flushes share one sync), fsyncs the directory when files were created or
// removed, and then runs the callbacks in call order. A failed sync is
// sticky: the Log fails closed and must be reopened.
//
// The mapping is writable (unlike bbolt's read-only one) because writing
// through it is what makes an append a memory copy instead of a system
// call. Large batches, and the first few writes after a sync that made
// everything durable (Raft's batch-then-sync), are written with pwrite
// instead, to the same page cache (see Options.WriteThrough). Callers
// never see the mapping: Get and Entries return copies, so nothing a
// caller holds can change or fault when segments are truncated, purged,
// remapped or closed.
//
// Concurrency: every method is safe for concurrent use. Writes are
// serialized; reads (Get, Entries, State, Stats) run concurrently with them
// and never wait for a disk sync. A mapping is unmapped only under the
// readers' lock, so a read racing Purge, Truncate or Close returns the entry
// or an error, never a fault. Faults on mapped memory (SIGBUS after an I/O
// error) become errors.
//
// Online verification: Verify (or Options.Verify, in the background)
// re-reads the sealed segments and their indexes from the disk, bypassing
// the page cache, at a bounded rate, and reports damage through its
// report, Stats.Verify, the logger and a callback. Digest and
// SegmentDigests summarize entry ranges so that replicas can compare
// what they hold (see the README, "Comparing replicas").
//
// Hostile disks: a call that returns an error wrote nothing (Append creates
// every segment its batch needs before writing, so a full disk fails the
// call and leaves the Log usable); Open reads every segment that was not
// sealed from the disk, not the page cache (a failed write-back leaves
// pages the kernel calls clean); files carry the log's identity, so one
// from another log is corruption; purged segment files are deleted in the
// background once the purge is durable (Stats.PendingRemovals). Files are
// created 0600 in a 0700 directory (Options.FileMode). Rewind restarts an
// empty log at a lower index (a Raft store emptied by a snapshot install).
// Stats carries latency and size distributions of the flush pipeline, and
// a sync slower than Options.SlowSync is logged.
//
// The on-disk format is in docs/FORMAT.md, with the rules recovery on Open
// applies (torn tails versus corruption, "What recovery concludes"); the
// tools of package recovery check (Verify) and repair (Repair) a log
// directory by the same rules.
package mmaplog
