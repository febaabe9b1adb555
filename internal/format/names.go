package format

import (
	"fmt"
	"strconv"
	"strings"
)

// File names in a log directory. Segment and index files are named by the
// segment ID in 20 decimal digits so that names sort in ID order.
const (
	LockName      = "LOCK"
	SegmentSuffix = ".seg"
	IndexSuffix   = ".idx"
	// TempSuffix marks files being prepared; Open deletes leftovers.
	TempSuffix = ".tmp"
)

// SegmentName is the file name of segment id.
func SegmentName(id uint64) string { return fmt.Sprintf("%020d%s", id, SegmentSuffix) }

// IndexName is the file name of segment id's index.
func IndexName(id uint64) string { return fmt.Sprintf("%020d%s", id, IndexSuffix) }

// ParseSegmentName returns the ID of a segment file name.
func ParseSegmentName(name string) (uint64, bool) {
	num, ok := strings.CutSuffix(name, SegmentSuffix)
	if !ok || len(num) != 20 {
		return 0, false
	}
	id, err := strconv.ParseUint(num, 10, 64)
	return id, err == nil && id > 0
}
