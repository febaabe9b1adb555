// Package checksum is the one checksum raftlog writes: CRC-32C (Castagnoli)
// from github.com/klauspost/crc32, chosen over IEEE by measurement (see
// checksum_test.go: BenchmarkCRC). Safe for concurrent use.
package checksum

import "github.com/klauspost/crc32"

// table is the Castagnoli table; part of the on-disk format, never change it.
var table = crc32.MakeTable(crc32.Castagnoli)

// Update returns the CRC-32C of p continuing from crc.
func Update(crc uint32, p []byte) uint32 { return crc32.Update(crc, table, p) }

// Sum returns the CRC-32C of p.
func Sum(p []byte) uint32 { return crc32.Update(0, table, p) }
