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
	HeaderSize = 64
	SlotSize   = 4
	// BytesPerSlot: a segment of n bytes gets n/BytesPerSlot slots; a
	// segment whose slots run out is rotated even if it has room left.
	BytesPerSlot = 64
	flagComplete = 1
)

var magic = [8]byte{'R', 'L', 'O', 'G', 'I', 'D', 'X', 1}

var le = binary.LittleEndian

// Header is the decoded index header.
type Header struct {
	SegmentID uint64
	Base      uint64 // log index of slot 0; 0 when no entry was written
	Count     uint64 // slots in use at ValidEnd
	ValidEnd  int64  // segment offset up to which slots and StateOff are complete
	StateOff  int64  // offset of the last State record before ValidEnd
	Complete  bool   // the segment was durable up to ValidEnd when this was written
}

// Errors reading an index file.
var (
	ErrBadHeader = errors.New("index: bad magic or checksum")
	ErrShort     = errors.New("index: file too short")
)

// SlotsFor is the slot capacity of the index of a segment of segSize bytes.
func SlotsFor(segSize int64) int { return int(max(1, segSize/BytesPerSlot)) }

// FileSize is the size of an index file with n slots, rounded to 4 KiB.
func FileSize(n int) int64 { return (HeaderSize + int64(n)*SlotSize + 4095) &^ 4095 }

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
	return mapFile(f, path)
}

// Open maps an existing index file. The header is not checked: use Header.
func Open(fs vfs.FS, path string) (*File, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", path, err)
	}
	return mapFile(f, path)
}

func mapFile(f vfs.File, path string) (*File, error) {
	b, err := f.Map()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("index: map %s: %w", path, err)
	}
	return &File{f: f, b: b, path: path}, nil
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
func (x *File) Header() (Header, error) {
	if len(x.b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %s", ErrShort, x.path)
	}
	b := x.b[:HeaderSize]
	if [8]byte(b[:8]) != magic || le.Uint32(b[56:]) != checksum.Sum(b[:56]) {
		return Header{}, fmt.Errorf("%w: %s", ErrBadHeader, x.path)
	}
	return Header{
		SegmentID: le.Uint64(b[8:]),
		Base:      le.Uint64(b[16:]),
		Count:     le.Uint64(b[24:]),
		ValidEnd:  int64(le.Uint64(b[32:])),
		StateOff:  int64(le.Uint64(b[40:])),
		Complete:  le.Uint32(b[48:])&flagComplete != 0,
	}, nil
}

// SetHeader writes h into the mapping (durable after Sync).
func (x *File) SetHeader(h Header) {
	b := x.b[:HeaderSize]
	clear(b)
	copy(b, magic[:])
	le.PutUint64(b[8:], h.SegmentID)
	le.PutUint64(b[16:], h.Base)
	le.PutUint64(b[24:], h.Count)
	le.PutUint64(b[32:], uint64(h.ValidEnd))
	le.PutUint64(b[40:], uint64(h.StateOff))
	if h.Complete {
		le.PutUint32(b[48:], flagComplete)
	}
	le.PutUint32(b[56:], checksum.Sum(b[:56]))
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

// Close unmaps and closes the file.
func (x *File) Close() error { return x.f.Close() }
