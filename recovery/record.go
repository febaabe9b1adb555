package recovery

import (
	"fmt"
	"strings"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
)

// RecordKind names a record type on disk (docs/FORMAT.md, "Record bodies").
type RecordKind string

// Record kinds.
const (
	KindState    RecordKind = "State"
	KindEntry    RecordKind = "Entry"
	KindVote     RecordKind = "Vote"
	KindCommit   RecordKind = "Commit"
	KindTruncate RecordKind = "Truncate"
	KindPurge    RecordKind = "Purge"
	KindUserData RecordKind = "UserData"
)

// Record is one record as Walk shows it, decoded. Only the fields of its
// Kind are set.
type Record struct {
	Kind    RecordKind
	Size    int64  // bytes on disk: frame, body and padding
	Durable uint64 // the durable watermark it carries (docs/FORMAT.md)
	CRC     uint32 // its checksum, the chain value after it

	Entry   raftstate.LogID  // Entry: its ID
	Payload []byte           // Entry: the payload; UserData: the blob. Aliases the read-only mapping: valid during the Walk callback only
	Vote    raftstate.Vote   // Vote
	ID      raftstate.LogID  // Commit, Purge: the LogID committed or purged through
	First   uint64           // Truncate: the first index removed
	Last    raftstate.LogID  // Truncate: the new Last
	State   *raftstate.State // State: the snapshot (its UserData is a copy)
	Cleared bool             // UserData: the blob was cleared (nil)
	// Err is set when the body does not decode although its checksum
	// matched (a record of another format, or a bug); the kind's fields
	// are then unset.
	Err error
}

// String describes the record for dumps, e.g. "Entry(1-7, 12 bytes)".
func (r Record) String() string {
	if r.Err != nil {
		return fmt.Sprintf("%s(malformed body: %v)", r.Kind, r.Err)
	}
	switch r.Kind {
	case KindEntry:
		return fmt.Sprintf("Entry(%v, %d bytes)", r.Entry, len(r.Payload))
	case KindState:
		return "State(" + DescribeState(r.State) + ")"
	case KindVote:
		return fmt.Sprintf("Vote(%v)", r.Vote)
	case KindCommit:
		return fmt.Sprintf("Commit(%v)", r.ID)
	case KindPurge:
		return fmt.Sprintf("Purge(%v)", r.ID)
	case KindTruncate:
		return fmt.Sprintf("Truncate(from: %d, last: %v)", r.First, r.Last)
	case KindUserData:
		if r.Cleared {
			return "UserData(none)"
		}
		return fmt.Sprintf("UserData(%d bytes)", len(r.Payload))
	}
	return string(r.Kind)
}

// decodeRecord is the public view of a record read from disk.
func decodeRecord(r format.Record) Record {
	out := Record{Kind: RecordKind(r.Type.String()), Size: r.Size, Durable: r.Durable, CRC: r.CRC}
	var err error
	switch r.Type {
	case format.TypeEntry:
		if out.Entry, err = format.EntryID(r.Body); err == nil {
			out.Payload = r.Body[format.EntryHeadSize:]
		}
	case format.TypeState:
		var st raftstate.State
		if st, err = format.State(r.Body); err == nil {
			out.State = &st
		}
	case format.TypeVote:
		out.Vote, err = format.Vote(r.Body)
	case format.TypeCommit, format.TypePurge:
		out.ID, err = format.LogID(r.Body)
	case format.TypeTruncate:
		out.First, out.Last, err = format.Truncate(r.Body)
	case format.TypeUserData:
		out.Payload, err = format.UserData(r.Body)
		out.Cleared = err == nil && out.Payload == nil
	}
	if err != nil {
		out = Record{Kind: out.Kind, Size: out.Size, Durable: out.Durable, CRC: out.CRC, Err: err}
	}
	return out
}

// ErrUnwritten is WalkItem.Stop at the ordinary end of a segment's
// records: zeros, never written.
var ErrUnwritten = format.ErrUnwritten

// FileKind says what a name in a log directory is (docs/FORMAT.md,
// "Directory").
type FileKind int

// File kinds.
const (
	FileOther   FileKind = iota // not raftlog's
	FileSegment                 // NNNNNNNNNNNNNNNNNNNN.seg
	FileIndex                   // NNNNNNNNNNNNNNNNNNNN.idx
	FileLock                    // LOCK
	FileTemp                    // *.tmp: being prepared; Open deletes it
	FileBroken                  // <segment>.broken[.N]: bytes Repair set aside
)

// LockName is the name of the directory's lock file.
const LockName = format.LockName

// ClassifyName says what the file name (no directory) is in a log
// directory.
func ClassifyName(name string) FileKind {
	if strings.HasSuffix(name, format.TempSuffix) {
		return FileTemp
	}
	if _, ok := format.ParseSegmentName(name); ok {
		return FileSegment
	}
	if num, ok := strings.CutSuffix(name, format.IndexSuffix); ok {
		if _, ok := format.ParseSegmentName(num + format.SegmentSuffix); ok {
			return FileIndex
		}
	}
	if seg, _, ok := strings.Cut(name, BrokenSuffix); ok {
		if _, ok := format.ParseSegmentName(seg); ok {
			return FileBroken
		}
	}
	if name == format.LockName {
		return FileLock
	}
	return FileOther
}
