//go:build !linux

package bench

import "errors"

// FileSystem is only implemented on Linux.
func FileSystem(string) (name string, memoryBacked bool) { return "unknown", false }

func kernelAndMemory() (string, int64) { return "unknown", 0 }

// runLimit is only implemented on Linux.
func runLimit(*runner, *Driver) ([]Result, error) {
	return nil, errors.New("bench: the limit workload needs Linux")
}

func syncFS(string) {}

func freeBytes(string) (int64, error) { return 0, errors.New("bench: free space needs Linux") }

func diskUsage(string) int64 { return 0 }

func coldCache(CacheMode, string) (string, error) {
	return "", errors.New("bench: a cold reopen needs Linux")
}

func majorFaults() int64 { return 0 }

func diskReads() int64 { return -1 }

func hugeMapped(string) (rss, huge int64) { return 0, 0 }

func diskW1Participants() []diskParticipant { return nil }
