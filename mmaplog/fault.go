package mmaplog

import (
	"fmt"
	"runtime/debug"

	"github.com/raftlog/raftlog/internal/vfs"
)

func init() {
	vfs.WithFS = func(opts any, fs vfs.FS) any {
		o := opts.(Options)
		o.fs = fs
		return o
	}
}

// faultGuard turns a fault on mapped memory (SIGBUS, e.g. after a disk
// error under a mapping) into an error. Use as:
//
//	defer faultGuard(debug.SetPanicOnFault(true), &err)
func faultGuard(old bool, err *error) {
	r := recover()
	debug.SetPanicOnFault(old)
	if r == nil {
		return
	}
	if fe, ok := r.(interface{ Addr() uintptr }); ok {
		*err = fmt.Errorf("%w: memory fault on a mapped file at %#x: %v", ErrFailed, fe.Addr(), r)
		return
	}
	panic(r)
}
