package index

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/raftlog/raftlog/internal/checksum"
	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/vfs"
)

// Frozen layout constants.
const (
	HeaderSize = 128
	SlotSize   = 4
	// BytesPerSlot: a segment of n bytes gets n/BytesPerSlot slots; a
	// segment whose slots run out is rotated even if it has room left.
	BytesPerSlot = 64
	flagComplete = 1
	crcOff       = HeaderSize - 4
)

var magic = [8]byte{'R', 'L', 'O', 'G', 'I', 'D', 'X', format.Version}

var le = binary.LittleEndian

// Header is the decoded index header.
type Header struct {
	SegmentID uint64
	LogUID    uint64 // the log's identity (the segment header's)
	Base      uint64 // log index of slot 0; 0 when no entry was written
	Count     uint64 // slots in use at ValidEnd
	ValidEnd  int64  // segment offset up to which slots and StateOff are complete
	StateOff  int64  // offset of the last State record before ValidEnd
	EndCRC    uint32 // chain value at ValidEnd: the CRC of the record ending there
	// Complete: the segment was durable up to ValidEnd when this header
	// was written, and the slots [0, Count) are those of SlotsCRC.
	Complete bool
	// Vouched is the global position the log was proven durable to when
	// the header was sealed complete (0 when not complete): for a segment
	// sealed at rotation it lies in the next segment, so that a missing or
	// emptied successor is corruption, never a torn tail.
	Vouched uint64
	// SlotsCRC is the CRC-32C of slots [0, Count) when Complete, set by
	// SetHeader: the index proves its own slots, whatever sectors of a
	// seal reached the disk.
	SlotsCRC uint32
}

// Errors reading an index file.
var (
	ErrBadHeader = errors.New("index: bad magic or checksum")
	ErrShort     = errors.New("index: file too short")
	ErrVersion   = fmt.Errorf("index: %w", format.ErrVersion)
)

// SlotsFor is the slot capacity of the index of a segment of segSize bytes.
func SlotsFor(segSize int64) int { return int(max(1, segSize/BytesPerSlot)) }

// FileSize is the size of an index file with n slots, rounded to 4 KiB.
func FileSize(n int) int64 { return format.PageAlign(HeaderSize + int64(n)*SlotSize) }

// File is one mapped index file.
type File struct {
	f    vfs.File
	b    []byte
	path string
}

// Create creates and maps a new index file for slots slots.
func Create(fs vfs.FS, path string, slots int) (*File, error) {
	f, err := fs.Create(path, FileSize(slots))
	if err != nil {
		return nil, fmt.Errorf("index: create %s: %w", path, err)
	}
	if err := vfs.SyncInode(f); err != nil { // size and extents: see vfs.InodeSyncer
		_ = f.Close()
		_ = fs.Remove(path)
		return nil, fmt.Errorf("index: create %s: %w", path, err)
	}
	return mapFile(f, path)
}

// Reuse zeroes the existing index file path, made for slots slots, in
// place (vfs.FS.Reuse), makes the zeros durable and maps it: a new, empty
// index without a file creation or removal.
func Reuse(fs vfs.FS, path string, slots int) (*File, error) {
	f, err := fs.Reuse(path, FileSize(slots))
	if err != nil {
		return nil, fmt.Errorf("index: reuse %s: %w", path, err)
	}
	if err := vfs.SyncInode(f); err != nil { // an extent change: see vfs.InodeSyncer
		_ = f.Close()
		return nil, fmt.Errorf("index: reuse %s: %w", path, err)
	}
	return mapFile(f, path)
}

// Open maps an existing index file and starts reading its header page
// (without waiting: a caller opening many indexes has their header reads
// in flight together). The header is not checked: use Header. The mapping
// is read without read-ahead (lookups are random, and a cold header read
// should cost a page, not megabytes).
func Open(fs vfs.FS, path string) (*File, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", path, err)
	}
	x, err := mapFile(f, path)
	if err != nil {
		return nil, err
	}
	if pf, ok := f.(vfs.Prefaulter); ok {
		_ = pf.Advise(true)
	}
	if r, ok := f.(vfs.ReadAheader); ok {
		_ = r.WillNeed(0, HeaderSize)
	}
	return x, nil
}

func mapFile(f vfs.File, path string) (*File, error) {
	b, err := f.Map()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("index: map %s: %w", path, err)
	}
	return &File{f: f, b: b, path: path}, nil
}

// Renamed records the file's new path after it was renamed.
func (x *File) Renamed(path string) {
	x.path = path
	if r, ok := x.f.(vfs.Renamer); ok {
		r.Renamed(path)
	}
}

// Path is the file's path.
func (x *File) Path() string { return x.path }

