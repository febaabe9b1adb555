package main

import (
	"fmt"
	"os"
	"time"

	"github.com/raftlog/raftlog/mmaplog"
)

func main() {
	dir := os.Args[1]
	if len(os.Args) > 2 && os.Args[2] == "fill" {
		l, err := mmaplog.Open(dir, mmaplog.Options{})
		if err != nil {
			panic(err)
		}
		p := make([]byte, 1024)
		b := make([]mmaplog.Entry, 256)
		idx := uint64(1)
		for idx < 5_000_000 {
			for j := range b {
				b[j] = mmaplog.Entry{ID: mmaplog.LogID{Term: 1, Index: idx}, Payload: p}
				idx++
			}
			if err := l.Append(b...); err != nil {
				panic(err)
			}
		}
		if err := l.Close(); err != nil {
			panic(err)
		}
		return
	}
	os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0)
	t0 := time.Now()
	l, err := mmaplog.Open(dir, mmaplog.Options{})
	if err != nil {
		panic(err)
	}
	d := time.Since(t0)
	l.Close()
	fmt.Println(d)
}
