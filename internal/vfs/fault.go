package vfs

import (
	"fmt"
	"runtime/debug"
)

// CatchFault turns a fault on mapped memory (SIGBUS when a mapped file
// shrank under its mapping or its disk failed) into an error wrapping
// kind, and restores the panic-on-fault setting old. It must be the
// deferred call itself, so that its recover sees the fault:
//
//	defer vfs.CatchFault(debug.SetPanicOnFault(true), &err, ErrFailed)
//
// Panics that are not memory faults are re-raised.
func CatchFault(old bool, err *error, kind error) {
	r := recover()
	debug.SetPanicOnFault(old)
	if r != nil {
		*err = FaultError(r, kind)
	}
}

// FaultError is CatchFault for a deferred function that must do more
// (release a lock) and so calls recover itself: r is what recover
// returned, not nil. A memory fault becomes an error wrapping kind; any
// other panic is re-raised.
func FaultError(r any, kind error) error {
	if fe, ok := r.(interface{ Addr() uintptr }); ok {
		return fmt.Errorf("%w: memory fault on a mapped file at %#x: %v", kind, fe.Addr(), r)
	}
	panic(r)
}

// GuardFault runs f with memory faults on mappings turned into errors
// wrapping kind (see CatchFault).
func GuardFault(kind error, f func() error) (err error) {
	defer CatchFault(debug.SetPanicOnFault(true), &err, kind)
	return f()
}
