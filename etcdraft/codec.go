package etcdraft

import (
	"bytes"
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/raftlog/raftlog/mmaplog"
)

// Entry payload: one tag byte, then Data as is. The entry's Term and Index
// are the mmaplog LogID, so they are not repeated.
//
//	bit 7     Type is set (proto presence: a nil Type and EntryNormal differ)
//	bit 6     Data is non-nil (nil and empty Data differ under proto.Equal)
//	bits 0-5  the EntryType value (0 when Type is not set)
//
// These bits are part of the on-disk format and must not change.
const (
	tagType     = 0x80
	tagData     = 0x40
	tagTypeMask = 0x3f
)

// putEntry appends e's payload to b.
func putEntry(b []byte, e *pb.Entry) ([]byte, error) {
	var tag byte
	if e.Type != nil {
		t := *e.Type
		if t < 0 || t > tagTypeMask {
			return b, fmt.Errorf("%w: entry %d has type %d (storable: 0 to %d)", ErrInvalidEntries, e.GetIndex(), t, tagTypeMask)
		}
		tag = tagType | byte(t)
	}
	if e.Data != nil {
		tag |= tagData
	}
	b = append(b, tag)
	return append(b, e.Data...), nil
}

// entryBox holds one decoded entry and the scalars its pointer fields point
// to, so that decoding costs one allocation per batch of boxes.
type entryBox struct {
	e           pb.Entry
	term, index uint64
	typ         pb.EntryType
}

// decodeEntry fills box from a stored entry. Data aliases the payload,
// which mmaplog returned as a copy owned by the caller.
func decodeEntry(box *entryBox, e mmaplog.Entry) error {
	p := e.Payload
	if len(p) == 0 {
		return fmt.Errorf("etcdraft: entry %d: empty payload (no tag byte): %w", e.ID.Index, errCorrupt)
	}
	tag := p[0]
	if tag&tagType == 0 && tag&tagTypeMask != 0 {
		return fmt.Errorf("etcdraft: entry %d: tag %#x has a type value without the type bit: %w", e.ID.Index, tag, errCorrupt)
	}
	if tag&tagData == 0 && len(p) > 1 {
		return fmt.Errorf("etcdraft: entry %d: tag %#x says no data but %d bytes follow: %w", e.ID.Index, tag, len(p)-1, errCorrupt)
	}
	box.term, box.index = e.ID.Term, e.ID.Index
	box.e.Term, box.e.Index = &box.term, &box.index
	if tag&tagType != 0 {
		box.typ = pb.EntryType(tag & tagTypeMask)
		box.e.Type = &box.typ
	}
	if tag&tagData != 0 {
		box.e.Data = p[1:len(p):len(p)]
	}
	return nil
}

// entrySize is proto.Size(e) for an entry whose Term and Index are set,
// without proto's reflection (Entries calls it once per entry read).
func entrySize(e *pb.Entry) uint64 {
	n := 2 + protowire.SizeVarint(e.GetTerm()) + protowire.SizeVarint(e.GetIndex())
	if e.Type != nil {
		n += 1 + protowire.SizeVarint(uint64(int64(*e.Type)))
	}
	if e.Data != nil {
		n += 1 + protowire.SizeBytes(len(e.Data))
	}
	return uint64(n)
}

// User data: the snapshot the Storage serves, written whole by
// ApplySnapshot and CreateSnapshot.
//
//	offset  size  field
//	0       8     magic "etcdraft"
//	8       1     version, 1
//	9       1     flags: bit 0 "restore" (written by ApplySnapshot: the log
//	              must be empty at the snapshot's (Index, Term); Open
//	              finishes the job when a crash interrupted it)
//	10      n     the pb.Snapshot (Metadata and Data), protobuf-encoded
//
// The layout is part of the on-disk format and must not change.
const (
	metaMagic   = "etcdraft"
	metaVersion = 1
	metaRestore = 1 << 0
	metaHead    = len(metaMagic) + 2
)

// encodeMeta returns the user data blob for snap.
func encodeMeta(snap *pb.Snapshot, restore bool) ([]byte, error) {
	b := make([]byte, metaHead, metaHead+proto.Size(snap))
	copy(b, metaMagic)
	b[8] = metaVersion
	if restore {
		b[9] = metaRestore
	}
	b, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(b, snap)
	if err != nil {
		return nil, fmt.Errorf("etcdraft: encode snapshot %d: %w", snap.GetMetadata().GetIndex(), err)
	}
	return b, nil
}

// decodeMeta parses a user data blob. An empty blob is a Storage that
// never had a snapshot.
func decodeMeta(b []byte) (snap *pb.Snapshot, restore bool, err error) {
	if len(b) == 0 {
		return pb.EnsureSnapshot(nil), false, nil
	}
	if len(b) < metaHead || !bytes.Equal(b[:len(metaMagic)], []byte(metaMagic)) {
		return nil, false, ErrForeignData
	}
	if b[8] != metaVersion {
		return nil, false, fmt.Errorf("etcdraft: user data version %d (this package reads %d): %w", b[8], metaVersion, ErrForeignData)
	}
	if b[9]&^metaRestore != 0 {
		return nil, false, fmt.Errorf("etcdraft: user data flags %#x: unknown bits: %w", b[9], errCorrupt)
	}
	snap = &pb.Snapshot{}
	if err := proto.Unmarshal(b[metaHead:], snap); err != nil {
		return nil, false, fmt.Errorf("etcdraft: user data snapshot: %w: %w", errCorrupt, err)
	}
	if snap.Metadata == nil || snap.Metadata.Index == nil || snap.Metadata.Term == nil {
		return nil, false, fmt.Errorf("etcdraft: user data snapshot has no index or term: %w", errCorrupt)
	}
	if snap.Metadata.ConfState == nil {
		snap.Metadata.ConfState = &pb.ConfState{}
	}
	return snap, b[9]&metaRestore != 0, nil
}
