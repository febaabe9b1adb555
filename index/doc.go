// Package index is raftlog's offset index: one preallocated, memory-mapped
// file per segment that maps a log index to the offset of its record in the
// segment, so that a read is one load from memory and no system call.
//
// The index is an accelerator, never the source of truth: the segment's
// records are. Every lookup is checked against the record it points to, and
// an index that is missing, damaged or not marked complete is rebuilt from
// its segment (package recovery does that).
//
// File layout (all little-endian; the constants are part of the on-disk
// format):
//
//	  0  [8]  magic "RLOGIDX\x02" (the last byte is the format version)
//	  8  u64  segment ID
//	 16  u64  base: log index of slot 0 (0 = no entry yet)
//	 24  u64  count: slots in use at ValidEnd
//	 32  u64  ValidEnd: segment offset up to which the slots and StateOff are complete
//	 40  u64  StateOff: segment offset of the last State record before ValidEnd
//	 48  u32  flags: bit 0 = complete (written only after the segment's bytes
//	          up to ValidEnd, and everything before Vouched, were made durable)
//	 52  u32  EndCRC: chain value at ValidEnd (CRC of the record ending there)
//	 56  u64  log UID (the segment header's)
//	 64  u64  Vouched: global position proven durable when sealed (0 unless complete)
//	 72  u32  SlotsCRC: CRC-32C of slots [0, count) (0 unless complete)
//	 76  [48] reserved (0)
//	124  u32  CRC-32C of bytes [0, 124)
//	128  u32  slot 0: segment offset of the record of index base, divided by 8
//	132  u32  slot 1 ...
//
// The header fits in one 512-byte sector, so it never tears; the slots can
// (a seal's msync may persist any subset of their sectors), which is why a
// complete header carries their checksum and a mismatch means "rebuild".
//
// Concurrency: a File is written by one goroutine (the log's writer or
// recovery); Slot may be read concurrently for slots the writer has
// published (the caller's lock orders the two).
package index
