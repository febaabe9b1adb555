package vfs

import "errors"

// ErrLocked is returned by FS.Lock when the lock is held elsewhere.
var ErrLocked = errors.New("mmaplog: directory locked")
