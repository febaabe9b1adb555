//go:build !linux

package hashiraft_test

// diskCounters are a block device's request counters; only Linux has them.
type diskCounters struct {
	writes, sectors, flushes, busyMs int64
}

func readDiskCounters(string) (diskCounters, bool) { return diskCounters{}, false }
