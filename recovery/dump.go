package recovery

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
)

// DumpSegment writes one line for the segment and one per record of data
// (a whole segment file, or its written prefix), in order, following the
// record chain:
//
//	segment 1 00000000000000000001.seg start=0 prevEnd=0 size=65536
//	  R-00000 [64, 168) State(vote: 0:0, last: none, committed: none, purged: none, user_data: none)
//	  R-00001 [168, 200) Entry(1-1, 8 bytes)
//
// Where the records stop before the end of data it writes the reason
// ("  end at 200: unwritten" or the damage found) and returns nil; it
// returns only write errors and a bad segment header.
func DumpSegment(w io.Writer, path string, data []byte) error {
	h, seed, err := format.ReadSegmentHeader(data)
	if err != nil {
		return format.Corruptf(path, 0, 0, "%v", err)
	}
	if _, err := fmt.Fprintf(w, "segment %d %s start=%d prevEnd=%d size=%d\n", h.ID, filepath.Base(path), h.StartPos, h.PrevEnd, h.FileSize); err != nil {
		return err
	}
	c := format.NewChain(data, format.SegmentHeaderSize, seed)
	for n := 0; c.End() < int64(len(data)); n++ {
		r, off, ok := c.Next()
		if !ok {
			if errors.Is(c.Err(), format.ErrUnwritten) {
				_, err = fmt.Fprintf(w, "  end at %d\n", off)
			} else {
				_, err = fmt.Fprintf(w, "  stop at %d: %v\n", off, c.Err())
			}
			return err
		}
		if _, err := fmt.Fprintf(w, "  R-%05d [%d, %d) %s\n", n, off, off+r.Size, decodeRecord(r)); err != nil {
			return err
		}
	}
	return nil
}

// DescribeState formats a state for dumps and tools.
func DescribeState(st *raftstate.State) string {
	return fmt.Sprintf("vote: %v, last: %v, committed: %v, purged: %v, user_data: %s",
		st.Vote, st.Last, st.Committed, st.Purged, describeUserData(st.UserData))
}

func describeUserData(ud []byte) string {
	if ud == nil {
		return "none"
	}
	return fmt.Sprintf("%d bytes", len(ud))
}
