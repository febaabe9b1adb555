package raftstate

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"testing"
)

// The digest is the documented function (docs/FORMAT.md, "Entry
// digest"), computed here independently with the standard library.
func TestDigestDefinition(t *testing.T) {
	var d Digest
	var cat []byte
	for i := uint64(7); i <= 40; i++ {
		id := LogID{Term: 1 + i/10, Index: i}
		payload := make([]byte, i*3)
		for k := range payload {
			payload[k] = byte(i + uint64(k))
		}
		d.Add(id, payload)
		cat = binary.LittleEndian.AppendUint64(cat, id.Term)
		cat = binary.LittleEndian.AppendUint64(cat, id.Index)
		cat = binary.LittleEndian.AppendUint32(cat, crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
	}
	want := Digest{First: 7, Last: 40, Entries: 34, Sum: crc64.Checksum(cat, crc64.MakeTable(crc64.ECMA))}
	if d != want {
		t.Fatalf("Digest %+v, want %+v", d, want)
	}
	if got := (Digest{}).String(); got != "no entries" {
		t.Errorf("zero Digest: %q", got)
	}
	var one Digest
	one.Add(LogID{Term: 1, Index: 1}, nil)
	if got, want := one.String(), fmt.Sprintf("1..1 (1 entry) %016x", one.Sum); got != want || one.Sum == 0 {
		t.Errorf("one entry: %q, want %q", got, want)
	}
}
