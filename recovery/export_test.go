package recovery

import "github.com/raftlog/raftlog/internal/vfs"

// RepairFS is Repair through fs (the crash simulator in tests).
func RepairFS(fs vfs.FS, dir string) (*RepairReport, error) {
	return repair(fs, fs, dir, ScanOptions{})
}
