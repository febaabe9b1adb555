package main

import (
	"fmt"
	"io"
	"log"
	"sync/atomic"

	"go.etcd.io/raft/v3"
)

type atomicCounter struct{ n atomic.Uint64 }

func (c *atomicCounter) next() uint64 { return c.n.Add(1) }

// discardLogger silences raft; a Fatal panics with its message instead
// of exiting the process.
type discardLogger struct{ *raft.DefaultLogger }

func newDiscardLogger() discardLogger {
	return discardLogger{&raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}}
}
func (discardLogger) Fatal(v ...any)            { panic(fmt.Sprint(v...)) }
func (discardLogger) Fatalf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }
