// Package bench is the benchmark harness of raftlog: workloads, store
// drivers, latency histograms and result types, so that mmaplog and the Raft
// log stores users already know run the same workload side by side on the
// same directory, next to the bare disk's own limit.
//
// # Workloads
//
//   - W1 append-sync: one entry (Config.Size, default 128 B) per call, then
//     wait until it is durable; one writer.
//   - W2 append-pipelined: append one entry and ask for a flush without
//     waiting (mmaplog: Append + Flush(callback), raft-log's own bench).
//     Stores without an asynchronous flush run the closest equivalent, one
//     synced batch of 64 entries per call (hashicorp/raft's MaxAppendEntries).
//     The figure is durable entries per second.
//   - W3 append-nosync: 128 B and 4 KiB entries, one per call, durability
//     only at the end (the final sync is inside the timed interval).
//   - W4 get-random: warm random reads by index over Config.Preload entries
//     (1 M by default).
//   - W5 reopen: open time and heap growth after opening a cleanly closed log
//     of Config.ReopenEntries entries (1 M by default, 10 M in long mode).
//   - W6 churn: raft-wal's own churn scenario: preload 500 k × 1 KiB,
//     purge back to the last 10 000, then synced appends while a second
//     goroutine purges the head back to 10 000 entries every second.
//   - limit: the bare disk in the same directory: pwrite+fdatasync and
//     mmap+msync of Config.Size bytes into a pre-written file (its page
//     cache dropped first, see prewrittenFile), and sequential write
//     bandwidth in 1 MiB writes, buffered and O_DIRECT, fdatasync at the
//     end. Tables relate W1 and W6 to the faster sync primitive and W2 and
//     W3 to the faster bandwidth.
//
// Latencies are recorded in HdrHistogram (1 ns to 10 min, 3 significant
// digits). W3 and W4 time one call in 8 so that reading the clock does not
// dominate calls of a few hundred nanoseconds; their throughput counts
// every call. W2's latency runs from an entry's append to its durability
// callback and includes waiting behind up to 65 536 entries in flight.
//
// # Stores
//
// Drivers: mmaplog (this module), raftwal (github.com/hashicorp/raft-wal),
// boltdb (github.com/hashicorp/raft-boltdb/v2), tidwall
// (github.com/tidwall/wal) and etcdwal (go.etcd.io/etcd/server/v3
// storage/wal). Where a peer has no native form of a workload the closest
// equivalent runs and the result's Note says so:
//
//   - W2: only mmaplog has an asynchronous flush with a callback; the peers
//     append synced batches of 64.
//   - W3: raftwal has no no-sync mode; it runs with its segment files'
//     Sync turned into a no-op through its VFS seam (types.VFS) and the
//     files are synced for real at the end. etcdwal runs with
//     SetUnsafeNoFsync and its segment files are fdatasync'ed by path at the
//     end. boltdb and tidwall use their NoSync options and Sync.
//   - W4: etcdwal cannot run it: the etcd WAL has no random access by index
//     (entries are read once, in order, by ReadAll when it is opened, and
//     etcd keeps them in raft's MemoryStorage).
//   - W5: etcdwal's open includes ReadAll, which it needs before it accepts
//     appends; its heap therefore holds every entry.
//   - W6: etcdwal purges whole 64 MB segment files (ReleaseLockTo, then the
//     unlocked files are removed, as etcd's purge loop does); tidwall's
//     TruncateFront rewrites the first remaining segment.
//
// # Usage
//
//	cfg := bench.Config{Dir: dir, Duration: 3 * time.Second}
//	rep, err := bench.Run(cfg, []string{"mmaplog", "raftwal"}, []string{"W1", "W4"})
//	if err != nil { ... }
//	bench.WriteTable(os.Stdout, rep)
//
// # Concurrency
//
// Run executes one (store, workload) pair at a time, each in its own fresh
// subdirectory of Config.Dir; a Store is used by the workload's writer and,
// in W2 and W6, by one more goroutine (the flush callbacks, the purger).
// Report and Result are plain values.
package bench
