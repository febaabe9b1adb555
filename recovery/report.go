package recovery

import (
	"fmt"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/internal/vfs"
)

// Status summarizes what Verify found in a log directory.
type Status int

const (
	// StatusClean: the log was closed cleanly and every check passed.
	StatusClean Status = iota
	// StatusRecoverable: the log was not closed cleanly (a crash or a
	// kill). Every check passed; Open rescans the last segment and
	// rebuilds stale indexes, losing nothing.
	StatusRecoverable
	// StatusTorn: as StatusRecoverable, and Open will cut a torn tail:
	// bytes beyond the durable watermark that do not form valid records,
	// which were never acknowledged (see VerifyReport.Torn and the one
	// ambiguity described there).
	StatusTorn
	// StatusCorrupt: data that was proven durable is damaged, or a trusted
	// index disagrees with its segment (see VerifyReport.Problems). Repair
	// is needed.
	StatusCorrupt
)

func (s Status) String() string {
	switch s {
	case StatusClean:
		return "clean"
	case StatusRecoverable:
		return "recoverable"
	case StatusTorn:
		return "torn-tail"
	case StatusCorrupt:
		return "corrupt"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// ProblemKind says which structure a Problem is in.
type ProblemKind int

const (
	// ProblemSegment: a segment file as a whole — its header, its size,
	// its place in the chain of segments, a segment missing between two
	// others, or entries that no segment holds.
	ProblemSegment ProblemKind = iota + 1
	// ProblemRecord: a record proven durable fails its checksum, its
	// chain or its framing, has a malformed body, or breaks the log's
	// ordering rules on replay.
	ProblemRecord
	// ProblemIndex: an index file that Open trusts disagrees with its
	// segment. No data is lost: Repair rebuilds the index. Until then a
	// lookup through it fails with a CorruptError (it never returns the
	// wrong entry).
	ProblemIndex
	// ProblemVote: a file that an earlier Repair set aside (*.broken)
	// holds a newer vote than the log: the repair did not finish writing
	// it back. Repair does.
	ProblemVote
)

func (k ProblemKind) String() string {
	switch k {
	case ProblemSegment:
		return "segment"
	case ProblemRecord:
		return "record"
	case ProblemIndex:
		return "index"
	case ProblemVote:
		return "vote"
	}
	return fmt.Sprintf("ProblemKind(%d)", int(k))
}

// Problem is one defect found by Verify. Err names the file, the byte
// offset in it and, when known, the log index involved.
type Problem struct {
	Kind ProblemKind
	Err  *CorruptError
}

func (p Problem) String() string { return p.Kind.String() + ": " + p.Err.Error() }

// IndexStatus says what Open does with a segment's index file.
type IndexStatus int

const (
	// IndexTrusted: sealed complete and consistent; Open uses it as is.
	IndexTrusted IndexStatus = iota
	// IndexRebuild: missing, damaged, not sealed (the log was not closed)
	// or inconsistent; Open rebuilds it from the segment.
	IndexRebuild
	// IndexMissing: there is no index file; Open creates it.
	IndexMissing
	// IndexWrong: trusted by Open but a slot or its header disagrees with
	// the segment (a Problem of kind ProblemIndex).
	IndexWrong
	// IndexUnknown: not checked (the segment is damaged or not reached).
	IndexUnknown
)

func (s IndexStatus) String() string {
	switch s {
	case IndexTrusted:
		return "trusted"
	case IndexRebuild:
		return "rebuilt on open"
	case IndexMissing:
		return "missing, rebuilt on open"
	case IndexWrong:
		return "WRONG"
	case IndexUnknown:
		return "not checked"
	}
	return fmt.Sprintf("IndexStatus(%d)", int(s))
}

// SegmentSummary is what Verify found in one segment file: its header
// fields, where its records end, the entries it holds and what Open does
// with its index.
type SegmentSummary struct {
	ID       uint64
	Path     string
	Size     int64  // file size in bytes
	StartPos uint64 // global position of byte 0 (from the header)
	PrevEnd  uint64 // end of the previous segment's records (from the header)
	End      int64  // offset after the last valid record checked
	Records  int    // records checked (0 when not scanned)
	First    uint64 // first entry index this segment holds, 0 when none
	Last     uint64 // last entry index this segment holds, 0 when none
	Index    IndexStatus
	Scanned  bool // the records were read (Verify, or Open's rescan)
}

// Lost describes what lies beyond a cut: the entries found there and the
// range of their indexes. The range is a bound read from every record
// that still checks out beyond the cut; it may include records left behind
// by an earlier torn-tail cut, which were never part of the log.
type Lost struct {
	First, Last uint64 // entry indexes found beyond the cut; First > Last: none
	Entries     int    // entry records found beyond the cut
	Records     int    // records of any type found beyond the cut
	Bytes       int64  // bytes cut (written region only)
	// NewestVote is the highest vote found in any record beyond the cut.
	NewestVote raftstate.Vote
}

// Empty reports whether no entry was found beyond the cut.
func (l Lost) Empty() bool { return l.First > l.Last || l.Entries == 0 }

// Cut is where Repair cuts the log: the first problem in log order.
type Cut struct {
	Problem Problem
	Segment uint64 // ID of the segment where the cut is
	Path    string
	// Offset is the first byte cut in that segment. When the segment's
	// header or State snapshot is damaged (Offset <= 64) the whole segment
	// goes, and so does every later segment.
	Offset int64
	Whole  bool
	// HeaderRebuilt: the segment's header is damaged but was rebuilt
	// exactly (see Verify): Repair writes it back and checks again.
	HeaderRebuilt bool
	header        *format.SegmentHeader // the rebuilt header
	// Resize: the segment file's size is not the one its header records.
	// Repair restores it: a short file is extended with zeros (the missing
	// bytes are gone; what they held is checked again afterwards), a long
	// one is saved to <segment>.broken and shortened.
	Resize bool
	// Size is the file size the segment's header records.
	Size int64
	End  int64 // offset after the last nonzero byte of the cut segment (Resize: the file size)
	// Kept is the log's state after the cut: what Open will recover.
	Kept raftstate.State
	// Lost is what the cut removes.
	Lost Lost

	first uint64 // lowest entry index that exists in Kept (0: Purged.Index+1)
}

// Torn describes the torn tail Open cuts off: bytes after the last valid
// record that nothing proves durable, which were never acknowledged.
type Torn struct {
	Path    string // segment where the cut is
	Offset  int64  // offset of the cut
	Bytes   int64  // nonzero bytes dropped (approximate: aligned words)
	Records int    // checksum-valid records found beyond the cut (never acknowledged)
	Entries int    // of which entries
	Reason  error  // what was found at the cut
}

// VerifyReport is what Verify found in a log directory.
type VerifyReport struct {
	Dir      string
	Status   Status
	Segments []SegmentSummary
	Records  int    // records checked
	Entries  uint64 // live entries (Last.Index - Purged.Index)
	// FirstIndex and LastIndex are the live entry range; both 0 when the
	// log holds no entry.
	FirstIndex, LastIndex uint64
	// State is what Open recovers; when Open would fail, the state up to
	// the first problem (what Repair keeps, as in Cut.Kept).
	State raftstate.State
	// Durable is the global position proven durable by the log's records.
	Durable uint64
	// Torn describes the torn tail Open will cut (nil: none). When the
	// damaged bytes are the last batch that was flushed and nothing
	// durable was written after it, a torn tail and damage to acknowledged
	// data look the same; Open treats them as a torn tail.
	Torn *Torn
	// Problems lists every defect found, in log order. Empty unless
	// Status is StatusCorrupt.
	Problems []Problem
	// OpenErr is what Open returns for this directory (nil: Open works).
	OpenErr *CorruptError
	// Cut is where Repair cuts the log (nil: nothing to cut; index
	// problems alone are fixed by rebuilding the index).
	Cut *Cut
	// Leftovers are crash leftovers Open deletes: files of a segment that
	// was never completely created, temporary files, orphan index files.
	Leftovers []string
	// Quick: only what Open reads was checked (see ScanOptions.Quick).
	Quick bool
	// BrokenVote is the newest vote found in the files earlier repairs set
	// aside (*.broken); zero when there are none.
	BrokenVote raftstate.Vote
}

// Err returns the first problem as a *CorruptError
// (mmaplog.CorruptError), or nil when Status is not StatusCorrupt.
func (r *VerifyReport) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	return r.Problems[0].Err
}

// ScanOptions tunes Verify and Repair for tools.
type ScanOptions struct {
	// Quick checks only what Open reads: the segment headers, trusted
	// index headers and the records after the last trusted point. A
	// cleanly closed log is not read at all. Records, index slots and the
	// cut point of a corrupt log are not checked.
	Quick bool
	// Progress, when set, is called with the bytes checked so far and the
	// total, after each segment.
	Progress func(done, total int64)
	// FS is the file-system seam the tool reads (and Repair writes)
	// through. Its type is internal to this module, so only the module's
	// own tests set it (to the crash simulator, internal/crashfs); leave it
	// nil for the operating system's files.
	FS vfs.FS
}

// fileSystems returns what a tool writes through and what it reads
// through: opts.FS for both when set, else the operating system's files
// (read through a read-only view).
func (o ScanOptions) fileSystems() (rw, ro vfs.FS) {
	if o.FS != nil {
		return o.FS, o.FS
	}
	return vfs.OS, readOnly
}
