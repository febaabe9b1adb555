package format

import (
	"errors"
	"fmt"
)

// ErrCorrupt matches every *CorruptError.
var ErrCorrupt = errors.New("mmaplog: corrupt")

// CorruptError reports damaged durable data: which file, where, and why.
// It matches ErrCorrupt with errors.Is.
type CorruptError struct {
	Path   string
	Offset int64
	Index  uint64 // the log index involved, 0 when unknown
	Reason string
}

func (e *CorruptError) Error() string {
	if e.Index != 0 {
		return fmt.Sprintf("mmaplog: corrupt: %s at offset %d (entry %d): %s", e.Path, e.Offset, e.Index, e.Reason)
	}
	return fmt.Sprintf("mmaplog: corrupt: %s at offset %d: %s", e.Path, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Corruptf builds a *CorruptError.
func Corruptf(path string, off int64, idx uint64, format string, args ...any) *CorruptError {
	return &CorruptError{Path: path, Offset: off, Index: idx, Reason: fmt.Sprintf(format, args...)}
}
