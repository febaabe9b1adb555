package hashiraft

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/hashicorp/raft"

	"github.com/raftlog/raftlog/mmaplog"
)

// Digest returns the digest of the raft logs [from, to], for comparing
// replicas: an mmaplog.Digest (term, index and a CRC-32C per log, combined
// into a CRC-64 in index order) whose per-log CRC covers what raft
// replicates, decoded: the type, the extensions, AppendedAt as Unix
// nanoseconds (its time zone left out) and the data, a nil slice counting
// as an empty one.
//
// So it does not depend on how this node received a log: a transport may
// hand a follower the leader's AppendedAt in another zone (go-msgpack's
// new time format decodes it in UTC), which changes the stored bytes that
// mmaplog.Log.Digest and raftlog stat -digest cover, but not this digest.
// Two nodes holding the same logs over [from, to] have equal digests.
//
// Every log in the range must be held: ErrNotFound (wrapped) otherwise,
// for example after a compaction. It reads and decodes every log; see
// the README, "Comparing replicas", for wiring it into a cluster.
func (s *Store) Digest(from, to uint64) (mmaplog.Digest, error) {
	var d mmaplog.Digest
	if s.closed.Load() {
		return d, errClosed
	}
	if to < from {
		return d, fmt.Errorf("hashiraft: digest [%d, %d]: %w", from, to, mmaplog.ErrNotFound)
	}
	var l raft.Log
	for e, err := range s.log.Entries(from, to+1) {
		if err != nil {
			return mmaplog.Digest{}, fmt.Errorf("hashiraft: digest [%d, %d]: %w", from, to, err)
		}
		if e.ID.Index != from+d.Entries {
			break // Entries skipped a purged range
		}
		if err := decodeLog(e.ID.Index, e.ID.Term, e.Payload, &l); err != nil {
			return mmaplog.Digest{}, err
		}
		d.AddCRC(e.ID, logCRC(&l))
	}
	if d.Entries != to-from+1 {
		return mmaplog.Digest{}, fmt.Errorf("hashiraft: digest [%d, %d]: %w: the log holds %v", from, to, mmaplog.ErrNotFound, d)
	}
	return d, nil
}

// castagnoli is the CRC-32C table of logCRC.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// logCRC is the CRC-32C of a raft.Log's replicated content: type (1
// byte), extensions length (uvarint) and bytes, AppendedAt in Unix
// nanoseconds (8 bytes little-endian, 0 for the zero time), then data.
func logCRC(l *raft.Log) uint32 {
	var b [1 + binary.MaxVarintLen64 + 8]byte
	b[0] = byte(l.Type)
	n := 1 + binary.PutUvarint(b[1:], uint64(len(l.Extensions)))
	crc := crc32.Update(0, castagnoli, b[:n])
	crc = crc32.Update(crc, castagnoli, l.Extensions)
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	binary.LittleEndian.PutUint64(b[:8], uint64(at))
	crc = crc32.Update(crc, castagnoli, b[:8])
	return crc32.Update(crc, castagnoli, l.Data)
}

// Verify re-reads the log's sealed segments from the disk and checks
// them (mmaplog.Log.Verify). To run it in the background instead, set
// mmaplog.Options.Verify in the options given to Open.
func (s *Store) Verify(ctx context.Context, opts mmaplog.VerifyOptions) (mmaplog.VerifyReport, error) {
	if s.closed.Load() {
		return mmaplog.VerifyReport{}, errClosed
	}
	return s.log.Verify(ctx, opts)
}
