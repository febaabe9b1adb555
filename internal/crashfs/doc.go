// Package crashfs is a power-loss simulator behind raftlog's file-system
// seam (internal/vfs). It keeps, per file, the bytes the process sees (the
// page cache: the []byte returned by Map is that Go slice, and WriteAt
// updates it) and the bytes that are durable (what survives power loss),
// and, per directory, the names the process sees and the names that are
// durable.
//
//	fs := crashfs.New()
//	opts := mmaplog.Options{FS: fs}
//	l, _ := mmaplog.Open("/log", opts)
//	... writes, flushes ...
//	img := fs.Crash(rng) // a new FS holding one possible post-power-loss disk
//
// Durability model:
//   - File.Msync(off, n) copies [off rounded down to a page, off+n) from the
//     process view to the durable bytes; File.Datasync copies the whole file.
//     Either also makes the file's size durable.
//   - FS.Reuse zeroes a file as fallocate ZERO_RANGE does, an extent change
//     that only File.SyncInode makes durable (vfs.InodeSyncer; ext4 without
//     a journal): until then Msync and Datasync leave the old bytes of every
//     page that still holds Reuse's zeros.
//   - FS.SyncDir(dir) makes every pending create, rename and remove in dir
//     durable. MkdirAll is durable at once.
//   - A crash image (Snapshot.Crash or Snapshot.Image with a Plan) treats
//     every unsynced 4 KiB page independently: kept, dropped (the durable
//     version), torn (a random subset of its 512-byte sectors kept), zeroed
//     or garbled. Zeroing and garbling touch only the bytes that differ from
//     the durable version (powersafe overwrite: rewriting a page never
//     damages its synced bytes). Each pending metadata change is kept or
//     reverted independently (a create or rename not yet dir-synced may
//     vanish, a removed file may come back), and each unsynced file size is
//     kept or reverted to zero.
//
// Faults (FS.Inject) make the k-th call of an operation fail with an error
// such as EIO or ENOSPC, once or for a run of calls. Hooks (FS.SetHook) see
// every operation after it completed, on the goroutine that made it; a hook
// may call Snapshot to capture the state at exactly that point.
//
// Faults beyond a failing call:
//   - A power loss in the middle of a sync: a sync hook (FS.SetSyncHook)
//     runs at the start of every Msync and Datasync, and SnapshotDuring
//     captures the state there; its plans let every 512-byte sector of
//     that sync's dirty pages reach the disk or not on its own (the sync
//     never returns: nothing after the snapshot counts).
//   - A full disk (FS.SetCapacity): every allocation (Create's fallocate,
//     growing a file by WriteAt or Resize, creating even an empty file)
//     fails with a *fs.PathError wrapping syscall.ENOSPC and changes
//     nothing; space comes back when a removed file's last handle closes.
//   - A failed write-back (Fault.Writeback, "fsyncgate"): the sync fails,
//     and its dirty pages are marked clean without reaching the disk; a
//     later sync succeeds without writing them, reads and reopens in the
//     same boot see them, a power loss (and Restart, then a power loss)
//     loses them, and Evict of an unmapped file drops them. A write-back
//     that failed after StartWriteback returned fails the next sync of
//     the file, once, in this process or, after a kill (Restart), in the
//     next: Linux reports an error no one saw to the first fsync through
//     a file opened after it.
//   - Early write-back (FS.Writeback): dirty pages written back on the
//     kernel's schedule, so that a crash can keep an intermediate version
//     of a page, older than the process view and newer than the last sync.
//   - Files from elsewhere: WriteFile, RemoveFile and Mutate change an
//     image directly (a file copied from another log, moved, deleted).
//
// What it does not model: SIGBUS, lying disks, directories' own
// durability (MkdirAll), cross-directory renames, writes through the
// mapping that store the bytes already there (they do not dirty a page
// whose write-back failed; WriteAt does), and the old size of a file grown
// or shrunk but not synced (a crash may leave it empty).
//
// Concurrency: every method is safe for concurrent use. Reads and writes
// of a mapping are the caller's business, as with a real mapping;
// Snapshot reads mappings without the race detector's instrumentation,
// because a real power loss also catches writes half done.
package crashfs
