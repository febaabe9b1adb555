// Package crashfs is a power-loss simulator behind raftlog's file-system
// seam (internal/vfs). It keeps, per file, the bytes the process sees (the
// page cache: the []byte returned by Map is that Go slice, and WriteAt
// updates it) and the bytes that are durable (what survives power loss),
// and, per directory, the names the process sees and the names that are
// durable.
//
//	fs := crashfs.New()
//	opts := vfs.WithFS(mmaplog.Options{}, fs).(mmaplog.Options)
//	l, _ := mmaplog.Open("/log", opts)
//	... writes, flushes ...
//	img := fs.Crash(rng) // a new FS holding one possible post-power-loss disk
//
// Durability model:
//   - File.Msync(off, n) copies [off rounded down to a page, off+n) from the
//     process view to the durable bytes; File.Datasync copies the whole file.
//     Either also makes the file's size durable.
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
// What it does not model: real kernel writeback, SIGBUS, lying disks,
// directories' own durability (MkdirAll), cross-directory renames.
//
// Concurrency: every method is safe for concurrent use. Reads and writes
// of a mapping are the caller's business, as with a real mapping;
// Snapshot reads mappings without the race detector's instrumentation,
// because a real power loss also catches writes half done.
package crashfs
