package vfs

import "errors"

// ErrLocked is returned by FS.Lock when the lock is held elsewhere.
var ErrLocked = errors.New("mmaplog: directory locked")

// ErrNoReuse is returned by FS.Reuse when the file cannot be zeroed in
// place (a file system without ZERO_RANGE, or a file of another size).
var ErrNoReuse = errors.New("mmaplog: file cannot be reused")

// ErrNoWriteBehind is returned by WriteBehinder.StartWriteback when the
// file system cannot start a write-back of a range (no sync_file_range).
var ErrNoWriteBehind = errors.New("mmaplog: file cannot be written behind")
