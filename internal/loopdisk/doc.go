// Package loopdisk gives tests a real, private ext4 file system on a loop
// device, and three faults no simulator can fake: a full disk, failed
// write-back (EIO/ENOSPC from msync and fsync, with the page cache keeping
// the failed pages as clean), and power loss. It is used only by tests.
//
//	d := loopdisk.Mount(t, loopdisk.Options{Size: 32 << 20, Tmpfs: true})
//	dir := filepath.Join(d.Dir, "log")
//	... write and sync ...
//	d.FailWrites(files...) // write-back of their unwritten blocks now fails
//	... msync fails; reopen ...
//	d.Heal()               // the backing store has room again
//	d.PowerLoss()          // d.Dir now holds only what reached the disk
//
// # How it works
//
// Mount creates an image file, formats it (mkfs.ext4, 4 KiB blocks, no
// reserved blocks), attaches it to a free loop device (losetup) and mounts
// it at a fresh directory (Disk.Dir). Everything is undone by the test's
// cleanup. Without root, losetup, mkfs.ext4 or a free loop device, or when
// the mount fails, the test is skipped with the reason; set
// RAFTLOG_REQUIRE_LOOPDISK=1 to make that a failure (.ci/run does not: on a
// machine without root the loop-disk tests, F10 among them, skip).
//
// The loop device writes straight into the image file, with no cache of
// its own: the image file's bytes are the disk. A write the file system
// has not yet submitted (a dirty page) is not in the image; a write the
// loop device has completed is.
//
// Full disk: FillTo sizes a filler file so that the file system has a
// given number of free bytes left.
//
// Write-back failure (Options.Tmpfs): the image lives on a private tmpfs
// sized to the image, and the whole image is allocated (fallocate) after
// formatting, so that every block the file system owns has memory behind
// it. FailWrites then punches holes in the image under every block of the
// given files (found with FIEMAP), keeping their contents aside, and fills
// the tmpfs. From then on a write of those blocks fails in the loop device
// (the tmpfs has no page for the hole); ext4 reports EIO/ENOSPC to
// msync/fsync, marks the pages clean and keeps their bytes in the page
// cache: the Linux fsyncgate behaviour. All other blocks (metadata, the
// journal, other files) keep working, so the file system stays mounted
// read-write. Heal puts the kept contents back (a failed write leaves the
// old bytes on a real disk) and deletes the tmpfs filler: later writes
// succeed again, while the pages that failed stay clean in the cache and
// never reach the disk unless written again. FailWrites covers whole
// files because the loop driver reports a write that starts in a block
// with memory behind it and runs into a hole as a success, dropping its
// tail (seen on Linux 6.18): a failing range must start where a write
// into it can start.
//
// Power loss: PowerLoss copies the image while no write is in flight
// (/sys/block/loopN/stat: the completed-write and discard counters are the
// same before and after the copy and nothing is in flight at either end;
// otherwise it copies again), which is exactly what a power cut at that
// instant leaves on a disk without a volatile cache: every completed write
// and nothing else (dirty pages, and clean pages whose write-back failed,
// are lost). It then lazily unmounts the live file system (its remaining
// write-back goes to the old image, which is discarded, so a process may
// keep files open on it) and mounts the copy, on a new loop device, at the
// same Disk.Dir; ext4 replays its journal as after a crash (with
// Options.NoJournal there is none: what reached the disk is all there is). No
// device-mapper target (dm-flakey, dm-error) is needed, which the kernels
// of some CI machines lack.
//
// Concurrency: a Disk's methods must be called from the test goroutine
// (they may call tb.Fatal); Dir may be used by any goroutine.
package loopdisk
