package recovery

import (
	"fmt"
	"io/fs"
	"runtime/debug"
)

var errNotExist = fs.ErrNotExist

// guardFault runs f with faults on mapped memory turned into errors
// (SIGBUS when a mapped file shrank or its disk failed).
func guardFault(f func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			if fe, ok := r.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("mmaplog: memory fault reading a mapped file at %#x: %v", fe.Addr(), r)
				return
			}
			panic(r)
		}
	}()
	return f()
}
