package mmaplog

import "github.com/raftlog/raftlog/internal/vfs"

func init() {
	vfs.WithFS = func(opts any, fs vfs.FS) any {
		o := opts.(Options)
		o.fs = fs
		return o
	}
}
