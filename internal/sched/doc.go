// Package sched holds raftlog's one request to the kernel's scheduler: a
// short time slice for the thread that waits on the disk's syncs, so
// that when a sync completes the thread runs at once rather than behind a
// CPU-bound writer.
package sched
