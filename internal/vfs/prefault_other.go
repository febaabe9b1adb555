//go:build unix && !linux

package vfs

// Advise is a no-op where madvise hints are not used.
func (o *osFile) Advise(bool) error { return nil }

// Prefault is a no-op where MADV_POPULATE_* do not exist.
func (o *osFile) Prefault(int64, int64, bool) error { return nil }

// WillNeed is a no-op where madvise hints are not used.
func (o *osFile) WillNeed(int64, int64) error { return nil }

// StartWriteback reports ErrNoWriteBehind where sync_file_range does not
// exist.
func (o *osFile) StartWriteback(int64, int64) error { return ErrNoWriteBehind }

// unmapBeforeWriteback is a no-op where madvise hints are not used.
func (o *osFile) unmapBeforeWriteback(int64, int64) error { return nil }
