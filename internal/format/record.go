package format

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/raftlog/raftlog/internal/checksum"
)

var le = binary.LittleEndian

// SegmentHeader is the decoded 64-byte segment header.
type SegmentHeader struct {
	ID       uint64
	StartPos uint64
	PrevEnd  uint64
	FileSize uint64
	// LogUID is the log's identity, chosen at random when the log was
	// created and written into every segment and index header: a file
	// from another log never passes for one of this log's.
	LogUID uint64
	// PrevCRC is the chain value at PrevEnd in the previous segment (the
	// CRC of its last record; 0 for segment 1): the record chain runs
	// across segment boundaries, so a segment from elsewhere does not
	// continue its predecessor.
	PrevCRC uint32
}

// PutSegmentHeader encodes h into b[:SegmentHeaderSize] and returns its CRC,
// which seeds the record chain.
func PutSegmentHeader(b []byte, h SegmentHeader) uint32 {
	b = b[:SegmentHeaderSize]
	clear(b)
	copy(b, SegmentMagic[:])
	le.PutUint32(b[8:], Version)
	le.PutUint64(b[16:], h.ID)
	le.PutUint64(b[24:], h.StartPos)
	le.PutUint64(b[32:], h.PrevEnd)
	le.PutUint64(b[40:], h.FileSize)
	le.PutUint64(b[48:], h.LogUID)
	le.PutUint32(b[56:], h.PrevCRC)
	crc := checksum.Sum(b[:60])
	le.PutUint32(b[60:], crc)
	return crc
}

// Header decoding errors.
var (
	ErrShortHeader = errors.New("segment header: file shorter than the header")
	ErrZeroHeader  = errors.New("segment header: all zeros (never written)")
	ErrBadHeader   = errors.New("segment header: bad magic or checksum")
	// ErrVersion: a well-formed header of another format version. It is
	// never a torn write: the file was written by another build.
	ErrVersion = errors.New("unsupported format version")
)

// ReadSegmentHeader decodes and checks the header at the start of b. It
// returns the header and its CRC (the chain seed for the first record).
func ReadSegmentHeader(b []byte) (SegmentHeader, uint32, error) {
	if len(b) < SegmentHeaderSize {
		return SegmentHeader{}, 0, ErrShortHeader
	}
	b = b[:SegmentHeaderSize]
	if isZero(b) {
		return SegmentHeader{}, 0, ErrZeroHeader
	}
	crc := checksum.Sum(b[:60])
	if [7]byte(b[:7]) != [7]byte(SegmentMagic[:7]) || le.Uint32(b[60:]) != crc {
		return SegmentHeader{}, 0, ErrBadHeader
	}
	if v := le.Uint32(b[8:]); b[7] != SegmentMagic[7] || v != Version {
		return SegmentHeader{}, 0, fmt.Errorf("%w: segment format version %d, this build reads version %d", ErrVersion, v, Version)
	}
	return SegmentHeader{
		ID:       le.Uint64(b[16:]),
		StartPos: le.Uint64(b[24:]),
		PrevEnd:  le.Uint64(b[32:]),
		FileSize: le.Uint64(b[40:]),
		LogUID:   le.Uint64(b[48:]),
		PrevCRC:  le.Uint32(b[56:]),
	}, crc, nil
}

// Record is one decoded record. Body aliases the segment bytes.
type Record struct {
	Type    Type
	Durable uint64
	Prev    uint32
	CRC     uint32
	Body    []byte
	Size    int64 // aligned size on disk
}

// PutFrame writes the frame for a record whose body is already in place at
// b[FrameSize:FrameSize+n], zeroes the padding, computes the CRC and
// returns it. b must hold the whole aligned record (RecordSize(n) bytes).
func PutFrame(b []byte, t Type, n int, durable uint64, prev uint32) uint32 {
	f := (*[FrameSize]byte)(b)
	body := b[FrameSize : FrameSize+n]
	if pad := b[FrameSize+n:]; len(pad) != 0 {
		clear(pad)
	}
	le.PutUint64(f[:8], uint64(t)|uint64(n)<<32) // type, zero reserved bytes, length
	le.PutUint64(f[8:16], durable)
	le.PutUint32(f[16:20], prev)
	crc := checksum.Update(checksum.Sum(f[:20]), body)
	le.PutUint32(f[20:], crc)
	return crc
}

// Record decoding outcomes. ErrUnwritten means the frame is all zeros; the
// others mean bytes are there but do not form a valid record.
var (
	ErrUnwritten   = errors.New("record: unwritten (zero frame)")
	ErrTruncated   = errors.New("record: frame or body runs past the end")
	ErrBadType     = errors.New("record: unknown type or nonzero reserved bytes")
	ErrBadChecksum = errors.New("record: checksum mismatch")
	ErrBadPadding  = errors.New("record: nonzero padding")
)

// ReadRecord decodes the record at b[off:] without allocating. It checks
// the frame, the length against len(b) and the CRC; it does not check the
// chain (compare r.Prev with the previous record's CRC).
func ReadRecord(b []byte, off int64) (Record, error) {
	if off < 0 || off+FrameSize > int64(len(b)) {
		if off >= 0 && off <= int64(len(b)) && isZero(b[off:]) {
			return Record{}, ErrUnwritten
		}
		return Record{}, ErrTruncated
	}
	f := b[off : off+FrameSize]
	t := Type(f[0])
	if t == TypeUnwritten && isZero(f) {
		return Record{}, ErrUnwritten
	}
	if !t.Valid() || f[1]|f[2]|f[3] != 0 {
		return Record{}, ErrBadType
	}
	n := int64(le.Uint32(f[4:]))
	size := alignUp(FrameSize + n)
	if off+size > int64(len(b)) {
		return Record{}, ErrTruncated
	}
	body := b[off+FrameSize : off+FrameSize+n]
	crc := checksum.Update(checksum.Sum(f[:20]), body)
	if crc != le.Uint32(f[20:]) {
		return Record{}, ErrBadChecksum
	}
	if !isZero(b[off+FrameSize+n : off+size]) {
		return Record{}, ErrBadPadding
	}
	return Record{Type: t, Durable: le.Uint64(f[8:]), Prev: le.Uint32(f[16:]), CRC: crc, Body: body, Size: size}, nil
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if le.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// IsZero reports whether every byte of b is zero.
func IsZero(b []byte) bool { return isZero(b) }
