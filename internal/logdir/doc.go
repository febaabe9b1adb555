// Package logdir is what a log directory holds after a crash, decided
// once for everyone who reads one: mmaplog.Open, which recovers the log
// (Open), and the tools of package recovery (Verify, Repair, Walk,
// Entries), which check, repair and show it.
//
// It works in three steps, each usable alone:
//
//	d, err := logdir.Load(fs, dir)         // list the directory, map every segment and index
//	p, err := d.Plan()                     // Analyze: decide, writing nothing
//	r, err := logdir.Open(fs, dir, logger) // Load, Plan, then carry the plan out
//
// Analyze finds where the valid records end, tells a torn tail (never
// acknowledged: cut) from damage to bytes proven durable (a
// *format.CorruptError naming file, offset and entry), refuses files of
// another log or from another place in this one, and marks the offset
// indexes that cannot be trusted. docs/FORMAT.md ("What recovery
// concludes") describes the rules; rules.go states each once (the Rule
// functions), for Analyze, which stops at the first problem, and for
// recovery.Verify, which collects every one. Open applies a plan only when
// the log is sound: it deletes crash leftovers, cuts the torn tail,
// rebuilds stale indexes, makes the surviving bytes durable and hands the
// mapped files over (Recovered). Segments not sealed complete are read
// from the disk, not the page cache (Load). No input makes the analysis
// panic, fault (faults on mapped memory become errors), loop, or allocate
// more than a fraction of the files' size; a crash while Open applies a
// plan and another Open give the same result.
//
// Imports: logdir sits above index and internal/format and below
// recovery and mmaplog, which both import it; it imports neither.
//
// Errors: the errors this package creates carry no package prefix of
// their own: mmaplog and recovery, which return them, add theirs
// ("mmaplog: ", "recovery: ", with Prefixed), so that a user sees the
// package they called. A *format.CorruptError is returned as it is by both: its message
// begins "mmaplog: corrupt:", the message of mmaplog.CorruptError, which
// is what both packages document it as. The messages Open logs begin
// "mmaplog: ": only mmaplog.Open runs it, with its Options.Logger.
//
// Concurrency: the functions are safe to call from several goroutines on
// different directories; the caller holds the directory lock. A Dir or
// Recovered is used by one goroutine.
package logdir