// Slots is the number of slots the file holds.
func (x *File) Slots() int {
	if len(x.b) < HeaderSize {
		return 0
	}
	return (len(x.b) - HeaderSize) / SlotSize
}

// Header decodes and checks the header.
func (x *File) Header() (Header, error) { return DecodeHeader(x.b, x.path) }

// DecodeHeader decodes and checks the index header at the start of b, the
// first bytes of the index file at path (named in errors).
func DecodeHeader(b []byte, path string) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %s", ErrShort, path)
	}
	b = b[:HeaderSize]
	if [7]byte(b[:7]) != [7]byte(magic[:7]) || le.Uint32(b[crcOff:]) != checksum.Sum(b[:crcOff]) {
		return Header{}, fmt.Errorf("%w: %s", ErrBadHeader, path)
	}
	if b[7] != magic[7] {
		return Header{}, fmt.Errorf("%w: %s is version %d, this build reads version %d", ErrVersion, path, b[7], magic[7])
	}
	return Header{
		SegmentID: le.Uint64(b[8:]),
		Base:      le.Uint64(b[16:]),
		Count:     le.Uint64(b[24:]),
		ValidEnd:  int64(le.Uint64(b[32:])),
		StateOff:  int64(le.Uint64(b[40:])),
		Complete:  le.Uint32(b[48:])&flagComplete != 0,
		EndCRC:    le.Uint32(b[52:]),
		LogUID:    le.Uint64(b[56:]),
		Vouched:   le.Uint64(b[64:]),
		SlotsCRC:  le.Uint32(b[72:]),
	}, nil
}

// SetHeader writes h into the mapping (durable after Sync). When h is
// complete it sets h.SlotsCRC from slots [0, h.Count), which must be
// written first.
func (x *File) SetHeader(h Header) {
	b := x.b[:HeaderSize]
	clear(b)
	copy(b, magic[:])
	le.PutUint64(b[8:], h.SegmentID)
	le.PutUint64(b[16:], h.Base)
	le.PutUint64(b[24:], h.Count)
	le.PutUint64(b[32:], uint64(h.ValidEnd))
	le.PutUint64(b[40:], uint64(h.StateOff))
	le.PutUint32(b[52:], h.EndCRC)
	le.PutUint64(b[56:], h.LogUID)
	if h.Complete {
		le.PutUint32(b[48:], flagComplete)
		le.PutUint64(b[64:], h.Vouched)
		le.PutUint32(b[72:], x.slotsCRC(h.Count))
	}
	le.PutUint32(b[crcOff:], checksum.Sum(b[:crcOff]))
}

// SlotsProven reports whether slots [0, h.Count) are the ones h was sealed
// with (h from Header, complete). A false answer means some of them never
// reached the disk, or reached it from an older version of the file: the
// index must be rebuilt from its segment.
func (x *File) SlotsProven(h Header) bool {
	return h.Complete && h.Count <= uint64(x.Slots()) && x.slotsCRC(h.Count) == h.SlotsCRC
}

func (x *File) slotsCRC(n uint64) uint32 {
	if r, ok := x.f.(vfs.ReadAheader); ok {
		// Read whole: ask for the range at once rather than a page per
		// fault (the mapping has no read-ahead; see Open).
		_ = r.WillNeed(HeaderSize, int64(n)*SlotSize)
	}
	return checksum.Sum(x.b[HeaderSize : HeaderSize+int(n)*SlotSize])
}

// Set stores the record offset off (a multiple of 8) in slot i.
func (x *File) Set(i int, off int64) {
	le.PutUint32(x.b[HeaderSize+i*SlotSize:], uint32(off/format.Align))
}

// Slot returns the record offset stored in slot i (0 = unset).
func (x *File) Slot(i int) int64 {
	return int64(le.Uint32(x.b[HeaderSize+i*SlotSize:])) * format.Align
}

// Sync makes the header and slots [0, n) durable.
func (x *File) Sync(n int) error {
	return x.f.Msync(0, HeaderSize+int64(n)*SlotSize)
}

// SyncHeader makes the header durable.
func (x *File) SyncHeader() error { return x.f.Msync(0, HeaderSize) }

// DropCache drops the cached pages of bytes [off, off+n) of the file,
// mapping included, when the file system can (see vfs.CacheDropper), so
// that the next read of them comes from the disk. The caller keeps the
// File from being closed during the call.
func (x *File) DropCache(off, n int64) error {
	if d, ok := x.f.(vfs.CacheDropper); ok {
		return d.DropCache(off, n)
	}
	return nil
}

// Close unmaps and closes the file.
func (x *File) Close() error { return x.f.Close() }
