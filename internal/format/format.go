// Package format is raftlog's on-disk format: the segment header, the
// record frame and the record bodies. Everything here is pure (no I/O) and
// safe for concurrent use. docs/FORMAT.md describes the same bytes for
// readers of the disk; mmaplog/golden_test.go pins them with golden bytes.
//
// All integers are little-endian. Every constant below is part of the
// on-disk format and must never change without a new Version.
//
// Segment file (NNNNNNNNNNNNNNNNNNNN.seg, preallocated, zero-filled):
//
//	0        64                                               size
//	+--------+----------------+--------+-----+--------+---------+
//	| header | State snapshot | record | ... | record | 0 0 0 0 |
//	+--------+----------------+--------+-----+--------+---------+
//
// Segment header (64 bytes):
//
//	 0  [8]  magic "RLOGSEG\x02" (the last byte is the version)
//	 8  u32  version (2)
//	12  u32  reserved (0)
//	16  u64  segment ID (the file's number; IDs are consecutive)
//	24  u64  start position: global position of byte 0 of this file
//	         (previous segment's start position + its file size)
//	32  u64  prevEnd: end offset of the previous segment's records when this
//	         segment was created (0 for the first segment)
//	40  u64  file size
//	48  u64  log UID: the log's identity, random, chosen at creation
//	56  u32  prevCRC: chain value at prevEnd (CRC of the previous
//	         segment's last record; 0 for the first segment)
//	60  u32  CRC-32C of bytes [0, 60); the chain seed of the first record
//
// Record (8-byte aligned; 24-byte frame, then the body, then zero padding):
//
//	 0  u8   type (0 = unwritten: a zero-filled tail reads as "no record")
//	 1  [3]  reserved (0)
//	 4  u32  body length
//	 8  u64  durable: global position up to which the log was proven durable
//	         (by a completed flush) when this record was written
//	16  u32  prev: CRC of the previous record in this segment (the header
//	         CRC for the first record, which covers prevCRC: the chain runs
//	         across segments), so that stale bytes beyond a cut, or a file
//	         from elsewhere, can never be read as this log's records
//	20  u32  CRC-32C of bytes [0, 20) followed by the body
//	24  ...  body
//
// A length never tears: the frame starts 8-byte aligned, so its first
// eight bytes lie in one 512-byte sector.
package format

import "strconv"

// Frozen sizes and identifiers; part of the on-disk format.
const (
	// Version 2 added the log UID and the cross-segment chain to the
	// segment header and a slot checksum to the index; version 1 files
	// are refused (ErrVersion).
	Version = 2

	SegmentHeaderSize = 64
	FrameSize         = 24
	Align             = 8

	// MaxBody is the largest record body: the length field is a u32 and a
	// record must fit in a segment whose size is an int64 of whole pages.
	MaxBody = 1<<32 - 1 - FrameSize - Align
)

// SegmentMagic opens every segment file.
var SegmentMagic = [8]byte{'R', 'L', 'O', 'G', 'S', 'E', 'G', Version}

// Type is a record type. The numbers are part of the on-disk format.
type Type uint8

// Record types.
const (
	TypeUnwritten Type = 0 // zero bytes: nothing was written here
	TypeState     Type = 1 // full State snapshot (segment start, clean close)
	TypeEntry     Type = 2 // one log entry: term, index, payload
	TypeVote      Type = 3 // SaveVote
	TypeCommit    Type = 4 // Commit
	TypeTruncate  Type = 5 // Truncate: first removed index and the new Last
	TypePurge     Type = 6 // Purge: the new Purged LogID
	TypeUserData  Type = 7 // SaveUserData
	typeMax            = TypeUserData
)

var typeNames = [...]string{"Unwritten", "State", "Entry", "Vote", "Commit", "Truncate", "Purge", "UserData"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is a known, written record type.
func (t Type) Valid() bool { return t > TypeUnwritten && t <= typeMax }

// RecordSize is the aligned size on disk of a record with a body of n bytes.
func RecordSize(n int) int64 { return alignUp(int64(FrameSize + n)) }

func alignUp(n int64) int64 { return AlignUp(n) }

// AlignUp rounds n up to a multiple of Align (where records start).
func AlignUp(n int64) int64 { return (n + Align - 1) &^ (Align - 1) }

// PageSize is the unit in which segment and index files are sized.
const PageSize = 4096

// PageAlign rounds n up to a whole number of pages.
func PageAlign(n int64) int64 { return (n + PageSize - 1) &^ (PageSize - 1) }
