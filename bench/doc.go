// Package bench is the benchmark harness of raftlog: workloads, store
// drivers, latency histograms and result types, so that mmaplog and the Raft
// log stores users already know run the same workload side by side on the
// same directory, next to the bare disk's own limit.
//
// # Workloads
//
//   - W1 append-sync: one entry (Config.Size, default 128 B) per call, then
//     wait until it is durable; one writer. p50, p99, p99.9 and max. The
//     stores of a run are interleaved: all are opened and warmed up, then
//     each runs ten turns of Duration/10 in rotating order, so that a disk
//     whose sync latency drifts during the run weighs on each alike. When
//     the run includes limit, the disk's two bare sync primitives take
//     turns too (limit-fdatasync-w1 and limit-msync-w1, as limit-fdatasync
//     and limit-msync below), and W1's ratios and p50 goal use them.
//   - W2 append-pipelined: append one entry and ask for a flush without
//     waiting (mmaplog: Append + Flush(callback), raft-log's own bench),
//     twice: with up to 1 Mi entries in flight (the throughput figure) and
//     with at most 1,024 (the latency figure, append to callback). The
//     callbacks only count; one entry in 64 is timed, so that the harness
//     adds no clock read, lock or histogram record per entry (reading the
//     clock and recording each of 3 M entries a second cost about as much
//     as the append). Stores without an asynchronous flush run the closest
//     equivalent, one synced batch of 64 entries per call (hashicorp/raft's
//     MaxAppendEntries). The figure is durable entries per second; the
//     final sync is inside the timed interval. On mmaplog the result also
//     gives the Log's own group syncs (Stats: their p50 and p99, entries
//     per group, and each group's wait for the one before).
//   - W3 append-nosync: 128 B and 4 KiB entries, one per call, durability
//     only at the end (the final sync is inside the timed interval). The
//     result also gives the rate of the appends alone and the payload rate
//     of the final sync; the goals relate the first to limit-copy-crc and
//     the whole run's payload rate to the disk's sequential write rate
//     (mmaplog writes segments behind the appends, so its final sync
//     alone is short).
//   - W4 get-random: warm random reads by index over Config.Preload entries
//     (1 M by default).
//   - W5 reopen: a cleanly closed log of Config.ReopenBytes of payload, in
//     Config.Size and 1 KiB entries, opened ReopenRounds times, each time
//     cold (the page cache dropped as root, else the log's own files
//     evicted; Config.ReopenCache): the open, the first Get (an entry in
//     the middle) and the first synced Append are timed, and the heap
//     growth with the log open and the major page faults of the open are
//     measured. A peer builds at most
//     PeerReopenBytes (etcdwal less: its open holds every entry in memory)
//     and its result's Scale says how much larger the target is. Run
//     refuses to start (ErrNoRoom) when statfs says the largest log would
//     not fit.
//   - W6 churn: raft-wal's own churn scenario: preload 500 k × 1 KiB,
//     purge back to the last 10 000, then synced appends while a second
//     goroutine purges the head back to 10 000 entries every second. The
//     result carries the latency over time (WriteTimelineSVG draws it) and
//     each purge, so that a stall is visible rather than averaged away.
//     Like W1, W6 interleaves its stores: all are preloaded first, then
//     they take 5 turns each, the order rotating; a store purges every
//     second of its own running time (the time since its last purge
//     carries over from one turn to the next), and its timeline and
//     purges are drawn on that clock.
//   - W8 concurrent: Config.Writers goroutines (1, 4, 16, 64), each
//     appending one entry and waiting until it is durable; the positions
//     are handed out under one lock, as a Raft leader's clients would get
//     them through one log. mmaplog appends and flushes under the lock and
//     waits for the callback outside it (group commit in the store). A
//     store without a separate durability wait runs twice: direct (its
//     synced Append under the lock, the natural equivalent) and through a
//     leader loop that stores every waiting entry with one synced Append
//     (group commit above the store, as hashicorp/raft and etcd's raft node
//     do). Latency runs from taking the lock to durable.
//   - limit: the bare disk in the same directory: pwrite+fdatasync and
//     mmap+msync of Config.Size bytes into a pre-written file (its page
//     cache dropped first, see prewrittenFile); limit-msync-window, the
//     records of W2's bounded window (1,024 entries) stored and msynced
//     together, one window after the other (an entry of W2 waits about two
//     of these); sequential write bandwidth in 1 MiB writes, buffered and
//     O_DIRECT, fdatasync at the end; limit-get-probe, the two dependent
//     loads of a random read by index (slot, then record) over mmaplog's
//     layout, each read waiting for the last as one reader's Gets do (W4's
//     reference), limit-get-probe-overlapped, the same loads at
//     independent random indexes, which the CPU overlaps, and
//     limit-get-probe-4k, the serial probe in files whose page cache is
//     made of 4 KiB folios, as a log's is (each probe, and W4, says how
//     much of its mappings the kernel mapped with 2 MiB pages); and
//     limit-copy-crc, the bytes an append writes (entry head, payload,
//     frame and CRC, as mmaplog frames them) into faulted-in mapped pages,
//     W3's append-path reference. Tables relate W1 and W6 to the faster
//     sync primitive (W1 to those of its own turns), W2 and W3 to the
//     faster bandwidth and W4 to the probe.
//
// Latencies are recorded in HdrHistogram (1 ns to 10 min, 3 significant
// digits). W3 and W4 time one call in 8 so that reading the clock does not
// dominate calls of a few hundred nanoseconds; their throughput counts
// every call.
//
// WriteTable ends with raftlog's goals: each target beside the figure it
// is measured against in the same report (a peer store, the disk limit,
// the probe, or W8's single writer), marked met or not.
//
// # Stores
//
// Drivers: mmaplog (this module, default Options), mmaplog-zerofill (the
// same with Options.ZeroFill, which the README recommends for Raft), raftwal (github.com/hashicorp/raft-wal),
// boltdb (github.com/hashicorp/raft-boltdb/v2), tidwall
// (github.com/tidwall/wal) and etcdwal (go.etcd.io/etcd/server/v3
// storage/wal). Where a peer has no native form of a workload the closest
// equivalent runs and the result's Note says so:
//
//   - W2: only mmaplog (either driver) has an asynchronous flush with a callback; the peers
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
//     appends; its heap therefore holds every entry, and it has no first
//     Get to time.
//   - W6: etcdwal purges whole 64 MB segment files (ReleaseLockTo, then the
//     unlocked files are removed, as etcd's purge loop does); tidwall's
//     TruncateFront rewrites the first remaining segment.
//   - W8: only mmaplog has group commit in the store; the peers run direct
//     and behind a leader loop (see W8 above).
//
// # Usage
//
//	cfg := bench.Config{Dir: dir, Duration: 3 * time.Second, Writers: []int{1, 16}}
//	rep, err := bench.Run(cfg, []string{"mmaplog", "raftwal"}, []string{"W1", "W4", "W8"})
//	if err != nil { ... }
//	bench.WriteTable(os.Stdout, rep)
//
// # Concurrency
//
// Run executes one (store, workload) pair at a time, each in its own fresh
// subdirectory of Config.Dir, removed afterwards; a Store is used by the
// workload's writer and, in W2 and W6, by one more goroutine (the flush
// callbacks, the purger). In W8 the writers share the Store: their
// appends are serialized by the harness's lock, and mmaplog's flush
// callbacks and waits run concurrently. Report and Result are plain
// values.
package bench
