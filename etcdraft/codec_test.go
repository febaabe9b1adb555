package etcdraft

import (
	"errors"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlog/raftlog/mmaplog"
)

func TestEntryRoundTrip(t *testing.T) {
	big := make([]byte, 300)
	for k := range big {
		big[k] = byte(k)
	}
	cases := []*pb.Entry{
		{Index: new(uint64(1)), Term: new(uint64(1))},
		{Index: new(uint64(1)), Term: new(uint64(1)), Data: []byte{}},
		{Index: new(uint64(2)), Term: new(uint64(7)), Data: []byte("x")},
		{Index: new(uint64(300)), Term: new(uint64(1 << 40)), Type: pb.EntryNormal.Enum()},
		{Index: new(uint64(4)), Term: new(uint64(9)), Type: pb.EntryConfChange.Enum(), Data: big},
		{Index: new(uint64(1 << 62)), Term: new(uint64(3)), Type: pb.EntryConfChangeV2.Enum(), Data: []byte{0}},
		{Index: new(uint64(5)), Term: new(uint64(3)), Type: pb.EntryType(63).Enum(), Data: []byte{}},
	}
	for _, want := range cases {
		p, err := putEntry(nil, want)
		if err != nil {
			t.Fatalf("putEntry(%v): %v", want, err)
		}
		var box entryBox
		if err := decodeEntry(&box, mmaplog.Entry{ID: mmaplog.LogID{Term: want.GetTerm(), Index: want.GetIndex()}, Payload: p}); err != nil {
			t.Fatalf("decodeEntry(%v): %v", want, err)
		}
		if !proto.Equal(&box.e, want) {
			t.Errorf("round trip of %v gave %v", want, &box.e)
		}
		if got, want := entrySize(&box.e), uint64(proto.Size(want)); got != want {
			t.Errorf("entrySize(%v) = %d, proto.Size %d", &box.e, got, want)
		}
	}
}

func TestEntryTypeOutOfRange(t *testing.T) {
	for _, typ := range []pb.EntryType{64, -1} {
		_, err := putEntry(nil, &pb.Entry{Index: new(uint64(1)), Term: new(uint64(1)), Type: typ.Enum()})
		if !errors.Is(err, ErrInvalidEntries) {
			t.Errorf("type %d: %v, want ErrInvalidEntries", typ, err)
		}
	}
}

func TestEntryCorruptPayload(t *testing.T) {
	for _, p := range [][]byte{
		{},               // no tag
		{0x01},           // a type value without the type bit
		{0x00, 'x'},      // bytes after a tag that says no data
		{tagType | 2, 0}, // the same with a type
	} {
		var box entryBox
		err := decodeEntry(&box, mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: 1}, Payload: p})
		if !errors.Is(err, mmaplog.ErrCorrupt) {
			t.Errorf("payload %x: %v, want ErrCorrupt", p, err)
		}
	}
}

func TestMetaRoundTrip(t *testing.T) {
	snap := &pb.Snapshot{Data: []byte("state"), Metadata: &pb.SnapshotMetadata{
		Index: new(uint64(9)), Term: new(uint64(2)),
		ConfState: &pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}, VotersOutgoing: []uint64{1}, AutoLeave: new(true)}}}
	for _, restore := range []bool{false, true} {
		b, err := encodeMeta(snap, restore)
		if err != nil {
			t.Fatal(err)
		}
		got, gotRestore, err := decodeMeta(b)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, snap) || gotRestore != restore {
			t.Errorf("round trip (restore %v) gave %v, %v", restore, got, gotRestore)
		}
	}
}

func TestMetaRejected(t *testing.T) {
	good, err := encodeMeta(pb.EnsureSnapshot(nil), false)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"foreign", []byte("raft-boltdb keys"), ErrForeignData},
		{"short", []byte("etcd"), ErrForeignData},
		{"version", edit(func(b []byte) []byte { b[8] = 2; return b }), ErrForeignData},
		{"flags", edit(func(b []byte) []byte { b[9] = 0x80; return b }), mmaplog.ErrCorrupt},
		{"protobuf", edit(func(b []byte) []byte { return append(b, 0xff) }), mmaplog.ErrCorrupt},
		{"no index", []byte(metaMagic + "\x01\x00"), mmaplog.ErrCorrupt},
	}
	for _, c := range cases {
		if _, _, err := decodeMeta(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
