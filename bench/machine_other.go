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
