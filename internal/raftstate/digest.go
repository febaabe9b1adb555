package raftstate

import (
	"encoding/binary"
	"fmt"
	"hash/crc64"

	"github.com/raftlog/raftlog/internal/checksum"
)

// Digest summarizes the entries First..Last of a log so that two replicas
// can compare what they hold without shipping it: two logs holding the same
// entries (terms, indexes and payload bytes) over the same range have equal
// Digests, however their files are laid out. It is defined over entries,
// not bytes, so segment boundaries, record positions, durable watermarks
// and chain values (which differ between nodes) do not enter it.
//
// Sum is the CRC-64 (ECMA polynomial, as hash/crc64) of the concatenation,
// for each entry in index order, of its term (u64), its index (u64) and the
// CRC-32C of its payload (u32), all little-endian: 20 bytes per entry. It
// detects accidental divergence (a flipped bit, a lost or reordered entry),
// not an adversary.
//
// The zero Digest covers no entry. Digests are comparable with ==.
type Digest struct {
	First, Last uint64 // the index range covered; both 0 when Entries is 0
	Entries     uint64 // Last-First+1, or 0
	Sum         uint64
}

// digestTable is the CRC-64 table of Digest.Sum; part of its definition.
var digestTable = crc64.MakeTable(crc64.ECMA)

// Add extends d with the entry id whose payload is payload. Entries must be
// added in index order, each at d.Last+1 (the first at any index).
func (d *Digest) Add(id LogID, payload []byte) {
	d.AddCRC(id, checksum.Sum(payload))
}

// AddCRC is Add for a payload whose CRC-32C is payloadCRC.
func (d *Digest) AddCRC(id LogID, payloadCRC uint32) {
	var b [20]byte
	binary.LittleEndian.PutUint64(b[0:], id.Term)
	binary.LittleEndian.PutUint64(b[8:], id.Index)
	binary.LittleEndian.PutUint32(b[16:], payloadCRC)
	d.Sum = crc64.Update(d.Sum, digestTable, b[:])
	if d.Entries == 0 {
		d.First = id.Index
	}
	d.Last = id.Index
	d.Entries++
}

// String formats d as "first..last (n entries) sum" with the sum in 16
// hex digits, or "no entries".
func (d Digest) String() string {
	switch d.Entries {
	case 0:
		return "no entries"
	case 1:
		return fmt.Sprintf("%d..%d (1 entry) %016x", d.First, d.Last, d.Sum)
	}
	return fmt.Sprintf("%d..%d (%d entries) %016x", d.First, d.Last, d.Entries, d.Sum)
}
